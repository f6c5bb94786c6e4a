"""The queue's order moves to annotation, its owner: rankings (one per model version, with
the one that serves), their items' rows, and the seeds. Ranked items skip PostgreSQL's
write-ahead log as before (models_service 0004): derived data, rewritten every round; after
a crash the engine ranks again at once. models_service 0006 copies the rows over.
"""

import django.db.models.deletion
from django.db import migrations, models


def _unlogged(persistence: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            table = apps.get_model("annotation", "RankedItem")._meta.db_table
            schema_editor.execute(f"ALTER TABLE {table} SET {persistence}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0008_default_strategy_label_names_neighbours'),
    ]

    operations = [
        migrations.CreateModel(
            name='Ranking',
            fields=[
                ('id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('status', models.CharField(choices=[('writing', 'Being written'), ('serving', 'Serving'), ('retired', 'Retired')], default='writing', max_length=8)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.project')),
            ],
        ),
        migrations.CreateModel(
            name='RankedItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('score', models.FloatField()),
                ('predicted', models.JSONField()),
                ('confidence', models.FloatField()),
                ('item_open', models.BooleanField(db_default=True, default=True)),
                ('item', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='annotation.item')),
                ('ranking', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.ranking')),
            ],
        ),
        migrations.CreateModel(
            name='Seed',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rank', models.PositiveIntegerField()),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.item')),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.project')),
            ],
        ),
        migrations.AddIndex(
            model_name='ranking',
            index=models.Index(fields=['project', 'status'], name='ranking_project_status'),
        ),
        migrations.AddConstraint(
            model_name='ranking',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'serving')), fields=('project',), name='ranking_one_serving'),
        ),
        migrations.AddIndex(
            model_name='rankeditem',
            index=models.Index(models.F('ranking'), models.OrderBy(models.F('score'), descending=True), condition=models.Q(('item_open', True)), name='ranked_item_queue'),
        ),
        migrations.AddConstraint(
            model_name='rankeditem',
            constraint=models.UniqueConstraint(fields=('ranking', 'item'), name='ranked_item_unique'),
        ),
        migrations.AddIndex(
            model_name='seed',
            index=models.Index(fields=['project', 'rank'], name='seed_rank'),
        ),
        migrations.AddConstraint(
            model_name='seed',
            constraint=models.UniqueConstraint(fields=('project', 'item'), name='seed_unique'),
        ),
        migrations.RunPython(_unlogged("UNLOGGED"), _unlogged("LOGGED")),
    ]
