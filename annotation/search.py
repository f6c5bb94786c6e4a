"""Full-text search over items' `text`: the index and the query, on each database.

PostgreSQL: a GIN index on `to_tsvector('simple', text)` (migration 0014) and the words
searched with `websearch_to_tsquery` (quoted phrases, `-word`, `or`), so a search over a
million items reads the index, not the rows. The `simple` configuration: no stemming and no
stop words, the same for every language a project's texts are in.

SQLite (the embedded default): a contentless FTS5 table `annotation_item_fts`, kept in step
with the items by triggers (migration 0014); every word must appear, as a whole token.
"""

from django.db import connection
from django.db.models import QuerySet

from annotation.models import Item

MAX_SEARCH_LENGTH = 200
# Must be the index's expression exactly, or PostgreSQL reads every row.
PG_DOCUMENT = "to_tsvector('simple'::regconfig, COALESCE((annotation_item.data ->> 'text'), ''))"


def matching(items: QuerySet[Item], text: str) -> QuerySet[Item]:
    """The items whose text holds the search's words."""
    if connection.vendor == "postgresql":
        return items.extra(  # noqa: S610  (fixed SQL, the search is a parameter)
            where=[f"{PG_DOCUMENT} @@ websearch_to_tsquery('simple'::regconfig, %s)"],
            params=[text],
        )
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


def fts5_query(text: str) -> str:
    """The words of `text` as an FTS5 query in which each is a quoted string: the user's
    characters never act as FTS5 syntax (a stray quote or `NEAR(` is a word like any other)."""
    words = [word.replace('"', '""') for word in text.split()]
    return " ".join(f'"{word}"' for word in words if word.strip('"'))
