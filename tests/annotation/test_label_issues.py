"""Likely label errors (annotation.label_issues): what a run records, what a verdict settles,
and GET /projects/{id}/label-issues/ for reviewers."""

import pytest

from annotation import gold, label_issues, reviews
from annotation.label_issues import Suspect
from annotation.models import LabelIssue, Membership
from tests.factories import ItemFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(project):
    return [ItemFactory(project=project, data={"text": f"item {n} " + "x" * 300}) for n in range(6)]


def suspects(items, *confidences: float, label: str = "pos") -> list[Suspect]:
    """One suspect per confidence, on the items in order (most suspicious first)."""
    return [
        Suspect(item.id, label, "neg", confidence)
        for item, confidence in zip(items, confidences, strict=False)
    ]


def open_pairs(project) -> list[tuple[int, str]]:
    return [(issue.item_id, issue.label) for issue in label_issues.open_issues(project)]


def test_a_run_keeps_the_most_suspicious_up_to_the_projects_cap(project, items):
    project.label_issue_cap = 3
    project.save()

    new = label_issues.record(project.id, suspects(items, 0.01, 0.02, 0.05, 0.1, 0.2))

    assert new == 3
    assert open_pairs(project) == [(item.id, "pos") for item in items[:3]]


def test_a_verdict_resolves_the_items_issues_and_it_is_not_flagged_again(project, items, reviewer):
    label_issues.record(project.id, suspects(items, 0.01, 0.02))

    reviews.relabel(item=items[0], reviewer=reviewer, labels=["pos"])  # the label was right
    issue = LabelIssue.objects.get(item=items[0])
    assert issue.resolved_by == "rita-reviewer" and issue.resolved_at is not None
    assert open_pairs(project) == [(items[1].id, "pos")]

    new = label_issues.record(project.id, suspects(items, 0.01, 0.02))  # the model insists
    assert new == 0
    assert open_pairs(project) == [(items[1].id, "pos")]
    assert LabelIssue.objects.filter(item=items[0]).count() == 1


def test_an_issue_resolved_for_one_label_is_not_flagged_again_for_it(project, items, reviewer):
    """The (item, label) memory holds even when the item's verdict is not what the model
    doubts now (here the issue row alone, as a verdict leaves it)."""
    label_issues.record(project.id, suspects(items[:1], 0.01))
    LabelIssue.objects.update(resolved_at="2026-01-01T00:00:00Z", resolved_by="someone")

    assert label_issues.record(project.id, suspects(items[:1], 0.01)) == 0
    assert label_issues.record(project.id, suspects(items[:1], 0.01, label="neutral")) == 1


def test_items_with_a_verdict_or_gold_labels_are_never_suspects(project, items, reviewer):
    reviews.relabel(item=items[0], reviewer=reviewer, labels=["neg"])
    gold.mark(item=items[1], labels=["pos"])

    label_issues.record(project.id, suspects(items, 0.01, 0.02, 0.03))

    assert open_pairs(project) == [(items[2].id, "pos")]


def test_a_new_run_replaces_the_open_issues_and_keeps_when_each_was_found(project, items):
    label_issues.record(project.id, suspects(items, 0.01, 0.02))
    first = LabelIssue.objects.get(item=items[1])

    new = label_issues.record(project.id, [Suspect(items[1].id, "pos", "neutral", 0.005)])

    assert new == 0
    again = LabelIssue.objects.get(item=items[1])
    assert open_pairs(project) == [(items[1].id, "pos")]  # items[0] is no longer suspected
    assert (again.id, again.found_at) == (first.id, first.found_at)
    assert (again.suggested, again.self_confidence) == ("neutral", 0.005)


def test_a_cap_of_zero_keeps_no_open_issue(project, items):
    project.label_issue_cap = 0
    project.save()
    assert label_issues.record(project.id, suspects(items, 0.01)) == 0
    assert not LabelIssue.objects.exists()


# --- GET /projects/{id}/label-issues/ ---


def test_reviewers_read_the_open_issues_most_suspicious_first(api_client, project, items, reviewer):
    label_issues.record(project.id, suspects(items, 0.01, 0.3, 0.02))
    api_client.force_authenticate(reviewer)

    response = api_client.get(f"/api/v1/projects/{project.id}/label-issues/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["item_id"] for row in body["results"]] == [items[0].id, items[2].id, items[1].id]
    first = body["results"][0]
    assert first["text"] == items[0].data["text"][:200]
    assert (first["label"], first["suggested"], first["self_confidence"]) == ("pos", "neg", 0.01)
    assert first["found_at"] and first["resolved_at"] is None


def test_resolved_issues_come_only_when_asked_after_the_open_ones(
    api_client, project, items, admin
):
    label_issues.record(project.id, suspects(items, 0.01, 0.02))
    reviews.relabel(item=items[0], reviewer=admin, labels=["neg"])
    api_client.force_authenticate(admin)
    url = f"/api/v1/projects/{project.id}/label-issues/"

    assert [row["item_id"] for row in api_client.get(url).json()["results"]] == [items[1].id]
    rows = api_client.get(url, {"include": "resolved"}).json()["results"]
    assert [(row["item_id"], row["resolved_by"]) for row in rows] == [
        (items[1].id, ""),
        (items[0].id, "alice-admin"),
    ]
    assert api_client.get(url, {"include": "everything"}).status_code == 400


@pytest.mark.parametrize(
    ("role", "status"), [(Membership.Role.ANNOTATOR, 403), ("outsider", 404), (None, 401)]
)
def test_annotators_and_strangers_read_no_label_issues(api_client, project, items, role, status):
    label_issues.record(project.id, suspects(items, 0.01))
    user = UserFactory(username="someone")
    if role == "outsider":
        MembershipFactory(user=user, role=Membership.Role.ADMIN)  # of another project
    elif role is not None:
        MembershipFactory(project=project, user=user, role=role)
    if role is not None:
        api_client.force_authenticate(user)

    response = api_client.get(f"/api/v1/projects/{project.id}/label-issues/")

    assert response.status_code == status
    assert "results" not in response.json()


def test_the_list_costs_the_same_queries_for_many_issues(
    api_client, project, reviewer, django_assert_num_queries
):
    many = [ItemFactory(project=project) for _ in range(30)]
    label_issues.record(project.id, suspects(many, *[n / 100 for n in range(30)]))
    api_client.force_authenticate(reviewer)

    with django_assert_num_queries(3):  # the gate, the count, the page with its items
        response = api_client.get(f"/api/v1/projects/{project.id}/label-issues/")

    assert len(response.json()["results"]) == 30


def test_admins_set_how_many_label_issues_wait_at_a_time(api_client, project, admin):
    api_client.force_authenticate(admin)
    url = f"/api/v1/projects/{project.id}/"

    response = api_client.patch(url, {"label_issue_cap": 10}, format="json")

    assert (response.status_code, response.json()["label_issue_cap"]) == (200, 10)
    assert api_client.patch(url, {"label_issue_cap": -1}, format="json").status_code == 400
    project.refresh_from_db()
    assert project.label_issue_cap == 10


def test_a_run_for_a_project_deleted_meanwhile_records_nothing(project, items):
    project_id = project.id
    project.delete()
    assert label_issues.record(project_id, suspects(items, 0.01)) == 0
    assert not LabelIssue.objects.exists()
