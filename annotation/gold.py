"""Gold items: items whose labels an admin knows. Served unannounced to a share of each
annotator's serves (the project's `gold_share`), they measure each annotator's accuracy on
known answers; their labels are their truth in the export and in training (annotation.judging),
once, whoever answered them. The owner of Item.gold.
"""

from collections import defaultdict

from django.db import transaction

from annotation.answers import check_label_names
from annotation.errors import InvalidLabels
from annotation.models import Annotation, Item, Project


@transaction.atomic
def mark(*, item: Item, labels: list[str]) -> Item:
    """Make the item gold with these labels (names of the project's labels, as many as its
    task type takes), or change its gold labels."""
    project = item.project
    check_label_names(labels, multi_label=project.is_multi_label)
    order = {name: n for n, name in enumerate(project.labels.values_list("name", flat=True))}
    if unknown := [name for name in labels if name not in order]:
        raise InvalidLabels(f"not labels of this project: {', '.join(unknown)}", field="labels")
    item.gold = sorted(labels, key=order.__getitem__)
    Item.objects.filter(id=item.id).update(gold=item.gold)
    return item


def unmark(*, item: Item) -> Item:
    """The item is an ordinary item again; its answers stay."""
    Item.objects.filter(id=item.id).update(gold=None)
    item.gold = None
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
