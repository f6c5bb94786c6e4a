"""The owner of the review queue: which items a reviewer should look at, and why.

An item is up for review for one or more reasons:
- `disagreement`: no more answers are coming (the item is done) and its answers disagree so
  much that the consensus is a tie, unsure, or below the project's `consensus_threshold`.
  Unanimous answers are never a disagreement, even where Dawid-Skene doubts them (a lone
  answer from a middling annotator at overlap 1): that is the annotator's quality, which the
  annotators' view reports, not an item to adjudicate, and counting it would send most of
  such a project's items to review.
- `flagged`: an annotator marked it ambiguous or needing an expert, or skipped it saying why.
- `label_issue`: an unresolved likely label error (LabelIssue, annotation.label_issues).
- `model_disagrees`: the serving model is at least MODEL_SURE of other labels than a
  consensus that is itself at least `consensus_threshold` sure (the item is done).
- `sampled`: a fixed draw of `review_sample` of the answered items (not gold: their truth is
  known), for an estimate of label quality; a draw of its own, not the agreement sample's,
  so that the reviewed sample is not all doubly answered items.

A verdict (annotation.reviews) takes the item out of the queue, unless a label issue was
found after it. The queue has no table of its own: `next_for_review` walks the answered
items in id order from a cursor, a batch at a time, and asks each batch's reasons in a few
queries bounded by the batch's id range, most of them answered by the database (only the
few candidates for a consensus reason come back to be judged here). Id order keeps a
reviewer's place without a lease: two reviewers may meet the same item, and the second
verdict is kept too, in its history.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Max, Q

from annotation import judging, selectors
from annotation.consensus import GOLD, VERDICT, Agreement
from annotation.models import (
    Annotation,
    Item,
    Label,
    LabelIssue,
    Project,
    RankedItem,
    Ranking,
    Review,
)
from hitl.converters import LARGEST_ID

DISAGREEMENT, FLAGGED, LABEL_ISSUE = "disagreement", "flagged", "label_issue"
MODEL_DISAGREES, SAMPLED = "model_disagrees", "sampled"
REASONS = {  # code: what the page says
    DISAGREEMENT: "The answers disagree",
    FLAGGED: "An annotator flagged it",
    LABEL_ISSUE: "Likely label error",
    MODEL_DISAGREES: "The model disagrees",
    SAMPLED: "Sampled for a quality check",
}
MODEL_SURE = 0.9  # the serving model's confidence from which its disagreement counts
# Answered items a step of the walk judges: the first step few (an item up for review near the
# cursor comes fast), each next twice as many up to the most (a long walk pays the per-step
# cost of seven queries less often).
BATCH, MOST = 500, 8_000

ITEM, ANSWER, RANKED = Item._meta.db_table, Annotation._meta.db_table, RankedItem._meta.db_table
ANSWER_LABELS, LABEL = Annotation.labels.through._meta.db_table, Label._meta.db_table


@dataclass(frozen=True)
class Reason:
    """Why an item is up for review: a code of REASONS and the case in words."""

    code: str
    words: str


@dataclass(frozen=True)
class UpForReview:
    item_id: int
    reasons: list[Reason]


class _Answered(NamedTuple):
    """An answered item as the walk reads it."""

    id: int
    is_gold: bool
    done: bool
    annotation_count: int


def next_for_review(project: Project, *, after: int | None = None) -> UpForReview | None:
    """The project's first item after the cursor (an item id; None: from the start) that is
    up for review, with its reasons; None when no item after the cursor is. A batch of
    answered items costs seven queries at most, whatever the reasons found in it."""
    judge, serving = judging.judge_for(project), _serving_ranking(project)
    cursor, size = after or 0, BATCH
    while True:
        answered = _answered_after(project, cursor, size)
        up_to = answered[-1].id if len(answered) == size else LARGEST_ID
        found = _reasons_between(project, answered, cursor, up_to, judge=judge, serving=serving)
        if found:
            first = min(found)
            return UpForReview(first, found[first])
        if up_to == LARGEST_ID:
            return None
        cursor, size = up_to, min(size * 2, MOST)


def in_review_sample(item_id: int, share: float) -> bool:
    """Whether the item is among the `share` of answered items sampled for review: a fixed
    draw per item (a multiplicative hash of its id, with another multiplier than the
    agreement sample's, annotation.consensus.in_agreement_sample)."""
    return ((item_id * 2_246_822_519) % 2**32) / 2**32 < share


def _serving_ranking(project: Project) -> int | None:
    return (
        Ranking.objects.filter(project=project, status=Ranking.Status.SERVING)
        .values_list("id", flat=True)
        .first()
    )


# A plain query: through the ORM, decoding each row's gold labels took half the walk's time.
_ANSWERED_AFTER = f"""
    SELECT id, gold IS NOT NULL, status = 'done', annotation_count FROM {ITEM}
    WHERE project_id = %s AND annotation_count > 0 AND id > %s ORDER BY id LIMIT %s
"""


def _answered_after(project: Project, cursor: int, size: int) -> list[_Answered]:
    """The next `size` items with a real answer after the cursor, in id order."""
    with connection.cursor() as rows:
        rows.execute(_ANSWERED_AFTER, [project.id, cursor, size])
        return [_Answered(id, bool(gold), bool(done), n) for id, gold, done, n in rows.fetchall()]


def _reasons_between(
    project: Project,
    answered: Sequence[_Answered],
    after: int,
    up_to: int,
    *,
    judge: judging.Judge,
    serving: int | None,
) -> dict[int, list[Reason]]:
    """The reasons of the project's items with ids in (after, up_to] that are up for review;
    `answered` are those with a real answer (flags and label issues find the others)."""
    span = {"item__project": project, "item_id__gt": after, "item_id__lte": up_to}
    reviewed = dict(
        Review.objects.filter(**span)
        .order_by()
        .values("item_id")
        .annotate(at=Max("created_at"))
        .values_list("item_id", "at")
    )
    reasons: dict[int, list[Reason]] = defaultdict(list)
    for item_id, words in _label_issues(span, reviewed).items():
        reasons[item_id].append(Reason(LABEL_ISSUE, words))
    for item_id, words in _flagged(span).items():
        if item_id not in reviewed:
            reasons[item_id].append(Reason(FLAGGED, words))
    done = [item for item in answered if item.done]
    consensus = _consensus_reasons(project, done, (after, up_to), judge=judge, serving=serving)
    for item_id, reason in consensus.items():
        if item_id not in reviewed:
            reasons[item_id].append(reason)
    if project.review_sample:
        words = f"one of {project.review_sample:.0%} of answered items drawn at random"
        for item in answered:
            if item.id not in reviewed and not item.is_gold:
                if in_review_sample(item.id, project.review_sample):
                    reasons[item.id].append(Reason(SAMPLED, words))
    order = list(REASONS)
    return {
        item_id: sorted(found, key=lambda reason: order.index(reason.code))
        for item_id, found in reasons.items()
    }


def _label_issues(span: dict[str, Any], reviewed: dict[int, datetime]) -> dict[int, str]:
    """Unresolved label issues, in words by item, but for those a verdict came after."""
    words: dict[int, list[str]] = defaultdict(list)
    issues = LabelIssue.objects.filter(resolved_at__isnull=True, **span).order_by("item_id", "id")
    for item_id, label, suggested, sure, found_at in issues.values_list(
        "item_id", "label", "suggested", "self_confidence", "found_at"
    ):
        if item_id in reviewed and reviewed[item_id] >= found_at:
            continue
        instead = f", the model reads {suggested}" if suggested else ""
        words[item_id].append(f"{label} is likely wrong ({sure:.0%} likely{instead})")
    return {item_id: "; ".join(found) for item_id, found in words.items()}


def _flagged(span: dict[str, Any]) -> dict[int, str]:
    """Items an answer flagged or skipped saying why, with what it said, by item."""
    flagged = Q(ambiguous=True) | Q(needs_expert=True) | (Q(skipped=True) & ~Q(skip_reason=""))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons = dict(Annotation.SkipReason.choices)
    for item_id, ambiguous, needs_expert, skip_reason in (
        Annotation.objects.filter(flagged, **span)
        .order_by("item_id", "id")
        .values_list("item_id", "ambiguous", "needs_expert", "skip_reason")
    ):
        said = ["ambiguous"] * ambiguous + ["needs an expert"] * needs_expert
        if skip_reason:
            said.append(f"skipped: {reasons.get(skip_reason, skip_reason).lower()}")
        for words in said:
            counts[item_id][words] += 1
    return {
        item_id: ", ".join(f"{words} ({n})" if n > 1 else words for words, n in said.items())
        for item_id, said in counts.items()
    }


# Items in a range whose real answers (two or more) are not all the same: summed over the
# labels given, the answers that gave each fall short of every answer giving every one of
# them. Neither query reads the item table, and each table's range is given, so that each is
# read through its (item) index within the batch: with a join to the items, PostgreSQL read
# the project's every item a batch; with a list of ids in place of the range, the whole
# ranking. Other projects' items in the range are let through here, and dropped after.
_NOT_UNANIMOUS = f"""
    SELECT a.item_id FROM {ANSWER} a
    LEFT JOIN {ANSWER_LABELS} al ON al.annotation_id = a.id
    WHERE a.item_id > %(after)s AND a.item_id <= %(up_to)s AND NOT a.skipped
    GROUP BY a.item_id
    HAVING COUNT(DISTINCT a.id) >= 2
      AND COUNT(al.label_id) <> COUNT(DISTINCT al.label_id) * COUNT(DISTINCT a.id)
"""
# Items in a range the serving model is sure of, whose predicted labels some real answer did
# not give exactly (a label predicted and not chosen, or chosen and not predicted).
_MODEL_AGAINST = f"""
    SELECT r.item_id, r.predicted, r.confidence FROM {RANKED} r
    WHERE r.ranking_id = %(ranking)s AND r.item_id > %(after)s AND r.item_id <= %(up_to)s
      AND r.confidence >= %(sure)s
      AND EXISTS (
        SELECT 1 FROM {ANSWER} a
        WHERE a.item_id = r.item_id AND a.item_id > %(after)s AND a.item_id <= %(up_to)s
          AND NOT a.skipped AND (
          EXISTS (
            SELECT 1 FROM {{elements}} WHERE p.value NOT IN (
              SELECT l.name FROM {ANSWER_LABELS} al JOIN {LABEL} l ON l.id = al.label_id
              WHERE al.annotation_id = a.id))
          OR EXISTS (
            SELECT 1 FROM {ANSWER_LABELS} al JOIN {LABEL} l ON l.id = al.label_id
            WHERE al.annotation_id = a.id AND l.name NOT IN (SELECT p.value FROM {{elements}}))))
"""
_ELEMENTS = {  # the predicted names as rows of one column, `p.value`
    "postgresql": "jsonb_array_elements_text(r.predicted) AS p(value)",
    "sqlite": "json_each(r.predicted) AS p",
}


def _consensus_reasons(
    project: Project,
    done: list[_Answered],
    bounds: tuple[int, int],
    *,
    judge: judging.Judge,
    serving: int | None,
) -> dict[int, Reason]:
    """`disagreement` and `model_disagrees` of the done items of a batch, ids in (after,
    up_to]: the database finds the candidates (answers not unanimous; a sure model against
    some answer), and only those are judged here."""
    ids = {item.id for item in done}
    split: set[int] = set()
    against: dict[int, tuple[list[str], float]] = {}
    span = {"after": bounds[0], "up_to": bounds[1]}
    with connection.cursor() as cursor:
        if any(item.annotation_count >= 2 for item in done):  # one answer is unanimous
            cursor.execute(_NOT_UNANIMOUS, span)
            split = {item_id for (item_id,) in cursor.fetchall() if item_id in ids}
        if serving is not None and done:
            sql = _MODEL_AGAINST.format(elements=_ELEMENTS[connection.vendor])
            cursor.execute(sql, span | {"ranking": serving, "sure": MODEL_SURE})
            for item_id, predicted, confidence in cursor.fetchall():
                if item_id in ids:
                    against[item_id] = (_names(predicted), confidence)
    if not split and not against:
        return {}
    candidates = sorted(split | set(against))
    agreements = _agreements(judge, candidates, gold=any(item.is_gold for item in done))
    found: dict[int, Reason] = {}
    threshold = project.consensus_threshold
    for item_id, agreement in agreements.items():
        if agreement is None or agreement.method in (VERDICT, GOLD):
            continue
        if item_id in split and (agreement.needs_review or agreement.confidence < threshold):
            found[item_id] = Reason(DISAGREEMENT, _disagreement_words(agreement, threshold))
        elif item_id in against and agreement.confidence >= threshold:
            predicted, sure = against[item_id]
            if sorted(predicted) != sorted(agreement.labels):
                words = (
                    f"the model is {sure:.0%} sure of {', '.join(predicted) or '(none)'}, "
                    f"the consensus {agreement.confidence:.0%} of "
                    f"{', '.join(agreement.labels) or '(none)'}"
                )
                found[item_id] = Reason(MODEL_DISAGREES, words)
    return found


def _names(predicted: Any) -> list[str]:
    """A JSON column's list: decoded by the driver on PostgreSQL, text on SQLite."""
    return json.loads(predicted) if isinstance(predicted, str) else list(predicted)


def _disagreement_words(agreement: Agreement[str], threshold: float) -> str:
    if not agreement.labels:
        return f"a tie ({agreement.confidence:.0%} each), and no more answers are coming"
    return (
        f"the consensus is {agreement.confidence:.0%} sure of {', '.join(agreement.labels)} "
        f"(below {threshold:.0%}), and no more answers are coming"
    )


def _agreements(
    judge: judging.Judge, item_ids: list[int], *, gold: bool
) -> dict[int, Agreement[str] | None]:
    """The consensus of each of the items (a few: the candidates of one batch) from their
    real answers and, where `gold` says some may have them, their gold labels; one query, two
    with gold."""
    answers: dict[int, dict[int, tuple[str, list[str]]]] = defaultdict(dict)
    given = Annotation.objects.filter(item_id__in=item_ids, skipped=False).order_by("id")
    # a row per label chosen (one with None for an answer without labels)
    for item_id, answer_id, who, name in given.values_list(
        "item_id", "id", "annotator__username", "labels__name"
    ):
        chosen = answers[item_id].setdefault(answer_id, (who, []))[1]
        if name is not None:
            chosen.append(name)
    known: dict[int, Any] = {}  # gold labels by item
    if gold:
        golden = Item.objects.filter(id__in=item_ids, gold__isnull=False)
        known = dict(golden.values_list("id", "gold"))
    return {
        item_id: judge.agreement(list(answers[item_id].values()), gold=known.get(item_id))
        for item_id in item_ids
    }


def review_sheet(project: Project, found: UpForReview) -> dict[str, Any]:
    """What a reviewer sees of an item up for review: the item, why it is up, every answer
    (who gave it, or "annotator 1", "annotator 2"... in answer order when the project
    anonymizes reviews: the same person the same number throughout the item, its history
    too), its labels now and the consensus behind them, the serving model's prediction, and
    the item's history. Eight queries."""
    item = Item.objects.get(id=found.item_id)
    row: dict[str, Any] = {"id": item.id, "gold": item.gold}
    selectors.add_answers(project, [row])
    answers = row["annotations"]
    if project.anonymize_reviews:
        selectors.anonymize(answers)
    return {
        "item": item,
        "reasons": [
            {"code": reason.code, "name": REASONS[reason.code], "words": reason.words}
            for reason in found.reasons
        ],
        "answers": answers,
        "labels": row["labels"],
        "consensus": row["consensus"],
        "prediction": selectors.prediction_of(project, item.id),
        "history": selectors.item_history(item, answers),
    }
