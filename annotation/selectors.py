"""Reads that join several models: progress, exports' batches, the caller's projects, and
what the engine reads of items and answers (models_service reads annotation's rows only here).
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import orjson
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from annotation import judging, ranking, reviews, search
from annotation.consensus import Agreement
from annotation.models import Annotation, Item, Label, Lease, Project, RankedItem, Ranking, Review

ITEM, ANSWER = Item._meta.db_table, Annotation._meta.db_table
ANSWER_LABELS, LABEL = Annotation.labels.through._meta.db_table, Label._meta.db_table


def projects_of(user: User) -> QuerySet[Project]:
    """The projects the user is a member of, each with their role as `my_role`."""
    projects = Project.objects.filter(memberships__user=user)
    # my_role is declared on Project (for the gates' instances too): this fills it
    return projects.annotate(my_role=F("memberships__role"))  # type: ignore[no-redef]


def project_progress(project: Project) -> dict:
    """Count items by status and label: {total, done, open, annotations, skips, per_label:
    {name: n}}. `per_label` counts items that at least one annotator gave that label."""
    return progress_of([project])[project.id]


def progress_of(projects: Sequence[Project]) -> dict[int, dict]:
    """project_progress of several projects, {project id: progress}, in three queries."""
    ids = [project.id for project in projects]
    by_status: dict[int, dict[str, int]] = defaultdict(dict)
    for project_id, status, n in (
        Item.objects.filter(project_id__in=ids)
        .order_by()
        .values_list("project_id", "status")
        .annotate(n=Count("id"))
    ):
        by_status[project_id][status] = n
    per_label: dict[int, dict[str, int]] = defaultdict(dict)
    for project_id, name, n in (
        Label.objects.filter(project_id__in=ids)
        .order_by("project_id", "order", "id")
        .annotate(n=Count("annotations__item", distinct=True))
        .values_list("project_id", "name", "n")
    ):
        per_label[project_id][name] = n
    answers = {
        row["item__project_id"]: row
        for row in Annotation.objects.filter(item__project_id__in=ids)
        .order_by()
        .values("item__project_id")
        .annotate(
            labelled=Count("id", filter=Q(skipped=False)),
            skipped=Count("id", filter=Q(skipped=True)),
        )
    }
    progress = {}
    counted: Mapping[str, Any]
    for project_id in ids:
        statuses, counted = by_status[project_id], answers.get(project_id, {})
        progress[project_id] = {
            "total": sum(statuses.values()),
            "done": statuses.get(Item.Status.DONE, 0),
            "open": statuses.get(Item.Status.OPEN, 0),
            "annotations": counted.get("labelled", 0),
            "skips": counted.get("skipped", 0),
            "per_label": per_label[project_id],
        }
    return progress


def recent_answers_of(user: User, project: Project, *, limit: int = 20) -> list[Annotation]:
    """The user's last `limit` answers in the project (skips too), newest first, each with
    its item and labels: the labelling page's history. Two queries."""
    answers = (
        Annotation.objects.filter(annotator=user, item__project=project)
        .select_related("item")
        .prefetch_related("labels")
        .order_by("-id")
    )
    return list(answers[:limit])


FLAGS = ("ambiguous", "needs_expert", "skipped", "reviewed", "gold")


@dataclass(frozen=True)
class ItemFilter:
    """Which of a project's items a list or an export holds; None: any. The API checks the
    values (annotation.api.serializers.ItemFilterInput)."""

    status: str | None = None  # open or done
    label: str | None = None  # some answer (the annotator's, with one) gave this label
    annotator: str | None = None  # this username answered it
    search: str | None = None  # its text holds these words (annotation.search)
    predicted: str | None = None  # the serving model predicts this label
    # one of FLAGS: an answer (the annotator's, with one) flagged or skipped it; a verdict; gold
    flag: str | None = None
    max_confidence: float | None = None  # the serving model is at most this sure of it

    def as_dict(self) -> dict[str, str | float]:
        """The filters set, for the audit log."""
        return {key: value for key, value in vars(self).items() if value is not None}


EVERY_ITEM = ItemFilter()


def filtered_items(project: Project, filters: ItemFilter = EVERY_ITEM) -> QuerySet[Item]:
    """The project's items that pass `filters`, unordered. The model's filters read the
    serving ranking (no model yet: no item passes them)."""
    items = Item.objects.filter(project=project)
    if filters.status is not None:
        items = items.filter(status=filters.status)
    if filters.search is not None:
        # before the other filters: its probe for few matches (search.matching) reads the
        # text index and the status, not a ranking probe per match (125 ms at 1M)
        items = search.matching(items, filters.search)
    # with an annotator, the label and the answers' flags are that person's
    answers = Annotation.objects.filter(item=OuterRef("pk"))
    if filters.annotator is not None:
        answers = answers.filter(annotator__username=filters.annotator)
        items = items.filter(Exists(answers))
    if filters.label is not None:
        items = items.filter(Exists(answers.filter(labels__name=filters.label)))
    if filters.flag == "gold":
        items = items.filter(gold__isnull=False)
    elif filters.flag == "reviewed":
        items = items.filter(Exists(Review.objects.filter(item=OuterRef("pk"))))
    elif filters.flag is not None:
        items = items.filter(Exists(answers.filter(**{filters.flag: True})))
    if filters.predicted is not None or filters.max_confidence is not None:
        items = _passing_the_model(project, items, filters)
    return items


def _passing_the_model(project: Project, items: QuerySet[Item], filters: ItemFilter):
    """The items whose row in the serving ranking passes the model's filters (no ranking:
    none). A scalar subquery per item, not EXISTS: PostgreSQL turned EXISTS into a join that
    read the whole ranking (a million rows, 0.7 s a page), where a probe of the ranking's
    (ranking, item) index per item in id order finds a page in a few hundred probes."""
    serving = (
        Ranking.objects.filter(project=project, status=Ranking.Status.SERVING)
        .values_list("id", flat=True)
        .first()
    )
    if serving is None:
        return items.none()
    rows = RankedItem.objects.filter(ranking_id=serving, item_id=OuterRef("pk"))
    if filters.predicted is not None:
        rows = rows.filter(_predicts(project, filters.predicted))
    if filters.max_confidence is not None:
        rows = rows.filter(confidence__lte=filters.max_confidence)
    found = Subquery(rows.values("item_id")[:1])
    return items.annotate(model_match=found).filter(model_match__isnull=False)


def _predicts(project: Project, name: str) -> Q:
    """The predicted label names hold `name`: a JSON path per place in the list (one place
    single-label), the lookup both databases have (SQLite has no JSON containment)."""
    places = project.labels.count() if project.is_multi_label else 1
    found = Q()
    for place in range(places):
        found |= Q(**{f"predicted__{place}": name})
    return found


def export_batches(
    project: Project, filters: ItemFilter = EVERY_ITEM, *, batch_size: int = 2_000
) -> Iterator[list[dict]]:
    """Yield the project's items that pass `filters` in id order, a batch at a time, each with
    its answers.

    Three queries a batch whatever its size, each bounded by the batch's id range (no long IN
    lists); memory holds one batch. `data_json` is the item's data as stored JSON text, passed
    through undecoded; `text` is its text field. `labels` is what at least half of the item's
    (non-skipping) annotators chose: the annotator's own for overlap 1.
    """
    last_id, judge = 0, judging.judge_for(project)
    while True:
        # plain dicts to the type checker too: each gets its answers and labels below
        items = cast(
            list[dict[str, Any]],
            list(
                filtered_items(project, filters)
                .filter(id__gt=last_id)
                .order_by("id")
                # `text` the annotation, not Item.text: values() reads the annotation
                .annotate(  # type: ignore[no-redef]
                    data_json=Cast("data", TextField()), text=KeyTextTransform("text", "data")
                )
                .values(
                    "id", "external_id", "data_json", "text", "status", "annotation_count", "gold"
                )[:batch_size]
            ),
        )
        if not items:
            return
        add_answers(project, items, after=last_id, judge=judge)
        last_id = items[-1]["id"]
        yield items


def add_answers(
    project: Project,
    items: list[dict[str, Any]],
    *,
    after: int | None = None,
    judge: judging.Judge | None = None,
) -> None:
    """Give each item (dicts in id order, all with ids above `after`, by default the first's)
    its `annotations`, its `labels`, whether they tie or are too unsure (`needs_review`), the
    `consensus` behind them ({labels, confidence, method}) and who gave its verdict
    (`reviewed_by`, None: not reviewed). A verdict wins, then gold labels (an item's `gold`,
    where the dict has it), then the project's judging (annotation.judging): three queries
    whatever the count, four with a fitted model and no `judge` given."""
    first = items[0]["id"] - 1 if after is None else after
    answers = _answers_by_item(project, after=first, up_to=items[-1]["id"])
    verdicts = reviews.verdicts_between(project_id=project.id, after=first, up_to=items[-1]["id"])
    judge = judge or judging.judge_for(project)
    for item in items:
        item["annotations"] = answers.get(item["id"], [])
        verdict = verdicts.get(item["id"])
        agreement = judge.agreement(
            [(a["annotator"], a["labels"]) for a in item["annotations"] if not a["skipped"]],
            verdict=verdict.labels if verdict else None,
            gold=item.get("gold"),
        )
        item["labels"] = agreement.labels if agreement else []
        item["needs_review"] = agreement.needs_review if agreement else False
        item["consensus"] = agreement and {
            "labels": agreement.labels,
            "confidence": round(agreement.confidence, 4),
            "method": agreement.method,
        }
        item["reviewed_by"] = verdict.reviewer_name if verdict else None


@dataclass(frozen=True)
class BrowsePage:
    """One page of the data browser: items in the page's order and the cursors either side
    (None: no more that way)."""

    items: list[dict[str, Any]]
    previous_before: int | None  # ask for before=this for the page before
    next_after: int | None  # ask for after=this for the page after


def browse(
    project: Project,
    filters: ItemFilter = EVERY_ITEM,
    *,
    after: int | None = None,
    before: int | None = None,
    newest_first: bool = False,
    size: int = 50,
) -> BrowsePage:
    """A page of the items that pass `filters`, each with its text, answers, labels, flags and
    the serving model's prediction, oldest first (or newest first).

    Keyset pages (ids after or before a cursor in the page's order), not offsets: the
    thousandth page of a million items costs what the first does. Five queries a page."""
    matching = filtered_items(project, filters)
    # "after" is further along the page's order: higher ids oldest first, lower newest first
    onward, backward = ("lt", "gt") if newest_first else ("gt", "lt")
    if before is not None:
        window = matching.filter(**{f"id__{backward}": before})
        window = window.order_by("id" if newest_first else "-id")
    else:
        if after is not None:
            window = matching.filter(**{f"id__{onward}": after})
        else:
            window = matching
        window = window.order_by("-id" if newest_first else "id")
    # `text` the annotation, not a field: django-stubs cannot tell (as in export_batches)
    fields = ["id", "external_id", "text", "status", "annotation_count", "gold", "created_at"]
    with_text = window.annotate(text=KeyTextTransform("text", "data"))  # type: ignore[no-redef]
    rows: list[dict[str, Any]] = list(with_text.values(*fields)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if before is not None:
        rows.reverse()
    if rows:
        in_id_order = sorted(rows, key=lambda row: row["id"])
        add_answers(project, in_id_order)
        _add_predictions(project, rows)
        for row in rows:
            row["flags"] = _flags(row)
    first, last = (rows[0]["id"], rows[-1]["id"]) if rows else (None, None)
    if before is not None:
        has_previous, has_next = more, True
    else:
        has_previous, has_next = after is not None, more
    return BrowsePage(
        items=rows,
        previous_before=first if has_previous and rows else None,
        next_after=last if has_next and rows else None,
    )


def _add_predictions(project: Project, rows: list[dict[str, Any]]) -> None:
    """Each row's `predicted` labels and `confidence` under the serving model (None: no model,
    or the item came after its round)."""
    found: dict[int, tuple[Any, Any]] = dict.fromkeys([row["id"] for row in rows], (None, None))
    ranked = RankedItem.objects.filter(
        ranking__project=project,
        ranking__status=Ranking.Status.SERVING,
        item_id__in=list(found),
    )
    for item_id, predicted, confidence in ranked.values_list("item_id", "predicted", "confidence"):
        found[item_id] = (predicted, confidence)
    for row in rows:
        row["predicted"], row["confidence"] = found[row["id"]]


def keep_own_work(row: dict[str, Any], viewer: str) -> None:
    """Trim an item row of add_answers (and browse) to what an annotator may read of it: their
    own answer, their labels and flags; no one else's answer or name, no consensus, verdict or
    gold (gold is served unannounced)."""
    row["annotations"] = [a for a in row["annotations"] if a["annotator"] == viewer]
    row["labels"] = [label for a in row["annotations"] if not a["skipped"] for label in a["labels"]]
    row.update(needs_review=False, consensus=None, reviewed_by=None, gold=None)
    if "flags" in row:
        row["flags"] = _flags(row)


def _flags(row: dict[str, Any]) -> list[str]:
    """What the item's answers and verdict say about it, as FLAGS names."""
    flags = {flag for answer in row["annotations"] for flag in FLAGS[:3] if answer.get(flag)}
    if row["reviewed_by"]:
        flags.add("reviewed")
    if row["gold"] is not None:
        flags.add("gold")
    return [flag for flag in FLAGS if flag in flags]


def prediction_of(project: Project, item_id: int) -> dict[str, Any] | None:
    """The serving model's `predicted` labels, `confidence` and `top` labels (annotation.
    ranking.top_labels; None where not stored) for one item (None: no model, or the item came
    after its round). One query."""
    found = (
        RankedItem.objects.filter(
            ranking__project=project, ranking__status=Ranking.Status.SERVING, item_id=item_id
        )
        .values_list("predicted", "confidence", "top")
        .first()
    )
    if found is None:
        return None
    predicted, confidence, top = found
    return {"predicted": predicted, "confidence": confidence, "top": ranking.top_labels(top)}


@dataclass(frozen=True)
class Event:
    """One line of an item's history."""

    at: datetime
    who: str  # "" for the import
    what: str


def anonymize(answers: list[dict[str, Any]]) -> None:
    """Name the answers' annotators "annotator 1", "annotator 2"... in answer order, the same
    person the same number throughout the item (history built from them too): what reviewers
    see of a project that anonymizes reviews."""
    names: dict[str, str] = {}
    for answer in answers:
        answer["annotator"] = names.setdefault(answer["annotator"], f"annotator {len(names) + 1}")


def item_history(
    item: Item, answers: list[dict[str, Any]], *, verdicts: bool = True
) -> list[Event]:
    """What happened to the item, oldest first: its import, each answer (and whether it was
    changed since), each verdict from which labels to which (unless not `verdicts`: an
    annotator reads their own answers only). `answers` are add_answers'."""
    events = [Event(item.created_at, "", "imported")]
    for answer in answers:
        who = answer["annotator"]
        given = "skipped it" if answer["skipped"] else ", ".join(answer["labels"]) or "(none)"
        created, changed = map(datetime.fromisoformat, (answer["created_at"], answer["updated_at"]))
        if (changed - created).total_seconds() < 1:
            events.append(Event(created, who, f"answered: {given}"))
        else:  # what it was first is not kept, only that it changed
            events.append(Event(created, who, "answered"))
            events.append(Event(changed, who, f"changed their answer: {given}"))
    for review in reviews.history(item) if verdicts else []:
        before = ", ".join(review.previous) or "(none)"
        what = f"relabelled {before} → {', '.join(review.labels) or '(none)'}"
        if review.comment:
            what += f": {review.comment}"
        events.append(Event(review.created_at, review.reviewer_name, what))
    return sorted(events, key=lambda event: event.at)


_ANSWER_FIELDS = ["skipped", "skip_reason", "ambiguous", "needs_expert", "lead_time_ms", "comment"]


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
        .values("id", "item_id", "annotator__username", "created_at", "updated_at", *_ANSWER_FIELDS)
    )
    by_item: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        answer = {"annotator": row["annotator__username"], "labels": names.get(row["id"], [])}
        answer |= {field: row[field] for field in _ANSWER_FIELDS}
        answer["created_at"] = row["created_at"].isoformat()
        answer["updated_at"] = row["updated_at"].isoformat()
        by_item[row["item_id"]].append(answer)
    return by_item


def others_answers(item_id: int, annotator_id: int) -> list[tuple[str, list[str]]]:
    """(annotator, labels) of the item's real answers by anyone but `annotator_id`, in the
    order given: what an answer is judged beside (annotation.services). One query."""
    answers: dict[int, tuple[str, list[str]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id, u.username, l.name FROM {ANSWER} a "
            f"JOIN {User._meta.db_table} u ON u.id = a.annotator_id "
            f"LEFT JOIN {ANSWER_LABELS} al ON al.annotation_id = a.id "
            f"LEFT JOIN {LABEL} l ON l.id = al.label_id "
            "WHERE a.item_id = %s AND a.annotator_id <> %s AND NOT a.skipped ORDER BY a.id",
            [item_id, annotator_id],
        )
        for answer_id, who, name in cursor.fetchall():
            chosen = answers.setdefault(answer_id, (who, []))[1]
            if name is not None:
                chosen.append(name)
    return list(answers.values())


def multiply_answered(project: Project) -> list[tuple[int, str, frozenset[str]]]:
    """(item id, annotator, chosen labels) of every real answer to an item with two or more:
    what agreement reads. One query; skips and verdicts are not answers here."""
    answers: dict[int, tuple[int, str, set[str]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id, a.item_id, u.username, l.name FROM {ANSWER} a "
            f"JOIN {ITEM} i ON i.id = a.item_id "
            f"JOIN {User._meta.db_table} u ON u.id = a.annotator_id "
            f"LEFT JOIN {ANSWER_LABELS} al ON al.annotation_id = a.id "
            f"LEFT JOIN {LABEL} l ON l.id = al.label_id "
            "WHERE i.project_id = %s AND i.annotation_count >= 2 AND NOT a.skipped "
            "ORDER BY a.id",
            [project.id],
        )
        for answer_id, item_id, username, name in cursor.fetchall():
            chosen = answers.setdefault(answer_id, (item_id, username, set()))[2]
            if name is not None:
                chosen.add(name)
    return [(item_id, who, frozenset(chosen)) for item_id, who, chosen in answers.values()]


# --- what the engine reads -----------------------------------------------------------------


def labelled_count(project_id: int) -> int:
    """Items with at least one real (not skipped) answer: the item's own count of them, read
    through the index of labelled items (the join of answers to items it replaces read the
    whole pool, 0.2 s a call at 1M items, and every kick for a round asks)."""
    return labelled_counts([project_id]).get(project_id, 0)


def labelled_counts(project_ids: Sequence[int]) -> dict[int, int]:
    """labelled_count of several projects in one query ({project id: count}, 0s left out)."""
    if not project_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT project_id, COUNT(*) FROM {ITEM} "
            f"WHERE project_id IN ({', '.join(['%s'] * len(project_ids))}) "
            "AND annotation_count > 0 GROUP BY project_id",
            list(project_ids),
        )
        return dict(cursor.fetchall())


@dataclass(frozen=True)
class JudgedItem:
    """An answered item as the engine trains on it."""

    id: int
    data: dict
    in_eval: bool  # an evaluation draw: measures the model, never trains it
    agreement: Agreement[str]


def judged_items(
    project: Project,
    *,
    answered_since: datetime | None = None,
    answered_until: datetime | None = None,
) -> list[JudgedItem]:
    """Every item of the project with a real answer or a verdict, in id order, with what its
    answers agree on (annotation.consensus; a verdict wins, annotation.reviews); or only the
    items answered (or reviewed) since a moment, or the answers and verdicts given until one.
    Items whose answers are all skips, and that have no verdict, are left out."""
    params: list[int | str | None]
    recent, params = "", [project.id]
    if answered_since is not None:
        recent = f" AND a.item_id IN (SELECT item_id FROM {ANSWER} WHERE created_at > %s)"
        params.append(connection.ops.adapt_datetimefield_value(answered_since))
    if answered_until is not None:
        recent += " AND a.created_at <= %s"
        params.append(connection.ops.adapt_datetimefield_value(answered_until))
    answers: dict[int, dict[int, tuple[str, list[str]]]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.item_id, a.id, u.username, l.name FROM {ANSWER} a "
            f"JOIN {ITEM} i ON i.id = a.item_id "
            f"JOIN {User._meta.db_table} u ON u.id = a.annotator_id "
            f"LEFT JOIN {ANSWER_LABELS} al ON al.annotation_id = a.id "
            f"LEFT JOIN {LABEL} l ON l.id = al.label_id "
            f"WHERE i.project_id = %s AND NOT a.skipped{recent} ORDER BY a.item_id, a.id",
            params,
        )
        for item_id, answer_id, who, name in cursor.fetchall():
            chosen = answers[item_id].setdefault(answer_id, (who, []))[1]
            if name is not None:
                chosen.append(name)
    verdicts = reviews.project_verdicts(project.id, until=answered_until)
    reviewed = [
        item_id
        for item_id, verdict in verdicts.items()
        if answered_since is None or verdict.created_at > answered_since
    ]
    gold: list[int] = []
    if answered_since is None:  # gold labels are not answers: they train once, in full rounds
        gold = list(
            Item.objects.filter(project=project, gold__isnull=False).values_list("id", flat=True)
        )
    judge = judging.judge_for(project)
    judged = []
    ids = sorted(set(answers) | set(reviewed) | set(gold))
    for start in range(0, len(ids), 900):
        batch = ids[start : start + 900]
        rows = Item.objects.filter(id__in=batch).order_by("id")
        for item_id, data, in_eval, gold_labels in rows.values_list(
            "id", "data", "in_eval", "gold"
        ):
            verdict = verdicts.get(item_id)
            agreement = judge.agreement(
                list(answers[item_id].values()) if item_id in answers else [],
                verdict=verdict.labels if verdict else None,
                gold=gold_labels,
            )
            if agreement is not None:
                judged.append(JudgedItem(item_id, data, in_eval, agreement))
    return judged


def model_inputs(
    project_id: int,
    *,
    field: Literal["text", "features"],
    low: int | None = None,
    high: int | None = None,
    order: Literal["id", "random_key"] = "id",
    limit: int | None = None,
) -> list[tuple[int, dict, bool]]:
    """(id, data, open) of the project's items low <= id < high (all without bounds), with
    data cut to the one field the model reads: the text, or the client's feature vector
    (decoding whole JSON documents cost more than scoring them). Ordered by id, or by the
    random key drawn at import (a fixed random sample of the pool)."""
    if connection.vendor == "postgresql":
        extract = "i.data -> 'features'" if field == "features" else "i.data ->> 'text'"
    else:
        extract = f"json_extract(i.data, '$.{field}')"  # arrays come back as JSON text
    where, params = ["i.project_id = %s"], [project_id]
    if low is not None and high is not None:
        where.append("i.id >= %s AND i.id < %s")
        params += [low, high]
    sql = (
        f"SELECT i.id, {extract}, i.status = 'open' FROM {ITEM} i "
        f"WHERE {' AND '.join(where)} ORDER BY i.{order}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    if field == "features":
        fetched = [
            (item_id, orjson.loads(value) if isinstance(value, str) else value, is_open)
            for item_id, value, is_open in fetched
        ]
    return [(item_id, {field: value}, bool(is_open)) for item_id, value, is_open in fetched]


def id_range(project_id: int) -> tuple[int, int] | None:
    """The lowest and highest item id of the project; None for an empty project."""
    bounds = Item.objects.filter(project_id=project_id).aggregate(low=Min("id"), high=Max("id"))
    return None if bounds["low"] is None else (bounds["low"], bounds["high"])


def item_count(project_id: int) -> int:
    return Item.objects.filter(project_id=project_id).count()


def in_hand(
    project_id: int, *, answered_after: datetime | None, limit: int
) -> list[tuple[int, dict]]:
    """(id, data) of items being labelled now: held by an annotator, or, when
    `answered_after` is given, answered after it, among the project's latest `limit` answers.
    Evaluation draws are left out (they never train). At most `limit` held items."""
    held = Lease.objects.filter(
        project_id=project_id, expires_at__gt=timezone.now(), item__in_eval=False
    ).values_list("item_id", "item__data")
    found = dict(held[:limit])
    if answered_after is not None:
        recent = (
            Annotation.objects.filter(item__project_id=project_id)
            .order_by("-id")
            .values_list("item_id", "item__data", "item__in_eval", "created_at")[:limit]
        )
        for item_id, data, in_eval, created_at in recent:
            if created_at > answered_after and not in_eval:
                found[item_id] = data
    return list(found.items())
