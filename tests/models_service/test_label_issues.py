"""Label-error detection after a round (models_service.rounds.cleaning, the worker's
find_label_issues task): the serving version's out-of-sample probabilities name the wrong
labels, annotation.label_issues keeps them for reviewers."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from annotation import imports, label_issues, reviews
from annotation.models import LabelIssue, Membership, Project
from models_service import schedule, tasks
from models_service.models import ModelVersion
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.models_service.helpers import run_round

pytestmark = pytest.mark.django_db

ITEMS, FLIPPED = 300, 30


@pytest.fixture
def noisy_digits():
    """A project of 300 labelled digits (pixels as vectors) with 30 labels flipped at random;
    returns it with the truth per item id and the flipped ids."""
    digits = load_digits()
    rng = np.random.default_rng(0)
    truth = digits.target[:ITEMS]
    noisy = truth.copy()
    flipped = rng.choice(ITEMS, FLIPPED, replace=False)
    noisy[flipped] = (truth[flipped] + rng.integers(1, 10, FLIPPED)) % 10
    project = ProjectFactory(labels=[str(c) for c in range(10)], eval_share=0.0)
    importer = UserFactory(username="importer")
    MembershipFactory(project=project, user=importer, role=Membership.Role.ADMIN)
    rows = [
        {
            "external_id": str(n),
            "text": f"digit {n}",
            "features": (row / 16).round(3).tolist(),
            "labels": [str(label)],
        }
        for n, (row, label) in enumerate(zip(digits.data[:ITEMS], noisy, strict=True))
    ]
    raw = "\n".join(json.dumps(row) for row in rows).encode()
    imports.import_items(project=project, raw=raw, file_format="jsonl", actor=importer)
    ids = {int(item.external_id): item.id for item in project.items.all()}
    return project, {ids[n]: str(truth[n]) for n in range(ITEMS)}, {ids[n] for n in flipped}


def test_after_a_round_the_flipped_labels_are_the_open_issues(noisy_digits):
    project, truth, flipped = noisy_digits
    version = run_round(project.id, cross_validate=False)

    new = tasks.find_label_issues(version.id)

    found = list(label_issues.open_issues(project))
    assert new == len(found) <= project.label_issue_cap
    assert {issue.item_id for issue in found[:10]} <= flipped  # the surest are all flips
    caught = {issue.item_id for issue in found[:FLIPPED]} & flipped
    assert len(caught) >= 0.8 * FLIPPED, (len(found), len(caught))
    for issue in found[:10]:
        assert issue.suggested == truth[issue.item_id] != issue.label
    version.refresh_from_db()
    assert version.timings["label_issues_s"] > 0


def test_a_fixed_label_stays_fixed_through_the_next_rounds_search(noisy_digits):
    project, truth, flipped = noisy_digits
    version = run_round(project.id, cross_validate=False)
    tasks.find_label_issues(version.id)
    worst = label_issues.open_issues(project).first()
    reviewer = UserFactory(username="rita")
    MembershipFactory(project=project, user=reviewer, role=Membership.Role.REVIEWER)

    reviews.relabel(item=worst.item, reviewer=reviewer, labels=[truth[worst.item_id]])
    schedule.request_training(project)
    newer = run_round(project.id, cross_validate=False)
    tasks.find_label_issues(newer.id)

    assert not LabelIssue.objects.filter(item=worst.item, resolved_at__isnull=True).exists()
    assert LabelIssue.objects.get(item=worst.item).resolved_by == "rita"


def test_a_replaced_version_and_a_multi_label_project_are_not_searched(noisy_digits):
    project, _, _ = noisy_digits
    first = run_round(project.id, cross_validate=False)
    ModelVersion.objects.filter(id=first.id).update(status=ModelVersion.Status.FAILED)
    assert tasks.find_label_issues(first.id) is None  # no longer the serving version
    ModelVersion.objects.filter(id=first.id).update(status=ModelVersion.Status.READY)
    Project.objects.filter(id=project.id).update(task_type="multi_label")
    assert tasks.find_label_issues(first.id) is None
    assert not LabelIssue.objects.exists()


@pytest.mark.parametrize("due", [False, True])
def test_the_search_follows_a_round_when_no_other_round_is_due(noisy_digits, monkeypatch, due):
    """Off the path to the switch, beside the cross-validation; when labels made another
    round due, beside that round (when none was searched lately)."""
    project, _, _ = noisy_digits
    version = run_round(project.id, cross_validate=False)
    sent: list[tuple[str, int]] = []
    for name in ("tidy", "train_project", "cross_validate", "find_label_issues"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda arg, name=name: sent.append((name, arg)))
    monkeypatch.setattr(tasks.schedule, "needs_training", lambda project: due)

    tasks._after_round(version)

    # a busy project's labels are searched too, when none was searched lately (here: never)
    assert ("find_label_issues", version.id) in sent
    assert (("train_project", project.id) in sent) is due


def test_a_busy_project_is_searched_again_only_after_a_while(noisy_digits, monkeypatch, settings):
    project, _, _ = noisy_digits
    version = run_round(project.id, cross_validate=False)
    tasks.find_label_issues(version.id)  # searched just now
    sent: list[tuple[str, int]] = []
    for name in ("tidy", "train_project", "cross_validate", "find_label_issues"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda arg, name=name: sent.append((name, arg)))
    monkeypatch.setattr(tasks.schedule, "needs_training", lambda project: True)
    tasks._after_round(version)
    assert ("find_label_issues", version.id) not in sent
    settings.HITL_LABEL_ISSUES_SECONDS = 0
    tasks._after_round(version)
    assert ("find_label_issues", version.id) in sent
