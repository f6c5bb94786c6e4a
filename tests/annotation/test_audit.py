"""The audit log: role changes, removed members, settings changes, imports, exports and
deletion are recorded by their services, whichever way in (API, page, worker); admins read
and export it; it outlives the project; refused changes leave no event."""

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation import imports
from annotation.models import AuditEvent, ImportJob, Item, Membership, Project
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _events(project_id: int) -> list[tuple]:
    rows = AuditEvent.objects.filter(project_id=project_id).order_by("id")
    return [(event.actor_name, event.action, event.details) for event in rows]


def test_member_changes_through_the_api_are_recorded_with_who_did_them(project, admin, annotator):
    api = _api(admin)
    base = f"/api/v1/projects/{project.id}/members/"
    api.post(base, {"username": annotator.username, "role": "reviewer"}, format="json")
    api.post(base, {"username": annotator.username, "role": "reviewer"}, format="json")  # no-op
    assert api.delete(f"{base}{annotator.id}/").status_code == 204
    assert _events(project.id) == [
        (
            "alice-admin",
            "member.role_changed",
            {"user": annotator.username, "from": "annotator", "to": "reviewer"},
        ),
        ("alice-admin", "member.removed", {"user": annotator.username, "role": "reviewer"}),
    ]


def test_adding_a_member_is_recorded(project, admin):
    colleague = UserFactory(username="colleague")
    shared = MembershipFactory(user=admin).project
    MembershipFactory(project=shared, user=colleague)
    body = {"username": "colleague", "role": "annotator"}
    assert _api(admin).post(f"/api/v1/projects/{project.id}/members/", body, format="json")
    assert _events(project.id) == [
        ("alice-admin", "member.added", {"user": "colleague", "role": "annotator"})
    ]


def test_a_settings_change_records_each_setting_before_and_after(project, admin):
    body = {"overlap": 2, "name": project.name, "labels": ["pos", "neg", "neutral", "mixed"]}
    assert (
        _api(admin).patch(f"/api/v1/projects/{project.id}/", body, format="json").status_code == 200
    )
    [(actor, action, details)] = _events(project.id)
    assert (actor, action) == ("alice-admin", "project.updated")
    assert details["changes"]["overlap"] == [1, 2]
    assert "name" not in details["changes"]  # unchanged
    old, new = details["changes"]["labels"]
    assert [line.split("|")[0] for line in new] == ["pos", "neg", "neutral", "mixed"]
    assert len(old) == 3


def test_the_settings_page_and_its_member_forms_record_through_the_same_services(
    client, project, admin, annotator
):
    client.force_login(admin)
    url = f"/projects/{project.id}/settings/"
    form = {
        "action": "settings",
        "name": "Renamed",
        "task_type": "single_label",
        "overlap": 1,
        "labels": "pos\nneg\nneutral",
    }
    assert client.post(url, form).status_code == 302
    client.post(url, {"action": "member", "username": annotator.username, "role": "admin"})
    client.post(url, {"action": "remove", "user_id": annotator.id})
    assert [(actor, action) for actor, action, _ in _events(project.id)] == [
        ("alice-admin", "project.updated"),
        ("alice-admin", "member.role_changed"),
        ("alice-admin", "member.removed"),
    ]
    assert _events(project.id)[0][2]["changes"]["name"][1] == "Renamed"


def test_refused_changes_leave_no_event(project, admin):
    api = _api(admin)
    assert api.delete(f"/api/v1/projects/{project.id}/members/{admin.id}/").status_code == 409
    assert (
        api.patch(f"/api/v1/projects/{project.id}/", {"overlap": 0}, format="json").status_code
        == 400
    )
    assert _events(project.id) == []


def test_imports_and_exports_are_recorded(project, admin):
    api = _api(admin)
    imported = api.post(
        f"/api/v1/projects/{project.id}/items/import/",
        data=b'{"text": "one"}\n{"text": "two"}\n',
        content_type="application/x-ndjson",
    )
    assert imported.status_code == 201
    b"".join(api.get(f"/api/v1/projects/{project.id}/export/?format=csv").streaming_content)
    assert _events(project.id) == [
        (
            "alice-admin",
            "items.imported",
            {
                "format": "jsonl",
                "on_duplicate": "reject",
                "created": 2,
                "updated": 0,
                "skipped": 0,
                "answers": 0,
            },
        ),
        ("alice-admin", "project.exported", {"format": "csv"}),
    ]


def test_marking_changing_and_removing_gold_is_recorded_with_the_labels_before(
    client, project, admin
):
    item = Item.objects.create(project=project, data={"text": "known"})
    api = _api(admin)
    assert api.post(f"/api/v1/items/{item.id}/gold/", {"labels": ["pos"]}, format="json")
    api.post(f"/api/v1/items/{item.id}/gold/", {"labels": ["pos"]}, format="json")  # no change
    client.force_login(admin)
    page = f"/projects/{project.id}/items/{item.id}/"
    assert client.post(page, {"action": "gold", "labels": ["neg"]}).status_code == 302
    assert api.delete(f"/api/v1/items/{item.id}/gold/").status_code == 200
    api.delete(f"/api/v1/items/{item.id}/gold/")  # not gold: nothing to record
    assert _events(project.id) == [
        ("alice-admin", "item.gold_marked", {"item": item.id, "from": None, "to": ["pos"]}),
        ("alice-admin", "item.gold_marked", {"item": item.id, "from": ["pos"], "to": ["neg"]}),
        ("alice-admin", "item.gold_unmarked", {"item": item.id, "from": ["neg"]}),
    ]


def test_a_rejected_import_records_nothing(project, admin):
    response = _api(admin).post(
        f"/api/v1/projects/{project.id}/items/import/",
        data=b'{"text": "one"}\n{"no_text": 1}\n',
        content_type="application/x-ndjson",
    )
    assert response.status_code == 400
    assert _events(project.id) == []


def test_an_import_job_records_who_queued_it_and_how_it_ended(project, admin):
    response = _api(admin).post(
        f"/api/v1/projects/{project.id}/items/import/?async=true",
        data=b'{"text": "one"}\n',
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    imports.run_import_job(job_id=job_id)  # what the worker runs
    assert ImportJob.objects.get(id=job_id).status == "succeeded"
    (queued, finished) = _events(project.id)
    assert queued[:2] == ("alice-admin", "import.queued")
    assert queued[2]["job"] == job_id and queued[2]["format"] == "jsonl"
    assert finished == (
        "alice-admin",
        "import.finished",
        {
            "job": job_id,
            "status": "succeeded",
            "on_duplicate": "reject",
            "created": 1,
            "updated": 0,
            "skipped": 0,
            "answers": 0,
        },
    )


def test_a_failed_import_job_is_recorded_as_failed(project, admin):
    job = imports.queue_import(
        project=project, raw=b'{"no_text": 1}\n', file_format="jsonl", user=admin
    )
    imports.run_import_job(job_id=job.id)
    assert _events(project.id)[-1] == (
        "alice-admin",
        "import.finished",
        {
            "job": job.id,
            "status": "failed",
            "on_duplicate": "reject",
            "created": 0,
            "updated": 0,
            "skipped": 0,
            "answers": 0,
        },
    )


def test_the_log_outlives_the_deleted_project_and_staff_still_see_it(client, project, admin):
    project_id, name = project.id, project.name
    _api(admin).patch(f"/api/v1/projects/{project_id}/", {"overlap": 3}, format="json")
    assert _api(admin).delete(f"/api/v1/projects/{project_id}/").status_code == 204
    assert not Project.objects.filter(id=project_id).exists()
    assert [action for _, action, _ in _events(project_id)] == [
        "project.updated",
        "project.deleted",
    ]
    assert set(AuditEvent.objects.values_list("project_name", flat=True)) == {name}
    staff = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(staff)
    page = client.get(f"/admin/annotation/auditevent/?q={project_id}")
    assert page.status_code == 200 and "project.deleted" in page.content.decode()


def test_creating_a_project_opens_its_log(admin):
    response = _api(admin).post("/api/v1/projects/", {"name": "P", "labels": ["a"]}, format="json")
    assert _events(response.json()["id"]) == [("alice-admin", "project.created", {})]


def test_admins_read_the_log_newest_first(project, admin):
    api = _api(admin)
    for overlap in (2, 3):
        api.patch(f"/api/v1/projects/{project.id}/", {"overlap": overlap}, format="json")
    body = api.get(f"/api/v1/projects/{project.id}/audit/").json()
    assert body["count"] == 2
    assert [event["details"]["changes"]["overlap"] for event in body["results"]] == [[2, 3], [1, 2]]
    assert set(body["results"][0]) == {
        "id",
        "at",
        "project_id",
        "project",
        "actor",
        "action",
        "details",
    }


def test_the_log_page_shows_the_events_in_words(client, project, admin):
    _api(admin).patch(f"/api/v1/projects/{project.id}/", {"overlap": 2}, format="json")
    client.force_login(admin)
    page = client.get(f"/projects/{project.id}/audit/").content.decode()
    assert "Settings changed" in page and "overlap: 1 → 2" in page and "alice-admin" in page


def test_the_log_exports_as_json_lines_and_spreadsheet_safe_csv(project, admin):
    Project.objects.filter(id=project.id).update(name='=HYPERLINK("http://evil.example")')
    project.refresh_from_db()
    spoofer = UserFactory(username="+cmd")
    MembershipFactory(project=project, user=spoofer, role=Membership.Role.ADMIN)
    _api(spoofer).patch(f"/api/v1/projects/{project.id}/", {"overlap": 2}, format="json")
    api = _api(admin)
    url = f"/api/v1/projects/{project.id}/audit/export/?format="
    lines = b"".join(api.get(url + "jsonl").streaming_content).splitlines()
    [event] = [json.loads(line) for line in lines]
    assert (event["project"], event["actor"]) == (project.name, "+cmd")  # verbatim
    response = api.get(url + "csv")
    assert response["Content-Type"] == "text/csv"
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (row["project"], row["actor"]) == ("'" + project.name, "'+cmd")
    assert json.loads(row["details"]) == {"changes": {"overlap": [1, 2]}}
    bad = api.get(url + "xml")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "format"
