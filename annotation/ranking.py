"""The serving order's writes: the engine hands the queue its rankings and seeds through these.

annotation owns the queue's order (rankings, seeds, which ranking serves); models_service
computes it and calls here, never touching these tables itself. A ranking is written chunk by
chunk while the previous one keeps serving, and `switch` swaps them in one transaction.
"""

import json
from collections.abc import Iterator, Sequence

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from annotation.models import Item, Project, RankedItem, Ranking, Seed

RANKING, RANKED = Ranking._meta.db_table, RankedItem._meta.db_table
ITEM = Item._meta.db_table
ANALYZE_AFTER_ROWS = 10_000  # a ranking this large changes what the planner should know


def begin(*, project_id: int, ranking_id: int) -> None:
    """Open a ranking to write, named `ranking_id` by the engine; a ranking of the project
    left half-written (a dead round's) retires, since one round writes at a time."""
    Ranking.objects.filter(project_id=project_id, status=Ranking.Status.WRITING).update(
        status=Ranking.Status.RETIRED
    )
    Ranking.objects.create(id=ranking_id, project_id=project_id, status=Ranking.Status.WRITING)


def write_chunk(
    *,
    ranking_id: int,
    item_ids: Sequence[int],
    scores: Sequence[float],
    predicted_json: Sequence[str],
    confidence: Sequence[float],
    is_open: Sequence[bool],
    top_json: Sequence[str | None] | None = None,
) -> None:
    """Add one chunk of item rows to a ranking being written: the items' scores, predicted
    label names (each a JSON list, encoded by the caller once per distinct answer),
    confidences, whether each item was open when read, and, when given, their top labels
    (RankedItem.top as JSON text, or None). COPY on PostgreSQL."""
    tops = top_json if top_json is not None else [None] * len(item_ids)
    rows = zip(item_ids, scores, predicted_json, confidence, is_open, tops, strict=True)
    columns = "ranking_id, item_id, score, predicted, confidence, item_open, top"
    if connection.vendor == "postgresql":
        sql = f"COPY {RANKED} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row((ranking_id, *row))
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {RANKED} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(ranking_id, *row) for row in rows],
        )


def refresh_statistics_if_outgrown(rows_written: int) -> None:
    """Refresh the planner's statistics of the ranked items once a ranking has written more
    than twice the rows they count (plus ANALYZE_AFTER_ROWS).

    Why: a connection keeps a next-item plan made while the table was nearly empty (a fresh
    database, or one a crash emptied), and with a million rows that plan read the whole table
    on every call: 13 s a call where autovacuum is off (where it runs, it catches up within a
    minute). An ANALYZE makes every connection plan again."""
    if connection.vendor != "postgresql" or rows_written < ANALYZE_AFTER_ROWS:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [RANKED])
        counted = max(cursor.fetchone()[0], 0)  # -1: never counted
        if rows_written > 2 * counted + ANALYZE_AFTER_ROWS:
            cursor.execute(f"ANALYZE {RANKED}")


def head(*, ranking_id: int, limit: int) -> list[tuple[int, float, dict]]:
    """(item id, score, data) of the ranking's `limit` highest-scored items that the queue
    could serve from it: open, and not evaluation draws."""
    return list(
        RankedItem.objects.filter(
            ranking_id=ranking_id,
            item_open=True,
            item__status=Item.Status.OPEN,
            item__in_eval=False,
        )
        .order_by("-score")
        .values_list("item_id", "score", "item__data")[:limit]
    )


def rescore(
    *,
    ranking_id: int,
    item_ids: Sequence[int],
    scores: Sequence[float],
    predicted_json: Sequence[str] | None = None,
    confidence: Sequence[float] | None = None,
    top_json: Sequence[str | None] | None = None,
) -> None:
    """Give some of a ranking's items new scores (and, when given, new predictions with their
    top labels, None without): the diverse batch on top, or an incremental update between
    rounds."""
    with connection.cursor() as cursor:
        if predicted_json is None or confidence is None:
            cursor.executemany(
                f"UPDATE {RANKED} SET score = %s WHERE ranking_id = %s AND item_id = %s",
                [(s, ranking_id, i) for i, s in zip(item_ids, scores, strict=True)],
            )
            return
        tops = top_json if top_json is not None else [None] * len(item_ids)
        cursor.executemany(
            f"UPDATE {RANKED} SET score = %s, predicted = %s, confidence = %s, top = %s "
            "WHERE ranking_id = %s AND item_id = %s",
            [
                (s, p, c, t, ranking_id, i)
                for i, s, p, c, t in zip(
                    item_ids, scores, predicted_json, confidence, tops, strict=True
                )
            ],
        )


def switch(*, ranking_id: int) -> None:
    """Serve the ranking: the project's serving one retires, in the caller's transaction
    (the engine marks its version ready in the same one)."""
    project_id = Ranking.objects.values_list("project_id", flat=True).get(id=ranking_id)
    with transaction.atomic():
        Ranking.objects.filter(project_id=project_id, status=Ranking.Status.SERVING).update(
            status=Ranking.Status.RETIRED
        )
        Ranking.objects.filter(id=ranking_id).update(status=Ranking.Status.SERVING)


def abandon(*, ranking_id: int) -> None:
    """Stop writing a ranking whose round failed: it never serves, and `prune` drops it."""
    Ranking.objects.filter(id=ranking_id, status=Ranking.Status.WRITING).update(
        status=Ranking.Status.RETIRED
    )


def prune(*, project_id: int) -> int:
    """Drop the project's retired rankings and their rows; returns how many rows went. After a
    large drop, refresh the planner's statistics, as imports do for items (else the queue's
    ranked stage is planned from an older table's until autovacuum gets round to it)."""
    retired = list(
        Ranking.objects.filter(project_id=project_id, status=Ranking.Status.RETIRED).values_list(
            "id", flat=True
        )
    )
    if not retired:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {RANKED} WHERE ranking_id IN ({', '.join(['%s'] * len(retired))})",
            retired,
        )
        pruned = cursor.rowcount
    Ranking.objects.filter(id__in=retired).delete()
    if connection.vendor == "postgresql" and pruned >= ANALYZE_AFTER_ROWS:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {RANKED}")
    return pruned


def with_rows(ranking_ids: Sequence[int]) -> set[int]:
    """Those of the rankings that still have their rows, in one query (an index probe each):
    PostgreSQL empties the unlogged table of ranked items in a crash, and the engine then
    ranks again at once."""
    if not ranking_ids:
        return set()
    return set(
        Ranking.objects.filter(id__in=ranking_ids)
        .filter(Exists(RankedItem.objects.filter(ranking_id=OuterRef("pk"))))
        .values_list("id", flat=True)
    )


def top_labels(top: str | list | None) -> list[dict] | None:
    """RankedItem.top as read (JSON text from SQLite, decoded by psycopg; None: not stored)
    as the API names its [name, probability] pairs."""
    if top is None:
        return None
    pairs = top if isinstance(top, list) else json.loads(top)
    return [{"label": name, "probability": probability} for name, probability in pairs]


def predictions(
    *, project_id: int, ranking_id: int | None, batch: int = 5_000
) -> Iterator[list[tuple]]:
    """(item id, external id, predicted labels, confidence, score, top labels as stored) of
    every item of the project under the ranking (None: no ranking, every prediction empty), in
    id order, a batch at a time (memory stays flat)."""
    sql = (
        f"SELECT i.id, i.external_id, r.predicted, r.confidence, r.score, r.top FROM {ITEM} i "
        f"LEFT JOIN {RANKED} r ON r.item_id = i.id AND r.ranking_id = %s "
        "WHERE i.project_id = %s AND i.id > %s ORDER BY i.id LIMIT %s"
    )
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [ranking_id, project_id, last, batch])
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


# --- before the first model: the seeds -------------------------------------------------------


def has_seeds(project_id: int) -> bool:
    return Seed.objects.filter(project_id=project_id).exists()


def set_seeds(*, project_id: int, item_ids: Sequence[int]) -> int:
    """Serve these items first, in this order, until the project's first ranking; once chosen,
    a project's seeds stay (a second choice adds nothing). Returns how many were written."""
    with transaction.atomic():
        # the project's row lock: two workers seeding at once choose one set, not two
        Project.objects.select_for_update().filter(id=project_id).exists()
        if has_seeds(project_id):
            return 0
        Seed.objects.bulk_create(
            Seed(project_id=project_id, item_id=item_id, rank=rank)
            for rank, item_id in enumerate(item_ids)
        )
    return len(item_ids)


def unseeded(project_ids: Sequence[int]) -> list[int]:
    """Of these projects, those with items but no seeds."""
    return list(
        Project.objects.filter(id__in=project_ids)
        .filter(Exists(Item.objects.filter(project=OuterRef("pk"))))
        .exclude(Exists(Seed.objects.filter(project=OuterRef("pk"))))
        .values_list("id", flat=True)
    )
