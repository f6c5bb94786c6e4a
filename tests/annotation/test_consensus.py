"""The one consensus rule (annotation.consensus), and the export and training that share it."""

import json

import pytest

from annotation.consensus import Agreement, agreed_labels
from annotation.models import Membership
from models_service.rounds.data import training_data
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory, answer


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([["cat"]], Agreement(["cat"], needs_review=False)),
        ([["cat"], ["cat"], ["dog"]], Agreement(["cat"], False, 2 / 3)),
        ([["cat"], ["dog"], ["cat"], ["bird"]], Agreement(["cat"], False, 2 / 4)),
        # two annotators who disagree: no agreed label, and the item goes to review
        ([["cat"], ["dog"]], Agreement([], True, 1 / 2)),
        ([["cat"], ["dog"], ["bird"]], Agreement([], True, 1 / 3)),
        ([["cat"], ["cat"], ["dog"], ["dog"]], Agreement([], True, 2 / 4)),
    ],
)
def test_single_label_agreement_is_the_leading_label_its_share_and_a_tie_is_none(answers, expected):
    assert agreed_labels(answers, multi_label=False) == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([["a", "b"]], Agreement(["a", "b"], needs_review=False)),
        ([[]], Agreement([], needs_review=False)),  # "none of these" is an answer
        # confidence: the least sure label's share (b and c: 2 of 3 left them out)
        ([["a", "b"], ["a"], ["a", "c"]], Agreement(["a"], False, 2 / 3)),
        # b chosen by exactly half: a tie on b, so the whole item goes to review
        ([["a", "b"], ["a"]], Agreement(["a"], True, 1 / 2)),
    ],
)
def test_multi_label_agreement_is_each_label_more_than_half_chose(answers, expected):
    assert agreed_labels(answers, multi_label=True) == expected


def test_no_answers_make_no_agreement():
    assert agreed_labels([], multi_label=False) is None
    assert agreed_labels([], multi_label=True) is None


@pytest.mark.django_db
def test_a_split_item_exports_no_label_marked_for_review_and_stays_out_of_training(
    api_client,
):
    project = ProjectFactory(labels=["pos", "neg"], overlap=2)
    admin, first, second = UserFactory(), UserFactory(), UserFactory()
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    split, agreed = ItemFactory(project=project), ItemFactory(project=project)
    for user, labels in ((first, ["pos"]), (second, ["neg"])):
        answer(split, user, labels)
        answer(agreed, user, ["pos"])
    api_client.force_authenticate(admin)
    response = api_client.get(f"/api/v1/projects/{project.id}/export/?format=jsonl")
    rows = {
        row["id"]: row for row in map(json.loads, b"".join(response.streaming_content).splitlines())
    }
    assert (rows[split.id]["labels"], rows[split.id]["needs_review"]) == ([], True)
    assert (rows[agreed.id]["labels"], rows[agreed.id]["needs_review"]) == (["pos"], False)
    data = training_data(project)
    assert data.train.ids == [agreed.id] and data.train.targets == [0]
    assert data.needs_review == 1
