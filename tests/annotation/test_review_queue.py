"""The review queue: which items a reviewer looks at and why (annotation.review_queue), each
reason on its own, the verdict that takes an item out, and the walk from a cursor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import review_queue, reviews
from annotation.models import Item, LabelIssue
from tests.factories import ProjectFactory, UserFactory, answer, serve, skip

pytestmark = pytest.mark.django_db


def _item(project, text="an item") -> Item:
    return Item.objects.create(project=project, data={"text": text})


def _queue(project, after=None) -> list[tuple[int, list[str]]]:
    """Every item up for review, walking the cursor as a reviewer who passes on each does."""
    found, cursor = [], after
    while (up := review_queue.next_for_review(project, after=cursor)) is not None:
        found.append((up.item_id, [reason.code for reason in up.reasons]))
        cursor = up.item_id
    return found


@pytest.fixture
def pair(project, annotator, admin):
    """A project where every item takes two answers, and its two annotators."""
    project.overlap = 2
    project.save()
    return annotator, admin


def test_a_done_item_whose_answers_tie_is_a_disagreement(project, pair):
    tie, agreed = _item(project), _item(project)
    answer(tie, pair[0], ["pos"])
    answer(tie, pair[1], ["neg"])
    answer(agreed, pair[0], ["pos"])
    answer(agreed, pair[1], ["pos"])
    assert _queue(project) == [(tie.id, ["disagreement"])]
    words = review_queue.next_for_review(project).reasons[0].words
    assert "tie" in words


def test_a_majority_below_the_threshold_is_a_disagreement_and_one_above_is_not(
    project, annotator, admin, reviewer
):
    project.overlap = 3
    project.save()
    two_of_three = _item(project)
    for user, label in zip((annotator, admin, reviewer), ("pos", "pos", "neg"), strict=True):
        answer(two_of_three, user, [label])
    assert _queue(project) == [(two_of_three.id, ["disagreement"])]
    project.consensus_threshold = 0.6  # 2 of 3 is 67% sure: enough now
    project.save()
    assert _queue(project) == []


def test_an_item_still_collecting_answers_is_no_disagreement_yet(project, pair):
    project.overlap, project.max_overlap = 2, 3
    project.save()
    item = _item(project)
    answer(item, pair[0], ["pos"])
    answer(item, pair[1], ["neg"])
    assert Item.objects.get(id=item.id).status == Item.Status.OPEN  # a third answer is due
    assert _queue(project) == []


def test_flags_and_skips_with_a_reason_put_an_item_up_at_once(project, annotator):
    ambiguous, expert, skipped, plain_skip, plain = (_item(project, str(n)) for n in range(5))
    answer(ambiguous, annotator, ["pos"], ambiguous=True)
    answer(expert, annotator, ["neg"], needs_expert=True)
    skip(skipped, annotator, reason="off_topic")
    skip(plain_skip, annotator)
    answer(plain, annotator, ["pos"])
    assert _queue(project) == [
        (ambiguous.id, ["flagged"]),
        (expert.id, ["flagged"]),
        (skipped.id, ["flagged"]),
    ]
    words = [up.reasons[0].words for up in map(_up(project), (ambiguous, expert, skipped))]
    assert words == ["ambiguous", "needs an expert", "skipped: off topic"]


def _up(project):
    return lambda item: review_queue.next_for_review(project, after=item.id - 1)


def test_an_unresolved_label_issue_puts_an_item_up(project, annotator):
    suspect, resolved = _item(project), _item(project)
    for item in (suspect, resolved):
        answer(item, annotator, ["pos"])
    now = timezone.now()
    LabelIssue.objects.create(
        item=suspect, label="pos", suggested="neg", self_confidence=0.04, found_at=now
    )
    LabelIssue.objects.create(
        item=resolved, label="pos", self_confidence=0.1, found_at=now, resolved_at=now
    )
    assert _queue(project) == [(suspect.id, ["label_issue"])]
    assert review_queue.next_for_review(project).reasons[0].words == (
        "pos is likely wrong (4% likely, the model reads neg)"
    )


def test_a_sure_model_against_a_sure_consensus_puts_an_item_up(project, annotator):
    against, unsure_model, agreeing = _item(project), _item(project), _item(project)
    for item in (against, unsure_model, agreeing):
        answer(item, annotator, ["pos"])
    serve(
        project, {against: (["neg"], 0.95), unsure_model: (["neg"], 0.8), agreeing: (["pos"], 0.99)}
    )
    assert _queue(project) == [(against.id, ["model_disagrees"])]
    assert review_queue.next_for_review(project).reasons[0].words == (
        "the model is 95% sure of neg, the consensus 100% of pos"
    )


def test_the_model_against_an_unsure_consensus_is_a_disagreement_only(project, pair):
    tie = _item(project)
    answer(tie, pair[0], ["pos"])
    answer(tie, pair[1], ["neg"])
    serve(project, {tie: (["neg"], 0.97)})
    assert _queue(project) == [(tie.id, ["disagreement"])]


def test_the_model_against_a_multi_label_consensus(annotator):
    project = ProjectFactory(labels=["a", "b", "c"], task_type="multi_label")
    annotator.memberships.create(project=project, role="annotator")
    fewer, same = _item(project), _item(project)
    answer(fewer, annotator, ["a", "b"])
    answer(same, annotator, ["a", "b"])
    serve(project, {fewer: (["a"], 0.93), same: (["b", "a"], 0.93)})
    assert _queue(project) == [(fewer.id, ["model_disagrees"])]


def test_a_review_sample_draws_a_fixed_share_of_answered_items_not_gold(project, annotator):
    items = [_item(project, str(n)) for n in range(200)]
    for item in items:
        answer(item, annotator, ["pos"])
    gold = _item(project, "gold")
    gold.gold = ["pos"]
    gold.save()
    answer(gold, annotator, ["pos"])
    assert _queue(project) == []
    project.review_sample = 0.25
    project.save()
    sampled = [item_id for item_id, codes in _queue(project) if codes == ["sampled"]]
    assert 30 <= len(sampled) <= 70  # a quarter of 200, give or take the draw
    assert [item_id for item_id, _ in _queue(project)] == sampled  # the same draw again
    assert gold.id not in sampled
    project.review_sample = 1.0
    project.save()
    assert len(_queue(project)) == 200


def test_an_item_with_several_reasons_shows_them_all(project, pair):
    project.review_sample = 1.0
    project.save()
    item = _item(project)
    answer(item, pair[0], ["pos"], ambiguous=True)
    answer(item, pair[1], ["neg"])
    assert _queue(project) == [(item.id, ["disagreement", "flagged", "sampled"])]


def test_a_verdict_takes_an_item_out_and_it_is_not_flagged_again(project, pair, reviewer):
    project.review_sample = 1.0
    project.save()
    item = _item(project)
    answer(item, pair[0], ["pos"], needs_expert=True)
    answer(item, pair[1], ["neg"])
    LabelIssue.objects.create(
        item=item, label="pos", self_confidence=0.1, found_at=timezone.now() - timedelta(hours=1)
    )
    assert _queue(project) == [(item.id, ["disagreement", "flagged", "label_issue", "sampled"])]
    reviews.relabel(item=item, reviewer=reviewer, labels=["neg"])
    assert _queue(project) == []


def test_a_label_issue_found_after_the_verdict_brings_the_item_back(project, annotator, reviewer):
    item = _item(project)
    answer(item, annotator, ["pos"])
    reviews.relabel(item=item, reviewer=reviewer, labels=["pos"])
    LabelIssue.objects.create(
        item=item, label="pos", self_confidence=0.05, found_at=timezone.now() + timedelta(seconds=1)
    )
    assert _queue(project) == [(item.id, ["label_issue"])]


def test_the_walk_crosses_batches_and_finds_skips_past_the_last_answer(
    project, annotator, monkeypatch
):
    monkeypatch.setattr(review_queue, "BATCH", 3)
    items = [_item(project, str(n)) for n in range(10)]
    for n, item in enumerate(items[:9]):
        answer(item, annotator, ["pos"], ambiguous=n in (1, 7))
    skip(items[9], annotator, reason="broken")  # no real answer: only the flag finds it
    other = ProjectFactory(labels=["pos"])  # another project's flags stay its own
    other_item = _item(other)
    annotator.memberships.create(project=other, role="annotator")
    answer(other_item, annotator, ["pos"], ambiguous=True)
    assert _queue(project) == [
        (items[1].id, ["flagged"]),
        (items[7].id, ["flagged"]),
        (items[9].id, ["flagged"]),
    ]
    assert _queue(project, after=items[7].id) == [(items[9].id, ["flagged"])]


def test_a_batch_costs_a_fixed_number_of_queries(project, annotator, django_assert_num_queries):
    users = [UserFactory() for _ in range(3)]
    for user in users:
        user.memberships.create(project=project, role="annotator")
    project.overlap = 3
    project.save()
    for n in range(30):
        item = _item(project, str(n))
        for user, label in zip(users, ("pos", "neg", "neutral" if n % 2 else "pos"), strict=True):
            answer(item, user, [label])
    serve(project, {item: (["neg"], 0.95) for item in Item.objects.filter(project=project)})
    # the judge (a fitted model?), the serving ranking; then answered items, verdicts, label
    # issues, flags, split answers, the model's candidates and the candidates' answers
    with django_assert_num_queries(9):
        found = review_queue.next_for_review(project)
    assert found is not None and found.reasons[0].code == "disagreement"


def test_the_sheet_anonymizes_answers_when_the_project_says_so(project, pair, reviewer):
    project.anonymize_reviews = True
    project.save()
    item = _item(project)
    answer(item, pair[1], ["neg"], comment="looks negative")
    answer(item, pair[0], ["pos"])
    reviews.relabel(item=item, reviewer=reviewer, labels=["neg"])
    reviews.relabel(item=item, reviewer=reviewer, labels=["pos"])  # reviewed twice
    LabelIssue.objects.create(
        item=item, label="pos", self_confidence=0.1, found_at=timezone.now() + timedelta(seconds=1)
    )
    sheet = review_queue.review_sheet(project, review_queue.next_for_review(project))
    assert [(a["annotator"], a["labels"], a["comment"]) for a in sheet["answers"]] == [
        ("annotator 1", ["neg"], "looks negative"),
        ("annotator 2", ["pos"], ""),
    ]
    whos = {event.who for event in sheet["history"]}
    assert whos == {"", "annotator 1", "annotator 2", "rita-reviewer"}
    names = {pair[0].username, pair[1].username}
    assert not names & {answer["annotator"] for answer in sheet["answers"]}


def test_gold_labels_settle_a_tie_so_a_gold_item_is_no_disagreement(project, pair):
    gold, plain = _item(project, "gold"), _item(project, "plain")
    gold.gold = ["neg"]
    gold.save()
    for item in (gold, plain):
        answer(item, pair[0], ["pos"])
        answer(item, pair[1], ["neg"])
    assert _queue(project) == [(plain.id, ["disagreement"])]
