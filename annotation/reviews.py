"""The owner of reviews: a reviewer's (or admin's) verdict on an item's labels, and the one
rule for what a verdict does to the item's labels (the latest verdict wins over whatever the
answers agree on, in the export, the pages and training).

A verdict is not an answer: it neither counts towards the overlap nor takes a lease, so a
reviewer can correct any item, answered by anyone or by nobody, without the queue's rules
about who may answer what. Every verdict is kept (who, when, from which labels to which):
the item's history reads them back.
"""

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotation import judging, label_issues
from annotation.answers import check_label_names
from annotation.errors import InvalidLabels
from annotation.events import announce_after_commit, answers_recorded
from annotation.models import Annotation, Item, Review


@transaction.atomic
def relabel(*, item: Item, reviewer: User, labels: list[str], comment: str = "") -> Review:
    """Give the item its final labels, as the reviewer's verdict; the item's previous labels
    (its last verdict, or what its answers agreed on) are kept with it, and its open label
    issues are resolved (annotation.label_issues). A round may be due: the model trains on
    verdicts."""
    project = item.project
    check_label_names(labels, multi_label=project.is_multi_label)
    known = set(project.labels.values_list("name", flat=True))
    if unknown := [name for name in labels if name not in known]:
        raise InvalidLabels(f"not labels of this project: {', '.join(unknown)}", field="labels")
    Item.objects.select_for_update().filter(id=item.id).first()  # one verdict at a time
    order = {name: n for n, name in enumerate(project.labels.values_list("name", flat=True))}
    review = Review.objects.create(
        item=item,
        reviewer=reviewer,
        reviewer_name=reviewer.get_username(),
        labels=sorted(labels, key=order.__getitem__),
        previous=current_labels(item),
        comment=comment,
        created_at=timezone.now(),
    )
    label_issues.resolve(item=item, by=review.reviewer_name, at=review.created_at)
    announce_after_commit(answers_recorded, project_id=project.id)
    return review


def current_labels(item: Item) -> list[str]:
    """The item's labels now: its latest verdict's, else its gold labels, else what the
    project's judging makes of its answers (annotation.judging)."""
    latest = latest_verdicts([item.id]).get(item.id)
    answers = [
        (answer.annotator.get_username(), list(answer.labels.values_list("name", flat=True)))
        for answer in Annotation.objects.filter(item=item, skipped=False).select_related(
            "annotator"
        )
    ]
    agreement = judging.judge_for(item.project).agreement(
        answers, verdict=latest.labels if latest else None, gold=item.gold
    )
    return agreement.labels if agreement else []


def latest_verdicts(item_ids: Sequence[int]) -> dict[int, Review]:
    """The latest verdict of each of the items that have one, in one query."""
    return _latest(Review.objects.filter(item_id__in=item_ids))


def verdicts_between(*, project_id: int, after: int, up_to: int) -> dict[int, Review]:
    """The latest verdict of each of the project's items with ids in (after, up_to]: one
    query bounded by the range, as the export's batches read answers."""
    return _latest(
        Review.objects.filter(item__project_id=project_id, item_id__gt=after, item_id__lte=up_to)
    )


def project_verdicts(project_id: int, *, until: datetime | None = None) -> dict[int, Review]:
    """The latest verdict of each of the project's reviewed items (given until a moment)."""
    found = Review.objects.filter(item__project_id=project_id)
    if until is not None:
        found = found.filter(created_at__lte=until)
    return _latest(found)


def _latest(reviews: QuerySet[Review]) -> dict[int, Review]:
    latest: dict[int, Review] = {}
    for review in reviews.order_by("item_id", "id"):
        latest[review.item_id] = review
    return latest


def history(item: Item) -> list[Review]:
    """Every verdict on the item, oldest first."""
    return list(Review.objects.filter(item=item).order_by("id"))
