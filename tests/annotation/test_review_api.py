"""The review queue through the API: GET review/next/ shows an item up for review whole, and a
verdict posted to the item's review/ takes it out (annotation.review_queue)."""

import json

import pytest

from annotation.models import Item
from tests.factories import answer, serve, skip

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(project, annotator, admin):
    """An item of overlap 2 whose two answers tie, one with a comment and a flag."""
    project.overlap = 2
    project.save()
    item = Item.objects.create(project=project, data={"text": "a tie", "source": "web"})
    answer(item, annotator, ["pos"], lead_time_ms=1200, comment="sounds happy", ambiguous=True)
    answer(item, admin, ["neg"], lead_time_ms=800)
    serve(
        project, {item: (["neg"], 0.7)}, top={item: [["neg", 0.7], ["pos", 0.2], ["neutral", 0.1]]}
    )
    return item


def _next(client, project, after=None):
    query = "" if after is None else f"?after={after}"
    return client.get(f"/api/v1/projects/{project.id}/review/next/{query}")


def test_next_shows_the_item_whole_with_reasons_answers_consensus_model_and_history(
    api_client, project, split, reviewer
):
    api_client.force_authenticate(reviewer)
    response = _next(api_client, project)
    assert response.status_code == 200, response.content
    sheet = response.json()
    assert sheet["item"]["id"] == split.id and sheet["item"]["data"]["source"] == "web"
    assert [(r["code"], r["name"]) for r in sheet["reasons"]] == [
        ("disagreement", "The answers disagree"),
        ("flagged", "An annotator flagged it"),
    ]
    assert [
        (a["annotator"], a["labels"], a["lead_time_ms"], a["ambiguous"], a["comment"])
        for a in sheet["answers"]
    ] == [
        ("ann-annotator", ["pos"], 1200, True, "sounds happy"),
        ("alice-admin", ["neg"], 800, False, ""),
    ]
    assert sheet["consensus"] == {"labels": [], "confidence": 0.5, "method": "majority"}
    assert sheet["prediction"] == {
        "predicted": ["neg"],
        "confidence": 0.7,
        "top": [
            {"label": "neg", "probability": 0.7},
            {"label": "pos", "probability": 0.2},
            {"label": "neutral", "probability": 0.1},
        ],
    }
    assert [event["who"] for event in sheet["history"]] == ["", "ann-annotator", "alice-admin"]


def test_a_verdict_through_the_api_takes_the_item_out_and_the_export_has_it(
    api_client, project, split, reviewer
):
    api_client.force_authenticate(reviewer)
    verdict = {"labels": ["neg"], "comment": "reads negative"}
    assert (
        api_client.post(f"/api/v1/items/{split.id}/review/", verdict, format="json").status_code
        == 201
    )
    assert _next(api_client, project).status_code == 204
    history = api_client.get(f"/api/v1/items/{split.id}/history/").json()
    assert history[-1]["what"] == "relabelled (none) → neg: reads negative"
    exported = api_client.get(f"/api/v1/projects/{project.id}/export/?format=jsonl")
    (row,) = [json.loads(line) for line in b"".join(exported.streaming_content).splitlines()]
    assert (row["labels"], row["reviewed_by"]) == (["neg"], "rita-reviewer")


def test_the_cursor_passes_on_an_item_without_a_verdict(api_client, project, annotator, admin):
    first, second = (Item.objects.create(project=project, data={"text": t}) for t in "ab")
    skip(first, annotator, reason="unclear")
    answer(second, annotator, ["pos"], needs_expert=True)
    api_client.force_authenticate(admin)
    assert _next(api_client, project).json()["item"]["id"] == first.id
    assert _next(api_client, project, after=first.id).json()["item"]["id"] == second.id
    assert _next(api_client, project, after=second.id).status_code == 204
    skipped = _next(api_client, project).json()["answers"][0]
    assert (skipped["skipped"], skipped["skip_reason"], skipped["labels"]) == (True, "unclear", [])


def test_anonymized_reviews_name_annotators_by_number(api_client, project, split, reviewer):
    project.anonymize_reviews = True
    project.save()
    api_client.force_authenticate(reviewer)
    sheet = _next(api_client, project).json()
    assert [a["annotator"] for a in sheet["answers"]] == ["annotator 1", "annotator 2"]
    assert [event["who"] for event in sheet["history"]] == ["", "annotator 1", "annotator 2"]
    assert "ann-annotator" not in str(sheet) and "alice-admin" not in str(sheet)


def test_a_bad_cursor_is_a_400_naming_it(api_client, project, reviewer):
    api_client.force_authenticate(reviewer)
    response = _next(api_client, project, after="soon")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "after"


def test_the_review_settings_are_project_settings(api_client, project, admin):
    api_client.force_authenticate(admin)
    response = api_client.patch(
        f"/api/v1/projects/{project.id}/",
        {"review_sample": 0.2, "anonymize_reviews": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["review_sample"], response.json()["anonymize_reviews"]) == (0.2, True)
    too_much = api_client.patch(
        f"/api/v1/projects/{project.id}/", {"review_sample": 1.5}, format="json"
    )
    assert too_much.status_code == 400


def test_the_settings_page_sets_the_review_sample_and_anonymity(client, project, admin):
    client.force_login(admin)
    form = {
        "action": "settings",
        "name": project.name,
        "task_type": "single_label",
        "overlap": 1,
        "labels": "pos\nneg\nneutral",
        "review_sample": 0.3,
        "anonymize_reviews": "on",
    }
    assert client.post(f"/projects/{project.id}/settings/", form).status_code == 302
    project.refresh_from_db()
    assert (project.review_sample, project.anonymize_reviews) == (0.3, True)
    form["anonymize_reviews"] = "false"  # unticked: the page's hidden field alone
    del form["review_sample"]  # left out: kept
    assert client.post(f"/projects/{project.id}/settings/", form).status_code == 302
    project.refresh_from_db()
    assert (project.review_sample, project.anonymize_reviews) == (0.3, False)
