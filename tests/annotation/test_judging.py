"""How a project judges its items (annotation.judging): Dawid-Skene where the setting asks
for it and a fit exists, the majority before; a verdict over gold over the answers; the
engine refits before it trains."""

import pytest

from annotation import judging, reviews, selectors
from annotation.models import Item, Membership, Project, TruthModel
from models_service.rounds.data import refit_consensus, training_data
from tests.factories import MembershipFactory, UserFactory, answer

pytestmark = pytest.mark.django_db
TRUTHS = ["pos", "neg", "neutral"]


@pytest.fixture
def crowd(project):
    """Two careful annotators who agree on 40 items; on 20 more, one of them against a biased
    one who answers `neg` whatever the item: a tie by votes on each where the truth is not
    neg."""
    project.overlap = 2
    project.consensus = Project.Consensus.DAWID_SKENE
    project.save()
    careful = [
        MembershipFactory(project=project, user=UserFactory(username=f"careful{n}")).user
        for n in (1, 2)
    ]
    biased = MembershipFactory(
        project=project, user=UserFactory(username="biased"), role=Membership.Role.ANNOTATOR
    ).user
    items = []
    for n in range(60):
        item = Item.objects.create(project=project, data={"text": f"item {n}"})
        truth = TRUTHS[n % 3]
        if n < 40:
            answer(item, careful[0], [truth])
            answer(item, careful[1], [truth])
        else:
            answer(item, careful[n % 2], [truth])
            answer(item, biased, ["neg"])
        items.append((item, truth))
    return project, items


def _exported(project) -> dict[int, dict]:
    return {row["id"]: row for batch in selectors.export_batches(project) for row in batch}


def test_dawid_skene_settles_the_ties_a_biased_annotator_makes(crowd):
    project, items = crowd
    tied = [(item, truth) for item, truth in items[40:] if truth != "neg"]
    before = _exported(project)
    assert all(before[item.id]["needs_review"] for item, _ in tied)  # no fit yet: majority
    refit_consensus(project)
    model = TruthModel.objects.get(project=project)
    accuracy = judging.estimated_accuracy(model)
    assert accuracy["biased"] < min(accuracy["careful1"], accuracy["careful2"])
    after = _exported(project)
    for item, truth in tied:
        assert after[item.id]["labels"] == [truth]
        assert after[item.id]["consensus"]["method"] == "dawid_skene"
        assert after[item.id]["consensus"]["confidence"] > 0.5
    assert len(training_data(project).train.ids) == 60  # no tie left out of training


def test_auto_keeps_the_majority_until_enough_items_have_several_answers(crowd, monkeypatch):
    project, items = crowd
    project.consensus = Project.Consensus.AUTO
    project.save()
    refit_consensus(project)
    assert judging.judge_for(project).method == "dawid_skene"  # 60 items answered twice
    monkeypatch.setattr(judging, "AUTO_MIN_ITEMS", 61)
    assert judging.judge_for(project).method == "majority"


def test_a_majority_project_keeps_no_fitted_model(crowd):
    project, _ = crowd
    project.consensus = Project.Consensus.MAJORITY
    project.save()
    refit_consensus(project)
    assert not TruthModel.objects.filter(project=project).exists()
    assert judging.judge_for(project).method == "majority"


def test_gold_labels_win_over_answers_and_a_verdict_over_gold(crowd, admin):
    project, items = crowd
    item, truth = items[0]
    Item.objects.filter(id=item.id).update(gold=["neutral"])
    row = _exported(project)[item.id]
    assert (row["labels"], row["consensus"]["method"], row["gold"]) == (
        ["neutral"],
        "gold",
        ["neutral"],
    )
    reviews.relabel(item=Item.objects.get(id=item.id), reviewer=admin, labels=[truth])
    row = _exported(project)[item.id]
    assert (row["labels"], row["consensus"]["method"]) == ([truth], "review")
