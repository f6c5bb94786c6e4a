"""A row's `labels` become an answer (the importer's, or the member's its `annotator` names),
written by annotation.answers with the item's count and status; an export imports back with
its labels."""

import csv
import io
import json

import pytest
from django.utils import timezone

from annotation import answers, ranking
from annotation.errors import Conflict
from annotation.models import Annotation, Item, Membership, RankedItem
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer

pytestmark = pytest.mark.django_db


def _import(client, project, rows: list[dict] | bytes, content_type="application/x-ndjson"):
    body = rows if isinstance(rows, bytes) else "\n".join(map(json.dumps, rows)).encode()
    return client.post(
        f"/api/v1/projects/{project.id}/items/import/", data=body, content_type=content_type
    )


def _answers(project) -> list[tuple]:
    """(external_id, annotator, labels, count, status) of the project's items' answers."""
    found = []
    for item in Item.objects.filter(project=project).order_by("id"):
        for each in Annotation.objects.filter(item=item).prefetch_related("labels"):
            names = sorted(label.name for label in each.labels.all())
            found.append(
                (
                    item.external_id,
                    each.annotator.username,
                    names,
                    item.annotation_count,
                    item.status,
                )
            )
    return found


@pytest.fixture
def admin_client(api_client, admin):
    api_client.force_authenticate(admin)
    return api_client


def test_labels_become_the_importers_answer_and_leave_the_items_data(admin_client, project):
    rows = [
        {"external_id": "a", "text": "good", "labels": ["pos"]},
        {"external_id": "b", "text": "no labels yet"},
        {"external_id": "c", "text": "bad", "labels": []},
    ]
    response = _import(admin_client, project, rows)
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["answers"]) == (3, 1)
    assert _answers(project) == [("a", "alice-admin", ["pos"], 1, "done")]
    assert Item.objects.get(external_id="a").data == {"text": "good"}  # no `labels` key
    assert list(Item.objects.filter(status="open").values_list("external_id", flat=True)) == [
        "b",
        "c",
    ]


def test_an_imported_answer_counts_towards_the_overlap(admin_client, project):
    project.overlap = 2
    project.save()
    response = _import(admin_client, project, [{"text": "one answer of two", "labels": ["neg"]}])
    assert response.status_code == 201, response.json()
    item = Item.objects.get()
    assert (item.annotation_count, item.status) == (1, "open")


def test_an_annotator_key_attributes_the_answer_to_that_member(admin_client, project, annotator):
    rows = [{"text": "theirs", "labels": ["neutral"], "annotator": "ann-annotator"}]
    assert _import(admin_client, project, rows).status_code == 201
    assert _answers(project) == [(None, "ann-annotator", ["neutral"], 1, "done")]


def test_an_annotator_outside_the_project_is_a_line_error(admin_client, project, outsider):
    rows = [{"text": "fine"}, {"text": "x", "labels": ["pos"], "annotator": "otto-outsider"}]
    response = _import(admin_client, project, rows)
    assert response.status_code == 400
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(2, "annotator")]
    assert not Item.objects.exists() and not Annotation.objects.exists()


def test_a_multi_label_project_takes_several_labels_in_one_answer(api_client, admin):
    project = ProjectFactory(labels=["red", "green", "blue"], task_type="multi_label")
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    api_client.force_authenticate(admin)
    body = b"text,labels\nboth,red|blue\nnone,\n"
    response = _import(api_client, project, body, "text/csv")
    assert response.status_code == 201, response.json()
    assert _answers(project) == [(None, "alice-admin", ["blue", "red"], 1, "done")]


def test_a_labelled_item_is_not_served_again(admin_client, project, annotator, api_client):
    rows = [{"text": "answered", "labels": ["pos"]}, {"text": "open"}]
    assert _import(admin_client, project, rows).status_code == 201
    api_client.force_authenticate(annotator)
    served = api_client.get(f"/api/v1/projects/{project.id}/next/").json()
    assert served["data"] == {"text": "open"}


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_an_export_imports_back_with_its_labels(api_client, project, admin, annotator, file_format):
    items = [
        Item.objects.create(project=project, external_id=f"e{n}", data={"text": f"t{n}"})
        for n in range(3)
    ]
    answer(items[0], annotator, ["pos"])
    answer(items[1], annotator, ["neg"])
    api_client.force_authenticate(admin)
    exported = b"".join(
        api_client.get(
            f"/api/v1/projects/{project.id}/export/?format={file_format}"
        ).streaming_content
    )
    target = ProjectFactory(labels=["pos", "neg", "neutral"])
    MembershipFactory(project=target, user=admin, role=Membership.Role.ADMIN)
    content_type = {"jsonl": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}
    response = _import(api_client, target, exported, content_type[file_format])
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["answers"]) == (3, 2)
    assert _answers(target) == [
        ("e0", "alice-admin", ["pos"], 1, "done"),
        ("e1", "alice-admin", ["neg"], 1, "done"),
    ]
    again = b"".join(
        api_client.get(f"/api/v1/projects/{target.id}/export/?format=jsonl").streaming_content
    )
    assert [json.loads(line)["labels"] for line in again.splitlines()] == [["pos"], ["neg"], []]


def test_csv_export_columns_other_than_labels_stay_item_data(api_client, project, admin):
    """The CSV export's own columns (id, status, ...) are data on the way back in, as before;
    its `labels` are an answer."""
    api_client.force_authenticate(admin)
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["text", "status", "labels"], ["t", "done", "pos"]])
    response = _import(api_client, project, buffer.getvalue().encode(), "text/csv")
    assert response.status_code == 201, response.json()
    assert Item.objects.get().data == {"text": "t", "status": "done"}
    assert _answers(project) == [(None, "alice-admin", ["pos"], 1, "done")]


def test_features_must_match_the_length_of_the_projects_vectors(admin_client, project):
    first = [{"text": "a", "features": [0.1, 0.2, 0.3]}]
    assert _import(admin_client, project, first).status_code == 201
    response = _import(admin_client, project, [{"text": "b", "features": [1.0, 2.0]}])
    assert response.status_code == 400
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(1, "features")]
    assert "length 3" in response.json()["errors"][0]["message"]
    assert Item.objects.count() == 1


def test_bulk_answers_refuse_an_item_that_has_every_answer_it_needs(project, admin, annotator):
    item = Item.objects.create(project=project, data={"text": "full"})
    answer(item, annotator, ["pos"])  # overlap 1: done
    label = project.labels.get(name="neg").id
    with pytest.raises(Conflict):
        answers.record_imported(
            project_id=project.id,
            overlap=1,
            answers=[(item.id, admin.id, [label])],
            now=timezone.now(),
        )


def test_bulk_answers_count_each_item_and_take_closed_ones_out_of_the_ranking(project, admin):
    other = UserFactory(username="second")
    MembershipFactory(project=project, user=other)
    project.overlap = 2
    project.save()
    items = [Item.objects.create(project=project, data={"text": f"t{n}"}) for n in range(2)]
    ranking.begin(project_id=project.id, ranking_id=1)
    ranking.write_chunk(
        ranking_id=1,
        item_ids=[item.id for item in items],
        scores=[0.5, 0.4],
        predicted_json=['["pos"]', '["pos"]'],
        confidence=[0.5, 0.6],
        is_open=[True, True],
    )
    pos = project.labels.get(name="pos").id
    now = timezone.now()
    both = [(items[0].id, admin.id, [pos]), (items[1].id, other.id, [pos])]
    answers.record_imported(project_id=project.id, overlap=2, answers=both, now=now)
    second = [(items[0].id, other.id, [pos])]
    answers.record_imported(project_id=project.id, overlap=2, answers=second, now=now)
    counts = list(Item.objects.order_by("id").values_list("annotation_count", "status"))
    assert counts == [(2, "done"), (1, "open")]
    still_open = RankedItem.objects.order_by("item_id").values_list("item_open", flat=True)
    assert list(still_open) == [False, True]
