"""Reviews: a reviewer's verdict gives an item its final labels, in the export, the pages and
training, and every verdict is kept (annotation.reviews)."""

import json

import pytest

from annotation import reviews, selectors
from annotation.models import Item
from models_service.rounds.data import training_data
from tests.factories import answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(project, annotator, admin):
    """An item of overlap 2 whose two answers tie: pos against neg."""
    project.overlap = 2
    project.save()
    item = Item.objects.create(project=project, data={"text": "a tie"})
    answer(item, annotator, ["pos"])
    answer(item, admin, ["neg"])
    return item


def _client(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_a_verdict_settles_a_tie_in_the_export_and_in_training(project, split, reviewer):
    reviews.relabel(item=split, reviewer=reviewer, labels=["neg"])
    rows = [row for batch in selectors.export_batches(project) for row in batch]
    assert (rows[0]["labels"], rows[0]["needs_review"], rows[0]["reviewed_by"]) == (
        ["neg"],
        False,
        "rita-reviewer",
    )
    data = training_data(project)
    assert (data.train.ids, data.train.targets, data.needs_review) == ([split.id], [1], 0)


def test_an_item_nobody_answered_trains_on_its_verdict(project, reviewer):
    item = Item.objects.create(project=project, data={"text": "straight to review"})
    reviews.relabel(item=item, reviewer=reviewer, labels=["neutral"])
    assert training_data(project).train.ids == [item.id]
    since = selectors.judged_items(project, answered_since=item.created_at)
    assert [judged.id for judged in since] == [item.id]


def test_the_latest_verdict_wins_and_each_keeps_what_came_before(project, split, reviewer, admin):
    reviews.relabel(item=split, reviewer=reviewer, labels=["neg"])
    reviews.relabel(item=split, reviewer=admin, labels=["pos"], comment="on second thought")
    kept = [(r.reviewer_name, r.previous, r.labels) for r in reviews.history(split)]
    assert kept == [("rita-reviewer", [], ["neg"]), ("alice-admin", ["neg"], ["pos"])]
    assert reviews.current_labels(split) == ["pos"]


def test_the_review_api_takes_a_verdict_and_the_history_lists_it(api_client, split, reviewer):
    client = _client(api_client, reviewer)
    url = f"/api/v1/items/{split.id}/review/"
    response = client.post(url, {"labels": ["pos"], "comment": "clear"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["previous"] == [] and response.json()["reviewer"] == "rita-reviewer"
    history = client.get(f"/api/v1/items/{split.id}/history/").json()
    assert [(event["who"], event["what"]) for event in history] == [
        ("", "imported"),
        ("ann-annotator", "answered: pos"),
        ("alice-admin", "answered: neg"),
        ("rita-reviewer", "relabelled (none) → pos: clear"),
    ]


def test_an_annotator_may_not_read_an_items_history(api_client, split, annotator):
    response = _client(api_client, annotator).get(f"/api/v1/items/{split.id}/history/")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": ["cat"]}, "labels"),
        ({"labels": ["pos", "neg"]}, "labels"),
        ({"labels": ["pos"], "colour": "red"}, "colour"),
        ({"labels": "pos"}, "labels"),
    ],
)
def test_a_bad_verdict_is_a_400_naming_the_field_and_writes_nothing(
    api_client, split, reviewer, body, field
):
    response = _client(api_client, reviewer).post(
        f"/api/v1/items/{split.id}/review/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not split.reviews.exists()


def test_an_annotator_may_not_review(api_client, split, annotator):
    url = f"/api/v1/items/{split.id}/review/"
    response = _client(api_client, annotator).post(url, {"labels": ["pos"]}, format="json")
    assert response.status_code == 403
    assert not split.reviews.exists()
