"""Rankings skip PostgreSQL's write-ahead log.

They are derived data that every round rewrites in full, and a round's COPY of a million
rows, its index and their WAL competed with the next-item queries the round serves meanwhile.
The price: after a database crash PostgreSQL empties an unlogged table, so the queue serves
at random (never empty) until the next round, which the scheduler then starts at once
(schedule.needs_training). Rankings are also not copied to streaming replicas; the queue
reads the primary.
"""

from django.db import migrations


def _alter(persistence: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            table = apps.get_model("models_service", "Ranking")._meta.db_table
            schema_editor.execute(f"ALTER TABLE {table} SET {persistence}")

    return run


class Migration(migrations.Migration):
    dependencies = [("models_service", "0003_seeds")]

    operations = [migrations.RunPython(_alter("UNLOGGED"), _alter("LOGGED"))]
