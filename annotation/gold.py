"""Gold items: items whose labels an admin knows. Served unannounced to a share of each
annotator's serves (the project's `gold_share`), they measure each annotator's accuracy on
known answers; their labels are their truth in the export and in training (annotation.judging),
once, whoever answered them. The owner of Item.gold: an admin marks an item on its page or
through the API (`mark`), an import's rows bring `gold` (checked by `known`, written with new
items, through `write` on items already present).
"""

from collections import defaultdict
from collections.abc import Mapping

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotation import audit, label_issues
from annotation.answers import check_label_names
from annotation.errors import InvalidLabels
from annotation.models import Annotation, Item, Project


def known(labels: list[str], order: Mapping[str, int], *, multi_label: bool) -> list[str]:
    """The gold labels `labels` names, in the project's order (`order`: each of its label
    names' position): InvalidLabels unless they are its labels, as many as its task type takes
    (one in a single-label project), none twice."""
    check_label_names(labels, multi_label=multi_label)
    if unknown := [name for name in labels if name not in order]:
        raise InvalidLabels(f"not labels of this project: {', '.join(unknown)}", field="labels")
    return sorted(labels, key=order.__getitem__)


def label_order(project: Project) -> dict[str, int]:
    """Each of the project's label names' position, as `known` takes them."""
    return {name: n for n, name in enumerate(project.labels.values_list("name", flat=True))}


@transaction.atomic
def mark(*, item: Item, labels: list[str], actor: User | None = None) -> Item:
    """Make the item gold with these labels (names of the project's labels, as many as its
    task type takes), or change its gold labels; its open label issues are settled by the
    admin (`actor`), as a reviewer's verdict settles them. The audit log keeps the change
    (gold labels move every annotator's accuracy on gold)."""
    project = item.project
    before = item.gold
    item.gold = known(labels, label_order(project), multi_label=project.is_multi_label)
    write({item.id: item.gold}, by=actor.get_username() if actor is not None else "")
    if before != item.gold:
        audit.record(
            project=project,
            actor=actor,
            action=audit.Action.GOLD_MARKED,
            item=item.id,
            **{"from": before, "to": item.gold},
        )
    return item


def write(gold: Mapping[int, list[str]], *, by: str) -> None:
    """Set these items' gold labels (item id -> labels already checked by `known`) and resolve
    their open label issues (annotation.label_issues): gold labels are their truth, so what a
    round suspected of their labels is settled, by `by` (a username). One UPDATE per distinct
    set of labels, one for the issues."""
    ids_by_labels: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for item_id, labels in gold.items():
        ids_by_labels[tuple(labels)].append(item_id)
    for names, item_ids in ids_by_labels.items():
        Item.objects.filter(id__in=item_ids).update(gold=list(names))
    label_issues.resolve_items(item_ids=list(gold), by=by, at=timezone.now())


@transaction.atomic
def unmark(*, item: Item, actor: User | None = None) -> Item:
    """The item is an ordinary item again; its answers stay. The audit log keeps the labels
    it had, by whom (`actor`) they were dropped."""
    before = item.gold
    Item.objects.filter(id=item.id).update(gold=None)
    item.gold = None
    if before is not None:
        audit.record(
            project=item.project,
            actor=actor,
            action=audit.Action.GOLD_UNMARKED,
            item=item.id,
            **{"from": before},
        )
    return item


def accuracy_on_gold(project: Project) -> dict[str, tuple[int, int]]:
    """Each annotator's (right, answered) on the project's gold items: an answer is right when
    its labels are the gold labels exactly. Skips are not answers here. One query."""
    answers = Annotation.objects.filter(
        item__project=project, item__gold__isnull=False, skipped=False
    ).values_list("id", "annotator__username", "item__gold", "labels__name")
    chosen: dict[int, tuple[str, list[str], set[str]]] = {}
    for answer_id, who, gold, name in answers:
        labels = chosen.setdefault(answer_id, (who, gold or [], set()))[2]
        if name is not None:
            labels.add(name)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for who, gold, labels in chosen.values():
        tally[who][0] += labels == set(gold)
        tally[who][1] += 1
    return {who: (right, answered) for who, (right, answered) in tally.items()}
