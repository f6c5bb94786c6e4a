"""The owner of answers and of the item's count/status invariant: `annotation_count` is the
item's real (not skipped) answers, `status` is done once they reach the project's overlap, and
every live ranking's `item_open` follows the status. Nothing else writes these three.

Recording an answer is plain SQL: like the queue, it runs on every click, and the ORM's query
building cost about 4 ms of CPU a submit against well under 1 ms of database time. The caller
holds a transaction; the item's row lock orders every write to its answers. Imported answers
are written in bulk (`record_imported`), a few statements a batch whatever its size.
"""

from collections.abc import Sequence
from datetime import datetime

import orjson
from django.db import connection

from annotation.errors import Conflict, InvalidLabels, NotLeased
from annotation.models import Annotation, Item, Label, Lease, RankedItem, Ranking

ITEM, ANSWER, LEASE = Item._meta.db_table, Annotation._meta.db_table, Lease._meta.db_table
LABEL, RANKING, RANKED = Label._meta.db_table, Ranking._meta.db_table, RankedItem._meta.db_table
ANSWER_LABELS = Annotation.labels.through._meta.db_table
FIELDS = (
    "skipped",
    "skip_reason",
    "lead_time_ms",
    "ambiguous",
    "needs_expert",
    "comment",
    "prediction_shown",
    "prediction_accepted",
)

# Rankings of the project that serve or are being written follow their items' status (see
# RankedItem.item_open); the last condition leaves rows already in step unwritten.
_LIVE_RANKINGS = f"""
    SELECT k.id FROM {RANKING} k
    WHERE k.project_id = %(project)s AND k.status IN ('serving', 'writing')
"""
_SYNC_RANKED_ITEM = f"""
    UPDATE {RANKED} SET item_open = %(open)s
    WHERE item_id = %(item)s AND ranking_id IN ({_LIVE_RANKINGS}) AND item_open <> %(open)s
"""
_SYNC_RANKED_PROJECT = f"""
    UPDATE {RANKED} SET item_open = NOT item_open
    WHERE ranking_id IN ({_LIVE_RANKINGS})
      AND item_open <> (SELECT i.status = 'open' FROM {ITEM} i WHERE i.id = {RANKED}.item_id)
"""
# The status rule for every item of a project at once (after the overlap changed).
_SET_STATUSES = f"""
    UPDATE {ITEM} SET status = CASE WHEN annotation_count < %(overlap)s THEN 'open' ELSE 'done' END
    WHERE project_id = %(project)s
      AND status <> CASE WHEN annotation_count < %(overlap)s THEN 'open' ELSE 'done' END
"""


def check_label_names(names: list[str], *, multi_label: bool) -> None:
    """The task type's rule for an answer's labels, wherever answers come from (the API, an
    import): InvalidLabels for a label given twice, or a count the task type forbids."""
    if len(set(names)) != len(names):
        raise InvalidLabels("a label is given twice", field="labels")
    if not multi_label and len(names) != 1:
        raise InvalidLabels("this project takes exactly one label per item", field="labels")


def _tally(count: int, overlap: int, change: int) -> dict:
    """The item's count and status after `change` answers more (or fewer), and its rankings'
    open flag where the item left or rejoined the queue: the invariant's rule, per item."""
    was_open, count = count < overlap, count + change
    is_open = count < overlap
    written = {"count": count, "status": (Item.Status.OPEN if is_open else Item.Status.DONE).value}
    if was_open != is_open:
        written["open"] = is_open
    return written


# The item's row lock orders every write to its answers; the caller's own answer comes along.
_COUNT_AND_EXISTING = f"""
    SELECT i.annotation_count, a.id, a.skipped,
           EXISTS (SELECT 1 FROM {LEASE} l WHERE l.item_id = i.id AND l.user_id = %(user)s
                   AND l.expires_at > %(now)s)
    FROM {ITEM} i
    LEFT JOIN {ANSWER} a ON a.item_id = i.id AND a.annotator_id = %(user)s
    WHERE i.id = %(item)s
"""
_INSERT = f"""
    INSERT INTO {ANSWER} (item_id, annotator_id, {", ".join(FIELDS)}, created_at, updated_at)
    VALUES (%(item)s, %(user)s, {", ".join(f"%({name})s" for name in FIELDS)}, %(now)s, %(now)s)
    RETURNING id
"""
_REPLACE = f"""
    UPDATE {ANSWER} SET {", ".join(f"{name} = %({name})s" for name in FIELDS)},
                        updated_at = %(now)s
    WHERE item_id = %(item)s AND annotator_id = %(user)s
    RETURNING id
"""
_DROP_LABELS = f"DELETE FROM {ANSWER_LABELS} WHERE annotation_id = %(answer)s"
_SET_COUNT = f"""
    UPDATE {ITEM} SET annotation_count = %(count)s, status = %(status)s WHERE id = %(item)s
"""
_DROP_LEASE = f"DELETE FROM {LEASE} WHERE item_id = %(item)s AND user_id = %(user)s"


def record(
    *,
    item_id: int,
    project_id: int,
    annotator_id: int,
    overlap: int,
    label_names: list[str],
    now: datetime,
    **fields,
) -> Annotation:
    """Write (or replace) the annotator's answer, keep the item's count and status, drop the
    lease. `fields` are FIELDS; returns the answer as an unsaved-looking Annotation with its id.

    Only the holder of a live lease on the item answers it (the queue leased it to them, so it
    had room for one more answer), or the author of an answer changing it: NotLeased otherwise.
    Conflict where a new real answer would pass the overlap (it was lowered under live leases,
    or a skip turns into labels), so no path exceeds the overlap. The labels are found by name
    as their rows are written; a name the project lacks raises InvalidLabels, and the caller's
    transaction then leaves nothing written.
    """
    lock = " FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
    key = {"item": item_id, "user": annotator_id}
    written = key | {name: fields[name] for name in FIELDS}
    written["now"] = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_AND_EXISTING + lock, written)
        count, answer_id, was_skipped, leased = cursor.fetchone()
        replaced = answer_id is not None
        if not leased and not replaced:
            raise NotLeased(
                "this item is not leased to you (never served to you, or its lease ran out): "
                "ask for the next item"
            )
        counted_before, counted_now = replaced and not was_skipped, not fields["skipped"]
        if counted_now and not counted_before and count >= overlap:
            raise Conflict("this item already has every answer it needs")
        if counted_now != counted_before:
            written |= _tally(count, overlap, 1 if counted_now else -1) | {"project": project_id}
        if not replaced and connection.vendor == "postgresql":
            answer_id = _insert_at_once(cursor, written, project_id, label_names)
        else:
            cursor.execute(_REPLACE if replaced else _INSERT, written)
            (answer_id,) = cursor.fetchone()
            if replaced:
                cursor.execute(_DROP_LABELS, {"answer": answer_id})
            if label_names:
                _add_labels(cursor, answer_id, project_id, label_names)
            if "count" in written:
                cursor.execute(_SET_COUNT, written)
            if "open" in written:
                cursor.execute(_SYNC_RANKED_ITEM, written)
            cursor.execute(_DROP_LEASE, key)
    return Annotation(
        id=answer_id,
        item_id=item_id,
        annotator_id=annotator_id,
        created_at=_created_at(answer_id) if replaced else now,
        updated_at=now,
        **fields,
    )


def _insert_at_once(cursor, written: dict, project_id: int, names: list[str]) -> int:
    """A first answer's writes in one statement (PostgreSQL's data-modifying WITH): the answer,
    its label rows, the item's count, its rankings' open flag and the lease, one round trip
    instead of five."""
    named = {f"name{n}": name for n, name in enumerate(names)}
    steps = [f"answer AS ({_INSERT})"]
    if names:
        steps.append(
            f"labelled AS (INSERT INTO {ANSWER_LABELS} (annotation_id, label_id) "
            f"SELECT answer.id, label.id FROM answer, {LABEL} label "
            f"WHERE label.project_id = %(project)s AND label.name IN ({_placeholders(named)}) "
            "RETURNING 1)"
        )
    if "count" in written:
        steps.append(f"counted AS ({_SET_COUNT})")
    if "open" in written:
        steps.append(f"unqueued AS ({_SYNC_RANKED_ITEM})")
    steps.append(f"released AS ({_DROP_LEASE})")
    labelled = "(SELECT COUNT(*) FROM labelled)" if names else "0"
    cursor.execute(
        f"WITH {', '.join(steps)} SELECT answer.id, {labelled} FROM answer",
        written | named | {"project": project_id},
    )
    answer_id, found = cursor.fetchone()
    if found < len(names):
        _unknown_labels(project_id, names)
    return answer_id


def _add_labels(cursor, answer_id: int, project_id: int, names: list[str]) -> None:
    named = {f"name{n}": name for n, name in enumerate(names)}
    cursor.execute(
        f"INSERT INTO {ANSWER_LABELS} (annotation_id, label_id) "
        f"SELECT %(answer)s, id FROM {LABEL} WHERE project_id = %(project)s "
        f"AND name IN ({_placeholders(named)}) RETURNING label_id",
        named | {"answer": answer_id, "project": project_id},
    )
    if len(cursor.fetchall()) < len(names):
        _unknown_labels(project_id, names)


def _placeholders(named: dict) -> str:
    return ", ".join(f"%({key})s" for key in named)


def _unknown_labels(project_id: int, names: list[str]):
    known = set(Label.objects.filter(project_id=project_id).values_list("name", flat=True))
    unknown = ", ".join(name for name in names if name not in known)
    raise InvalidLabels(f"not labels of this project: {unknown}", field="labels")


def _created_at(answer_id: int) -> datetime:
    return Annotation.objects.values_list("created_at", flat=True).get(id=answer_id)


def remove(*, annotation: Annotation, overlap: int) -> None:
    """Delete an answer (undo), keeping its item's count, status and rankings in step."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    key = {"item": annotation.item_id, "project": None}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT annotation_count, project_id FROM {ITEM} WHERE id = %(item)s" + lock, key
        )
        count, key["project"] = cursor.fetchone()
        if not annotation.skipped:
            written = key | _tally(count, overlap, -1)
            cursor.execute(_SET_COUNT, written)
            if "open" in written:
                cursor.execute(_SYNC_RANKED_ITEM, written)
        cursor.execute(f"DELETE FROM {ANSWER_LABELS} WHERE annotation_id = %s", [annotation.id])
        cursor.execute(f"DELETE FROM {ANSWER} WHERE id = %s", [annotation.id])


def apply_overlap(*, project_id: int, overlap: int) -> None:
    """Re-open or close every item of the project for a new overlap, and its rankings."""
    params = {"project": project_id, "overlap": overlap}
    with connection.cursor() as cursor:
        cursor.execute(_SET_STATUSES, params)
        cursor.execute(_SYNC_RANKED_PROJECT, params)


# --- answers that come with imported items -------------------------------------------------

_ANSWER_COLUMNS = ("id", "item_id", "annotator_id", *FIELDS, "created_at", "updated_at")
_NO_FIELDS = {
    "skipped": False,
    "skip_reason": "",
    "lead_time_ms": None,
    "ambiguous": False,
    "needs_expert": False,
    "comment": "",
    "prediction_shown": False,
    "prediction_accepted": None,
}


def record_imported(
    *,
    project_id: int,
    overlap: int,
    answers: Sequence[tuple[int, int, Sequence[int]]],
    now: datetime,
) -> None:
    """Write answers in bulk: (item id, annotator id, label ids), at most one per item, each a
    first answer of its annotator to an item with room for it (items just imported).

    The answers, their labels, each item's count and status and its rankings' open flag, in a
    fixed number of statements whatever the batch's size (COPY on PostgreSQL). Conflict where
    an item has every answer its overlap asks already; an answer that exists (same item and
    annotator) fails the caller's transaction with IntegrityError. Label ids are the caller's
    to check (annotation.parsing does, against the project's labels).
    """
    items = [item_id for item_id, _, _ in answers]
    if len(set(items)) != len(items):
        raise ValueError("record_imported takes one answer per item")
    if connection.vendor == "postgresql":
        _copy_answers(answers, now)
    else:
        _create_answers(answers)
    closed = _count_one_more(items, overlap)
    if closed:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {RANKED} SET item_open = FALSE WHERE item_id {_any_id()} AND item_open "
                f"AND ranking_id IN ({_LIVE_RANKINGS})",
                {"ids": _id_list(closed), "project": project_id},
            )


def _copy_answers(answers: Sequence[tuple], now: datetime) -> None:
    """COPY the answers and their label rows; the answers' ids are drawn from their sequence
    first, in one statement, so that the label rows can name them."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{ANSWER}', 'id')) FROM generate_series(1, %s)",
            [len(answers)],
        )
        ids = [answer_id for (answer_id,) in cursor.fetchall()]
        fields = tuple(_NO_FIELDS[name] for name in FIELDS)
        columns = ", ".join(_ANSWER_COLUMNS)
        with cursor.cursor.copy(f"COPY {ANSWER} ({columns}) FROM STDIN") as copy:
            for answer_id, (item_id, user_id, _) in zip(ids, answers, strict=True):
                copy.write_row((answer_id, item_id, user_id, *fields, now, now))
        sql = f"COPY {ANSWER_LABELS} (annotation_id, label_id) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for answer_id, (_, _, label_ids) in zip(ids, answers, strict=True):
                for label_id in label_ids:
                    copy.write_row((answer_id, label_id))


def _create_answers(answers: Sequence[tuple]) -> None:
    """The same rows through the ORM's bulk INSERT (SQLite returns the new ids)."""
    created = Annotation.objects.bulk_create(
        Annotation(item_id=item_id, annotator_id=user_id, **_NO_FIELDS)
        for item_id, user_id, _ in answers
    )
    Through = Annotation.labels.through
    Through.objects.bulk_create(
        Through(annotation_id=answer.id, label_id=label_id)
        for answer, (_, _, label_ids) in zip(created, answers, strict=True)
        for label_id in label_ids
    )


def _count_one_more(items: list[int], overlap: int) -> list[int]:
    """Count one more answer on each item, set its status; return the items it closed.
    Conflict when an item had every answer it needs already."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ITEM} SET annotation_count = annotation_count + 1, status = CASE "
            "WHEN annotation_count + 1 < %(overlap)s THEN 'open' ELSE 'done' END "
            f"WHERE id {_any_id()} AND annotation_count < %(overlap)s RETURNING id, status",
            {"ids": _id_list(items), "overlap": overlap},
        )
        counted = cursor.fetchall()
    if len(counted) < len(items):
        raise Conflict("an item already has every answer it needs")
    return [item_id for item_id, status in counted if status == Item.Status.DONE]


def _id_list(ids: list[int]) -> list[int] | str:
    """The `%(ids)s` of _any_id(): a list on PostgreSQL, JSON text on SQLite."""
    return ids if connection.vendor == "postgresql" else orjson.dumps(ids).decode()


def _any_id() -> str:
    """A list of ids as one parameter, `%(ids)s`, whatever its length."""
    if connection.vendor == "postgresql":
        return "= ANY(%(ids)s)"
    return "IN (SELECT value FROM json_each(%(ids)s))"
