"""Who reads whose answers on an item: annotators their own only (no other answer, name or
verdict's author), reviewers every answer, as "annotator 1"... where the project anonymizes
reviews, admins every answer with its name; the item page and GET /items/{id}/history/."""

import pytest

from annotation import reviews
from tests.factories import answered_by_two

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(project, annotator, admin):
    item, other = answered_by_two(
        project,
        annotator,
        mine={"labels": ["pos"], "comment": "mine"},
        theirs={"labels": ["neg"], "comment": "theirs"},
    )
    reviews.relabel(item=item, reviewer=admin, labels=["pos"])
    return item, other


def _page(client, user, item) -> str:
    client.force_login(user)
    response = client.get(f"/projects/{item.project_id}/items/{item.id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_an_annotator_reads_only_their_own_answer_on_an_item_they_answered(
    client, answered, annotator, admin
):
    item, other = answered
    page = _page(client, annotator, item)
    assert "mine" in page and annotator.username in page
    assert "theirs" not in page and other.username not in page
    assert admin.username not in page  # the verdict's author is not theirs to read


def test_a_reviewer_reads_every_answer_anonymized_where_the_project_says_so(
    client, api_client, answered, reviewer, annotator, project
):
    item, other = answered
    project.anonymize_reviews = True
    project.save()
    page = _page(client, reviewer, item)
    assert "mine" in page and "theirs" in page
    assert annotator.username not in page and other.username not in page
    assert "annotator 1" in page and "annotator 2" in page
    api_client.force_authenticate(reviewer)
    history = api_client.get(f"/api/v1/items/{item.id}/history/").json()
    said = " ".join(event["who"] for event in history)
    assert annotator.username not in said and "annotator 1" in said


def test_admins_and_reviewers_of_open_projects_read_the_names(
    client, answered, reviewer, admin, annotator, project
):
    item, other = answered
    for viewer in (reviewer, admin):
        page = _page(client, viewer, item)
        assert annotator.username in page and other.username in page
    project.anonymize_reviews = True
    project.save()
    assert other.username in _page(client, admin, item)  # admins manage the people
