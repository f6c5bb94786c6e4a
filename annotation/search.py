"""Full-text search over items' `text`: the index and the query, on each database.

PostgreSQL: a GIN index on `to_tsvector('simple', text)` (migration 0014) and the words
searched with `websearch_to_tsquery` (quoted phrases, `-word`, `or`), so a search over a
million items reads the index, not the rows. The `simple` configuration: no stemming and no
stop words, the same for every language a project's texts are in.

SQLite (the embedded default): a contentless FTS5 table `annotation_item_fts`, kept in step
with the items by triggers (migration 0014); every word must appear, as a whole token.
"""

from django.db import connection, transaction
from django.db.models import QuerySet

from annotation.models import Item

MAX_SEARCH_LENGTH = 200
# Fewer matches than this: the search narrows the items by the text index first. More: the
# items are read in id order and tested one by one, which finds a page of them quickly.
FEW_MATCHES = 10_000
# The planner's estimate above which a word is known common: it estimates a word from its
# statistics' most common words, and guesses about 5,000 for any other.
KNOWN_COMMON = 50_000
# Must be the index's expression exactly, or PostgreSQL reads every row.
PG_DOCUMENT = "to_tsvector('simple'::regconfig, COALESCE((annotation_item.data ->> 'text'), ''))"


def matching(items: QuerySet[Item], text: str) -> QuerySet[Item]:
    """The items whose text holds the search's words."""
    if connection.vendor == "postgresql":
        matches = text_matches(items, text)
        if (few := _few_matches(matches)) is not None:
            return items.extra(where=["annotation_item.id = ANY(%s)"], params=[few])  # noqa: S610
        return matches

    words = fts5_query(text)
    if not words:
        return items.none()
    return items.extra(  # noqa: S610  (fixed SQL, the search is a parameter)
        where=[
            "annotation_item.id IN (SELECT rowid FROM annotation_item_fts"
            " WHERE annotation_item_fts MATCH %s)"
        ],
        params=[words],
    )


def text_matches(items: QuerySet[Item], text: str) -> QuerySet[Item]:
    """PostgreSQL: the items whose text holds the words, through the text index's expression."""
    return items.extra(  # noqa: S610  (fixed SQL, the search is a parameter)
        where=[f"{PG_DOCUMENT} @@ websearch_to_tsquery('simple'::regconfig, %s)"],
        params=[text],
    )


_SWITCHES = "SELECT current_setting('enable_indexscan'), current_setting('enable_seqscan')"
# for the rest of the transaction (SET LOCAL), as a statement with parameters can
_SWITCH = "SELECT set_config('enable_indexscan', %s, true), set_config('enable_seqscan', %s, true)"


def _few_matches(matches: QuerySet[Item]) -> list[int] | None:
    """The ids of the matches when there are fewer than FEW_MATCHES, else None.

    Why: PostgreSQL cannot tell how many items a word is in unless the word is among its most
    common ones, and it guesses a few thousand. For a page in id order it then reads items in
    id order until it has found a page of matches: quick for a common word, but a word in one
    item of a million had it read them all (3.1 s at 1M). Here the text index alone is asked
    first (no other index may serve), for at most FEW_MATCHES ids: a rare word's few, or,
    for a common word, proof that reading in id order will find its page soon. A word the
    planner's statistics know to be in KNOWN_COMMON items or more skips the probe: asking
    costs under a millisecond, the probe 30 ms for a word in half of a million items."""
    if _estimated_rows(matches) >= KNOWN_COMMON:
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        # for this query alone, also inside a caller's transaction (SET LOCAL lasts to its end)
        cursor.execute(_SWITCHES)
        before = cursor.fetchone()
        cursor.execute(_SWITCH, ["off", "off"])
        ids = list(matches.order_by().values_list("id", flat=True)[:FEW_MATCHES])
        cursor.execute(_SWITCH, before)
    return ids if len(ids) < FEW_MATCHES else None


def _estimated_rows(matches: QuerySet[Item]) -> int:
    """How many rows PostgreSQL's planner expects the query to give (EXPLAIN, not run)."""
    sql, params = matches.order_by().values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    return int(plan[0]["Plan"]["Plan Rows"])


def fts5_query(text: str) -> str:
    """The words of `text` as an FTS5 query in which each is a quoted string: the user's
    characters never act as FTS5 syntax (a stray quote or `NEAR(` is a word like any other)."""
    words = [word.replace('"', '""') for word in text.split()]
    return " ".join(f'"{word}"' for word in words if word.strip('"'))
