"""Full-text search over items' text (annotation/search.py): a GIN index on PostgreSQL, an
FTS5 table kept by triggers on SQLite, filled from the items already there."""

from django.db import migrations

PG_CREATE = """
CREATE INDEX IF NOT EXISTS item_text_search ON annotation_item
USING gin (to_tsvector('simple'::regconfig, COALESCE((data ->> 'text'), '')))
WITH (fastupdate = on, gin_pending_list_limit = 65536)
"""
PG_DROP = "DROP INDEX IF EXISTS item_text_search"

SQLITE_CREATE = [
    # contentless: the index holds no copy of the texts; a row is taken out by the 'delete'
    # command with the text it was indexed with, which the triggers have in `old.data`
    "CREATE VIRTUAL TABLE annotation_item_fts USING fts5(text, content='', tokenize='unicode61')",
    """CREATE TRIGGER annotation_item_fts_insert AFTER INSERT ON annotation_item BEGIN
         INSERT INTO annotation_item_fts (rowid, text)
         VALUES (new.id, COALESCE(json_extract(new.data, '$.text'), ''));
       END""",
    """CREATE TRIGGER annotation_item_fts_delete AFTER DELETE ON annotation_item BEGIN
         INSERT INTO annotation_item_fts (annotation_item_fts, rowid, text)
         VALUES ('delete', old.id, COALESCE(json_extract(old.data, '$.text'), ''));
       END""",
    """CREATE TRIGGER annotation_item_fts_update AFTER UPDATE OF data ON annotation_item BEGIN
         INSERT INTO annotation_item_fts (annotation_item_fts, rowid, text)
         VALUES ('delete', old.id, COALESCE(json_extract(old.data, '$.text'), ''));
         INSERT INTO annotation_item_fts (rowid, text)
         VALUES (new.id, COALESCE(json_extract(new.data, '$.text'), ''));
       END""",
    "INSERT INTO annotation_item_fts (rowid, text) "
    "SELECT id, COALESCE(json_extract(data, '$.text'), '') FROM annotation_item",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS annotation_item_fts_update",
    "DROP TRIGGER IF EXISTS annotation_item_fts_delete",
    "DROP TRIGGER IF EXISTS annotation_item_fts_insert",
    "DROP TABLE IF EXISTS annotation_item_fts",
]


def create(apps, schema_editor):
    statements = [PG_CREATE] if schema_editor.connection.vendor == "postgresql" else SQLITE_CREATE
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    statements = [PG_DROP] if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0013_import_chunks_heartbeat")]

    operations = [migrations.RunPython(create, drop)]
