"""Reads that join several models: progress, exports' batches, the caller's projects."""

from collections import Counter, defaultdict
from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from annotation.models import Annotation, Item, Label, Project


def projects_of(user: AbstractBaseUser) -> QuerySet[Project]:
    """The projects the user is a member of, each with their role as `my_role`."""
    return Project.objects.filter(memberships__user=user).annotate(my_role=F("memberships__role"))


def project_progress(project: Project) -> dict:
    """Count items by status and label: {total, done, open, annotations, per_label: {name: n}}.

    `per_label` counts items that at least one annotator gave that label.
    """
    by_status = dict(
        Item.objects.filter(project=project)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    per_label = dict(
        Label.objects.filter(project=project)
        .annotate(n=Count("annotations__item", distinct=True))
        .values_list("name", "n")
    )
    annotations = Annotation.objects.filter(item__project=project).aggregate(
        labelled=Count("id", filter=Q(skipped=False)), skipped=Count("id", filter=Q(skipped=True))
    )
    return {
        "total": sum(by_status.values()),
        "done": by_status.get(Item.Status.DONE, 0),
        "open": by_status.get(Item.Status.OPEN, 0),
        "annotations": annotations["labelled"],
        "skips": annotations["skipped"],
        "per_label": per_label,
    }


def export_batches(project: Project, *, batch_size: int = 2_000) -> Iterator[list[dict]]:
    """Yield the project's items in id order, a batch at a time, each with its answers.

    Three queries a batch whatever its size, each bounded by the batch's id range (no long IN
    lists); memory holds one batch. `data_json` is the item's data as stored JSON text, passed
    through undecoded; `text` is its text field. `labels` is what at least half of the item's
    (non-skipping) annotators chose: the annotator's own for overlap 1.
    """
    last_id = 0
    while True:
        items = list(
            Item.objects.filter(project=project, id__gt=last_id)
            .order_by("id")
            .annotate(data_json=Cast("data", TextField()), text=KeyTextTransform("text", "data"))
            .values("id", "external_id", "data_json", "text", "status", "annotation_count")[
                :batch_size
            ]
        )
        if not items:
            return
        answers = _answers_by_item(project, after=last_id, up_to=items[-1]["id"])
        last_id = items[-1]["id"]
        for item in items:
            item["annotations"] = answers.get(item["id"], [])
            item["labels"] = _majority(item["annotations"])
        yield items


_ANSWER_FIELDS = ["skipped", "ambiguous", "needs_expert", "lead_time_ms", "comment"]


def _answers_by_item(project: Project, *, after: int, up_to: int) -> dict[int, list[dict]]:
    """Answers to the project's items with ids in (after, up_to], by item id."""
    in_range = {"item__project": project, "item_id__gt": after, "item_id__lte": up_to}
    names: dict[int, list[str]] = defaultdict(list)
    through = Annotation.labels.through.objects.filter(
        **{f"annotation__{key}": value for key, value in in_range.items()}
    )
    for annotation_id, label_name in through.order_by("label__order", "label_id").values_list(
        "annotation_id", "label__name"
    ):
        names[annotation_id].append(label_name)
    rows = (
        Annotation.objects.filter(**in_range)
        .order_by("id")
        .values("id", "item_id", "annotator__username", "created_at", *_ANSWER_FIELDS)
    )
    by_item: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        answer = {"annotator": row["annotator__username"], "labels": names.get(row["id"], [])}
        answer |= {field: row[field] for field in _ANSWER_FIELDS}
        answer["created_at"] = row["created_at"].isoformat()
        by_item[row["item_id"]].append(answer)
    return by_item


def _majority(answers: list[dict]) -> list[str]:
    counted = [answer for answer in answers if not answer["skipped"]]
    votes = Counter(label for answer in counted for label in answer["labels"])
    return sorted(label for label, n in votes.items() if 2 * n >= len(counted))
