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
    skip(second, annotator, reason="unclear", comment="two languages")
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
    skipped = rows[1]["annotations"][0]
    assert (skipped["skipped"], skipped["skip_reason"], skipped["comment"]) == (
        True,
        "unclear",
        "two languages",
    )
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
    header = (
        "id external_id text status annotation_count labels needs_review confidence method "
        "reviewed_by gold annotators"
    )
    assert _export(api_client, project, "csv").decode().splitlines() == [
        ",".join(f'"{name}"' for name in header.split())
    ]


def test_export_reads_in_batches_so_queries_grow_with_batches_not_items(
    api_client, project, admin, django_assert_max_num_queries
):
    Item.objects.bulk_create(Item(project=project, data={"text": f"t{n}"}) for n in range(4_500))
    api_client.force_authenticate(admin)
    # access, the audit log's record, the project's fitted model, 3 batches x 4 queries
    # (items, answers, their labels, verdicts), the end
    with django_assert_max_num_queries(1 + 1 + 1 + 3 * 4 + 1):
        rows = _export(api_client, project, "jsonl").splitlines()
    assert len(rows) == 4_500


def test_unknown_export_format_is_refused(api_client, project, admin):
    api_client.force_authenticate(admin)
    response = api_client.get(f"/api/v1/projects/{project.id}/export/?format=xml")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"


# --- CSV injection (CWE-1236) ----------------------------------------------------------------

FORMULAS = {
    "=": '=HYPERLINK("http://evil.example","click")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage return": "\r=1+1",
}


@pytest.fixture
def hostile(project, admin):
    """Items whose text, external id, label name and annotator name start like formulas."""
    from annotation.models import Label
    from tests.factories import UserFactory

    Label.objects.create(project=project, name="@SUM(A1)", shortcut="9", order=9)
    annotator = UserFactory(username="-annotator")
    MembershipFactory(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    for n, text in enumerate(FORMULAS.values()):
        item = Item.objects.create(project=project, external_id=f"={n}+{n}", data={"text": text})
        answer(item, annotator, ["@SUM(A1)"])
    return project


def test_csv_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(
    api_client, hostile, admin
):
    api_client.force_authenticate(admin)
    raw = _export(api_client, hostile, "csv").decode()
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert [row["text"] for row in rows] == ["'" + text for text in FORMULAS.values()]
    assert [row["external_id"] for row in rows] == [f"'={n}+{n}" for n in range(len(FORMULAS))]
    assert {row["labels"] for row in rows} == {"'@SUM(A1)"}
    assert {row["annotators"] for row in rows} == {"'-annotator"}
    # every cell quoted, as OWASP asks, so no cell can start outside its quotes
    first_line = raw.splitlines()[1]
    assert first_line.startswith('"') and '"\'=0+0"' in first_line


def test_json_exports_keep_formula_like_text_verbatim(api_client, hostile, admin):
    api_client.force_authenticate(admin)
    as_json = json.loads(_export(api_client, hostile, "json"))
    lines = _export(api_client, hostile, "jsonl").splitlines()
    as_jsonl = [json.loads(line) for line in lines]
    for rows in (as_json, as_jsonl):
        assert [row["data"]["text"] for row in rows] == list(FORMULAS.values())
        assert {tuple(row["labels"]) for row in rows} == {("@SUM(A1)",)}


def test_plain_cells_are_left_as_they_are():
    from annotation import csvsafe

    for value in ["plain", "a=b", " =spaced", "", 12, -3, None, "'quoted"]:
        assert csvsafe.cell(value) == value
