"""Rankings and seeds move to annotation, which owns the queue's order (annotation 0009).

Each project's newest ready version's rankings become its serving ranking, and a round in
flight keeps writing its own (a ranking is named by its version's id); older versions'
rankings were due for pruning and are left behind. Seeds are copied as they are.
"""

from django.db import migrations


def copy_to_annotation(apps, schema_editor):
    ModelVersion = apps.get_model("models_service", "ModelVersion")
    OldRanking = apps.get_model("models_service", "Ranking")
    OldSeed = apps.get_model("models_service", "Seed")
    Ranking = apps.get_model("annotation", "Ranking")
    RankedItem = apps.get_model("annotation", "RankedItem")
    Seed = apps.get_model("annotation", "Seed")
    newest_ready = {}
    for version in ModelVersion.objects.filter(status="ready").order_by("number"):
        newest_ready[version.project_id] = version.id
    scoring = ModelVersion.objects.filter(status="scoring").values_list("id", "project_id")
    kept = [(v, p, "serving") for p, v in newest_ready.items()] + [
        (v, p, "writing") for v, p in scoring
    ]
    columns = "item_id, score, predicted, confidence, item_open"
    with schema_editor.connection.cursor() as cursor:
        for version_id, project_id, status in kept:
            Ranking.objects.create(id=version_id, project_id=project_id, status=status)
            cursor.execute(
                f"INSERT INTO {RankedItem._meta.db_table} (ranking_id, {columns}) "
                f"SELECT version_id, {columns} FROM {OldRanking._meta.db_table} "
                "WHERE version_id = %s",
                [version_id],
            )
    Seed.objects.bulk_create(
        Seed(project_id=seed.project_id, item_id=seed.item_id, rank=seed.rank)
        for seed in OldSeed.objects.all()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0009_serving_order"),
        ("models_service", "0005_ranking_queue_open_items"),
    ]

    operations = [
        migrations.RunPython(copy_to_annotation, migrations.RunPython.noop),
        migrations.DeleteModel(name="Ranking"),
        migrations.DeleteModel(name="Seed"),
    ]
