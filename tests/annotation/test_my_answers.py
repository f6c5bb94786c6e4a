"""The labelling page's API beside next and answer: skipping with a reason, and your own
recent answers (the page's history), from which an old answer is changed."""

import pytest
from rest_framework.test import APIClient

from annotation.models import Annotation, Item, Lease, Membership
from tests.factories import ItemFactory, MembershipFactory, UserFactory, answer, skip

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _served(client: APIClient, project) -> int:
    response = client.get(f"/api/v1/projects/{project.id}/next/")
    assert response.status_code == 200, response.content
    return response.json()["id"]


def _mine(client: APIClient, project, query: str = ""):
    return client.get(f"/api/v1/projects/{project.id}/my-answers/{query}")


@pytest.mark.parametrize("reason", ["unclear", "off_topic", "broken", "other"])
def test_a_skip_keeps_its_reason_and_comment(project, annotator, reason):
    ItemFactory(project=project)
    client = _client(annotator)
    item_id = _served(client, project)
    body = {"reason": reason, "comment": "half the text is missing"}
    response = client.post(f"/api/v1/items/{item_id}/skip/", body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["skipped"], response.json()["skip_reason"]) == (True, reason)
    stored = Annotation.objects.get(item_id=item_id)
    assert (stored.skip_reason, stored.comment) == (reason, "half the text is missing")


def test_a_skip_without_a_reason_is_still_a_skip(project, annotator):
    ItemFactory(project=project)
    client = _client(annotator)
    item_id = _served(client, project)
    response = client.post(f"/api/v1/items/{item_id}/skip/", {}, format="json")
    assert response.status_code == 201
    assert Annotation.objects.get(item_id=item_id).skip_reason == ""


def test_an_unknown_skip_reason_is_a_400_naming_the_field_and_nothing_is_written(
    project, annotator
):
    ItemFactory(project=project)
    client = _client(annotator)
    item_id = _served(client, project)
    response = client.post(f"/api/v1/items/{item_id}/skip/", {"reason": "boring"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"
    assert not Annotation.objects.exists()
    assert Lease.objects.filter(item_id=item_id, user=annotator).exists()  # still theirs


def test_labels_clear_the_reason_of_a_skip_they_replace(project, annotator):
    item = ItemFactory(project=project)
    skip(item, annotator, reason="unclear")
    response = _client(annotator).post(
        f"/api/v1/items/{item.id}/annotations/", {"labels": ["pos"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    stored = Annotation.objects.get(item=item)
    assert (stored.skipped, stored.skip_reason) == (False, "")


@pytest.fixture
def history(project, annotator):
    """Five items the annotator answered (the fourth skipped), and one by someone else."""
    items = [ItemFactory(project=project, data={"text": f"t{n}", "src": n}) for n in range(6)]
    for n, item in enumerate(items[:5]):
        if n == 3:
            skip(item, annotator, reason="off_topic", comment="a recipe")
        else:
            answer(item, annotator, ["pos" if n % 2 else "neg"], lead_time_ms=100 * (n + 1))
    other = UserFactory(username="someone-else")
    MembershipFactory(project=project, user=other, role=Membership.Role.ANNOTATOR)
    answer(items[5], other, ["neutral"])
    return items


def test_my_answers_are_my_own_newest_first_with_their_items(project, annotator, history):
    response = _mine(_client(annotator), project)
    assert response.status_code == 200
    rows = response.json()
    assert [row["item"]["data"]["text"] for row in rows] == ["t4", "t3", "t2", "t1", "t0"]
    assert [row["labels"] for row in rows] == [["neg"], [], ["neg"], ["pos"], ["neg"]]
    skipped = rows[1]
    assert (skipped["skipped"], skipped["skip_reason"], skipped["comment"]) == (
        True,
        "off_topic",
        "a recipe",
    )
    assert rows[0]["item"] == {"id": history[4].id, "external_id": None, "data": history[4].data}
    assert rows[0]["lead_time_ms"] == 500


def test_my_answers_takes_a_limit_and_refuses_unknown_parameters(project, annotator, history):
    client = _client(annotator)
    assert [row["item"]["data"]["text"] for row in _mine(client, project, "?limit=2").json()] == [
        "t4",
        "t3",
    ]
    for query, field in (("?mine=true", "mine"), ("?limit=0", "limit"), ("?limit=101", "limit")):
        response = _mine(client, project, query)
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["field"] == field


def test_someone_else_sees_only_their_own_answer(project, history):
    other = Membership.objects.get(project=project, user__username="someone-else").user
    rows = _mine(_client(other), project).json()
    assert [row["item"]["data"]["text"] for row in rows] == ["t5"]


def test_an_outsider_gets_404_and_nobody_gets_401(project, outsider, history):
    assert _mine(_client(outsider), project).status_code == 404
    assert _mine(APIClient(), project).status_code == 401


def test_my_answers_are_three_queries_whatever_their_count(
    project, annotator, history, django_assert_num_queries
):
    client = _client(annotator)
    # the membership, the answers with their items, their labels
    with django_assert_num_queries(3):
        assert len(_mine(client, project).json()) == 5


def test_changing_an_old_answer_from_the_history_needs_no_lease_and_counts_once(
    project, annotator, history
):
    client = _client(annotator)
    oldest = _mine(client, project).json()[-1]
    assert not Lease.objects.filter(item_id=oldest["item"]["id"]).exists()
    response = client.post(
        f"/api/v1/items/{oldest['item']['id']}/annotations/",
        {"labels": ["neutral"], "ambiguous": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["id"] == oldest["id"]  # the same answer, changed
    rows = _mine(client, project).json()
    assert (rows[-1]["labels"], rows[-1]["ambiguous"]) == (["neutral"], True)
    item = Item.objects.get(id=oldest["item"]["id"])
    assert item.annotation_count == 1


def test_my_answers_and_the_skip_reason_are_in_the_api_schema(api_client, annotator):
    api_client.force_authenticate(annotator)
    accept = "application/vnd.oai.openapi+json"
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT=accept).json()
    operation = schema["paths"]["/api/v1/projects/{project_id}/my-answers/"]["get"]
    names = sorted(parameter["name"] for parameter in operation["parameters"])
    assert names == ["limit", "project_id"]
    reason = schema["components"]["schemas"]["SkipInput"]["properties"]["reason"]
    assert {"$ref": "#/components/schemas/SkipReasonEnum"} in reason["oneOf"]
