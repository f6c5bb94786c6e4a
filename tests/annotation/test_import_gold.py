"""A row's `gold` (the item's known labels) makes its item gold as it is imported, checked as
annotation.gold checks an admin's, in every format, in the request and as a job; an update
sets the gold labels of items already present; the export carries them back out. On SQLite
here, on PostgreSQL (the COPY path) with DATABASE_URL."""

import csv
import io
import json

import pytest
from django.utils import timezone

from annotation import gold, imports, services
from annotation.models import ImportJob, Item, LabelIssue, Membership, Project
from tests.factories import MembershipFactory, ProjectFactory, answer

pytestmark = pytest.mark.django_db

CONTENT_TYPES = {"jsonl": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}


@pytest.fixture
def admin_client(api_client, admin):
    api_client.force_authenticate(admin)
    return api_client


def _body(rows: list[dict], file_format: str) -> bytes:
    """The rows in the format; in CSV, a `gold` list becomes a cell of names joined by '|'."""
    if file_format == "jsonl":
        return "\n".join(json.dumps(row) for row in rows).encode()
    if file_format == "json":
        return json.dumps(rows, indent=1).encode()
    columns = sorted({key for row in rows for key in row})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        cells = {key: "|".join(v) if isinstance(v, list) else v for key, v in row.items()}
        writer.writerow([cells.get(column, "") for column in columns])
    return buffer.getvalue().encode()


def _import(client, project, body: bytes, file_format: str = "jsonl", query: str = ""):
    return client.post(
        f"/api/v1/projects/{project.id}/items/import/{query}",
        data=body,
        content_type=CONTENT_TYPES[file_format],
    )


def _gold(project) -> dict:
    """external_id -> gold labels of the project's items."""
    return dict(Item.objects.filter(project=project).values_list("external_id", "gold"))


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_a_rows_gold_makes_its_item_gold_in_every_format(admin_client, project, file_format):
    rows = [
        {"external_id": "a", "text": "known good", "gold": ["pos"]},
        {"external_id": "b", "text": "known and answered", "gold": ["neg"], "labels": ["pos"]},
        {"external_id": "c", "text": "ordinary"},
    ]
    response = _import(admin_client, project, _body(rows, file_format), file_format)
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["answers"]) == (3, 1)
    assert _gold(project) == {"a": ["pos"], "b": ["neg"], "c": None}
    assert Item.objects.get(external_id="a").data == {"text": "known good"}  # not data


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_multi_label_gold_is_kept_in_the_projects_label_order(api_client, admin, file_format):
    project = ProjectFactory(labels=["red", "green", "blue"])
    project.task_type = Project.TaskType.MULTI_LABEL
    project.save()
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    api_client.force_authenticate(admin)
    rows = [{"external_id": "x", "text": "t", "gold": ["blue", "red"]}]
    assert _import(api_client, project, _body(rows, file_format), file_format).status_code == 201
    assert _gold(project) == {"x": ["red", "blue"]}


def test_an_empty_or_null_gold_is_no_gold(admin_client, project):
    rows = [{"external_id": "a", "text": "t", "gold": []}, {"external_id": "b", "text": "u"}]
    rows[1]["gold"] = None
    assert _import(admin_client, project, _body(rows, "jsonl")).status_code == 201
    assert _gold(project) == {"a": None, "b": None}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["cat"], "not labels of this project: cat"),
        (["pos", "neg"], "this project takes exactly one label per item"),
        (["pos", "pos"], "a label is given twice"),
        ("pos", "must be a list of label names"),
        ([1], "must be a list of label names"),
    ],
)
def test_bad_gold_is_a_400_naming_line_and_field_and_imports_nothing(
    admin_client, project, value, message
):
    rows = [{"text": "fine", "gold": ["pos"]}, {"text": "ordinary"}, {"text": "bad", "gold": value}]
    response = _import(admin_client, project, _body(rows, "jsonl"))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"line": 3, "field": "gold", "message": message}]
    assert not Item.objects.exists()


def test_bad_gold_in_csv_names_its_line(admin_client, project):
    body = b'text,gold\nfine,pos\n"two\nlines",neg\nbad,cat\n'
    response = _import(admin_client, project, body, "csv")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 5, "field": "gold", "message": "not labels of this project: cat"}
    ]
    assert not Item.objects.exists()


def test_gold_imports_as_a_job_and_bad_gold_fails_the_job(admin_client, project):
    rows = [{"external_id": "a", "text": "known", "gold": ["neutral"]}, {"text": "ordinary"}]
    response = _import(admin_client, project, _body(rows, "jsonl"), query="?async=true")
    assert response.status_code == 202, response.json()
    imports.run_import_job(job_id=response.json()["id"])  # what the worker runs
    assert ImportJob.objects.get(id=response.json()["id"]).status == "succeeded"
    assert Item.objects.get(external_id="a").gold == ["neutral"]

    bad = [{"external_id": "b", "text": "new"}, {"external_id": "c", "text": "x", "gold": ["?"]}]
    response = _import(admin_client, project, _body(bad, "jsonl"), query="?async=true")
    imports.run_import_job(job_id=response.json()["id"])
    job = ImportJob.objects.get(id=response.json()["id"])
    assert job.status == "failed"
    assert job.errors == [{"line": 2, "field": "gold", "message": "not labels of this project: ?"}]
    assert Item.objects.filter(project=project).count() == 2


def test_an_update_sets_the_gold_a_row_brings_and_keeps_the_gold_of_rows_without(
    admin_client, project, admin, annotator
):
    first = [
        {"external_id": "a", "text": "old a", "gold": ["pos"]},
        {"external_id": "b", "text": "old b"},
        {"external_id": "c", "text": "old c"},
    ]
    assert _import(admin_client, project, _body(first, "jsonl")).status_code == 201
    item_b = Item.objects.get(external_id="b")
    answer(item_b, annotator, ["pos"])
    issue = LabelIssue.objects.create(
        item=item_b, label="pos", suggested="neg", self_confidence=0.01, found_at=timezone.now()
    )
    again = [
        {"external_id": "a", "text": "new a"},  # no gold key: its gold stays
        {"external_id": "b", "text": "new b", "gold": ["neg"]},
        {"external_id": "c", "text": "new c", "gold": []},  # empty: no gold, none removed
    ]
    response = _import(admin_client, project, _body(again, "jsonl"), query="?on_duplicate=update")
    assert response.status_code == 201, response.json()
    assert response.json()["updated"] == 3
    assert _gold(project) == {"a": ["pos"], "b": ["neg"], "c": None}
    issue.refresh_from_db()  # made gold by the import: settled, as gold.mark settles it
    assert (issue.resolved_by, issue.resolved_at is not None) == ("alice-admin", True)


def test_skip_leaves_the_gold_of_rows_already_present(admin_client, project):
    assert _import(admin_client, project, _body([{"external_id": "a", "text": "t"}], "jsonl"))
    rows = [{"external_id": "a", "text": "t", "gold": ["pos"]}]
    response = _import(admin_client, project, _body(rows, "jsonl"), query="?on_duplicate=skip")
    assert response.json()["skipped"] == 1
    assert _gold(project) == {"a": None}


def test_imported_gold_is_served_and_scored_as_gold(admin_client, project, annotator):
    project.gold_share = 0.5
    project.save()
    rows = [{"external_id": "g", "text": "known", "gold": ["pos"], "labels": ["pos"]}]
    rows += [{"text": f"t{n}"} for n in range(40)]  # more than the serves: a miss is 0.5**40
    assert _import(admin_client, project, _body(rows, "jsonl")).status_code == 201
    known = Item.objects.get(external_id="g")
    assert known.status == "done"  # the importer's answer reached the overlap of 1
    project = Project.objects.get(id=project.id)
    served = []
    for _ in range(41):  # half the serves try gold first; the gold item is served though done
        item = services.next_item_for(project=project, user=annotator)
        served.append(item.id)
        if item.id == known.id:
            break
        services.skip_item(item=Item.objects.get(id=item.id), annotator=annotator)
    assert served[-1] == known.id
    answer(known, annotator, ["neg"])
    assert gold.accuracy_on_gold(project) == {"alice-admin": (1, 1), "ann-annotator": (0, 1)}


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_gold_goes_out_in_the_export_and_back_in(api_client, project, admin, file_format):
    Item.objects.create(project=project, external_id="g", data={"text": "known"}, gold=["neg"])
    Item.objects.create(project=project, external_id="o", data={"text": "ordinary"})
    api_client.force_authenticate(admin)
    url = f"/api/v1/projects/{project.id}/export/?format={file_format}"
    exported = b"".join(api_client.get(url).streaming_content)
    target = ProjectFactory(labels=["pos", "neg", "neutral"])
    MembershipFactory(project=target, user=admin, role=Membership.Role.ADMIN)
    response = _import(api_client, target, exported, file_format)
    assert response.status_code == 201, response.json()
    assert _gold(target) == {"g": ["neg"], "o": None}
