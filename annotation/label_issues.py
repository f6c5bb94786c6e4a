"""The owner of LabelIssue: labelled items whose label is likely wrong, as the engine finds them
after a round (confident learning on out-of-sample probabilities), waiting for a reviewer.

The open issues are a short list for people, not a log: each run replaces them with its own
top `label_issue_cap`, so the list follows the newest model and an item whose label changed
since leaves it. What a reviewer judged stays: a verdict on an item resolves its issues, and
a resolved (item, label) is never flagged again; nor is any item with a verdict or gold
labels, whose labels are its truth (annotation.judging). Marking an item gold resolves its
open issues too (annotation.gold), as a verdict does.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from annotation.models import Item, LabelIssue, Project, Review

_BATCH = 500  # ids per IN list (SQLite's bound on parameters is far above)


@dataclass(frozen=True)
class Suspect:
    """An item whose `label` the model doubts: how likely it finds that label out of sample
    (low: suspicious) and the label it reads instead."""

    item_id: int
    label: str
    suggested: str
    self_confidence: float


@transaction.atomic
def record(project_id: int, suspects: Sequence[Suspect]) -> int:
    """Make the project's open issues the first `label_issue_cap` of `suspects` (one run over
    its labelled items, most suspicious first) that no reviewer has judged: open issues the
    run no longer names are withdrawn, those it names again keep their `found_at` and take
    the new figures. Returns how many issues are new."""
    # one run at a time; NO KEY: rows that refer to the project (a round's ranking) still insert
    project = Project.objects.select_for_update(no_key=True).filter(id=project_id).first()
    if project is None:
        return 0  # deleted while the model looked
    chosen = _unjudged(project_id, suspects)[: project.label_issue_cap]
    wanted = {(suspect.item_id, suspect.label): suspect for suspect in chosen}
    open_now = {
        (issue.item_id, issue.label): issue
        for issue in LabelIssue.objects.filter(
            item__project_id=project_id, resolved_at__isnull=True
        )
    }
    gone = [issue.id for key, issue in open_now.items() if key not in wanted]
    for start in range(0, len(gone), _BATCH):
        LabelIssue.objects.filter(id__in=gone[start : start + _BATCH]).delete()
    again = [issue for key, issue in open_now.items() if key in wanted]
    for issue in again:
        issue.suggested = wanted[issue.item_id, issue.label].suggested
        issue.self_confidence = wanted[issue.item_id, issue.label].self_confidence
    LabelIssue.objects.bulk_update(again, ["suggested", "self_confidence"], batch_size=_BATCH)
    now = timezone.now()
    new = [
        LabelIssue(
            item_id=suspect.item_id,
            label=suspect.label,
            suggested=suspect.suggested,
            self_confidence=suspect.self_confidence,
            found_at=now,
        )
        for key, suspect in wanted.items()
        if key not in open_now
    ]
    LabelIssue.objects.bulk_create(new, batch_size=_BATCH)
    return len(new)


def _unjudged(project_id: int, suspects: Sequence[Suspect]) -> list[Suspect]:
    """The suspects a reviewer has not settled: no resolved issue for that item and label, no
    verdict on the item, no gold labels."""
    resolved = set(
        LabelIssue.objects.filter(
            item__project_id=project_id, resolved_at__isnull=False
        ).values_list("item_id", "label")
    )
    settled = set(
        Review.objects.filter(item__project_id=project_id).values_list("item_id", flat=True)
    )
    settled.update(
        Item.objects.filter(project_id=project_id, gold__isnull=False).values_list("id", flat=True)
    )
    return [
        suspect
        for suspect in suspects
        if suspect.item_id not in settled and (suspect.item_id, suspect.label) not in resolved
    ]


def resolve(*, item: Item, by: str, at: datetime) -> int:
    """A reviewer gave the item a verdict: its open issues are resolved (by whom, when), so
    the same labels are not flagged again. Returns how many."""
    return resolve_items(item_ids=[item.id], by=by, at=at)


def resolve_items(*, item_ids: Sequence[int], by: str, at: datetime) -> int:
    """Resolve the open issues of these items, as `resolve` does one's (an admin made them
    gold: annotation.gold). Returns how many."""
    resolved = 0
    for start in range(0, len(item_ids), _BATCH):
        resolved += LabelIssue.objects.filter(
            item_id__in=item_ids[start : start + _BATCH], resolved_at__isnull=True
        ).update(resolved_at=at, resolved_by=by)
    return resolved


def open_issues(project: Project, *, include_resolved: bool = False) -> QuerySet[LabelIssue]:
    """The project's open issues, most suspicious first (lowest self-confidence), with their
    items; resolved ones too, after them, if asked (latest resolved first)."""
    issues = LabelIssue.objects.filter(item__project=project).select_related("item")
    if not include_resolved:
        return issues.filter(resolved_at__isnull=True).order_by("self_confidence", "id")
    return issues.order_by(F("resolved_at").desc(nulls_first=True), "self_confidence", "id")
