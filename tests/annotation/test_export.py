import csv
import io
import json

import pytest

from annotation.models import Item, Membership
from tests.factories import MembershipFactory, ProjectFactory, answer, skip

pytestmark = pytest.mark.django_db


def _export(client, project, file_format: str) -> bytes:
    response = client.get(f"/api/v1/projects/{project.id}/export/?format={file_format}")
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content)


@pytest.fixture
def labelled(project, admin, annotator):
    """Three items: one labelled by two people, one skipped, one untouched."""
    project.overlap = 2
    project.save()
    first = Item.objects.create(
        project=project, external_id="e1", data={"text": 'great, "quoted"\nline', "src": "a"}
    )
    second = Item.objects.create(project=project, external_id="e2", data={"text": "meh"})
    Item.objects.create(project=project, data={"text": "untouched"})
    answer(first, annotator, ["pos"], lead_time_ms=1500)
    answer(first, admin, ["pos"], lead_time_ms=700)
    skip(second, annotator)
    return project


def test_jsonl_export_lists_each_items_labels_and_annotators(api_client, labelled, admin):
    api_client.force_authenticate(admin)
    rows = [json.loads(line) for line in _export(api_client, labelled, "jsonl").splitlines()]
    assert [row["external_id"] for row in rows] == ["e1", "e2", None]
    first = rows[0]
    assert first["labels"] == ["pos"]
    assert first["status"] == "done"
    assert [(a["annotator"], a["labels"], a["lead_time_ms"]) for a in first["annotations"]] == [
        ("ann-annotator", ["pos"], 1500),
        ("alice-admin", ["pos"], 700),
    ]
    assert rows[1]["annotations"][0]["skipped"] is True
    assert rows[1]["labels"] == []


def test_json_and_csv_exports_hold_the_same_items(api_client, labelled, admin):
    api_client.force_authenticate(admin)
    as_json = json.loads(_export(api_client, labelled, "json"))
    as_csv = list(csv.DictReader(io.StringIO(_export(api_client, labelled, "csv").decode())))
    assert [row["data"]["text"] for row in as_json] == [row["text"] for row in as_csv]
    assert as_csv[0]["labels"] == "pos"
    assert as_csv[0]["annotators"] == "ann-annotator|alice-admin"


def test_export_round_trip_into_a_new_project(api_client, labelled, admin):
    api_client.force_authenticate(admin)
    exported = _export(api_client, labelled, "jsonl")
    target = ProjectFactory()
    MembershipFactory(project=target, user=admin, role=Membership.Role.ADMIN)
    response = api_client.post(
        f"/api/v1/projects/{target.id}/items/import/",
        data=exported,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.json()
    original = list(
        Item.objects.filter(project=labelled).order_by("id").values_list("external_id", "data")
    )
    copied = list(
        Item.objects.filter(project=target).order_by("id").values_list("external_id", "data")
    )
    assert copied == original


def test_export_of_an_empty_project_is_valid(api_client, project, admin):
    api_client.force_authenticate(admin)
    assert json.loads(_export(api_client, project, "json")) == []
    assert _export(api_client, project, "jsonl") == b""
    assert _export(api_client, project, "csv").decode().splitlines() == [
        "id,external_id,text,status,annotation_count,labels,needs_review,annotators"
    ]


def test_export_reads_in_batches_so_queries_grow_with_batches_not_items(
    api_client, project, admin, django_assert_max_num_queries
):
    Item.objects.bulk_create(Item(project=project, data={"text": f"t{n}"}) for n in range(4_500))
    api_client.force_authenticate(admin)
    with django_assert_max_num_queries(1 + 3 * 3 + 1):  # access, 3 batches x 3 queries, the end
        rows = _export(api_client, project, "jsonl").splitlines()
    assert len(rows) == 4_500


def test_unknown_export_format_is_refused(api_client, project, admin):
    api_client.force_authenticate(admin)
    response = api_client.get(f"/api/v1/projects/{project.id}/export/?format=xml")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"
