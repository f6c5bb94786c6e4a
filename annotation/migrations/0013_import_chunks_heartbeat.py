# An import job's upload moves from its row to ImportChunk rows; jobs get a heartbeat, a count
# of runs and of the answers their rows brought.

import django.db.models.deletion
from django.db import migrations, models

CHUNK_BYTES = 4 * 1024 * 1024


def payloads_to_chunks(apps, schema_editor):
    """The upload of each job not ended yet, cut into chunks as the importer reads them."""
    ImportJob = apps.get_model("annotation", "ImportJob")
    ImportChunk = apps.get_model("annotation", "ImportChunk")
    for job in ImportJob.objects.filter(payload__isnull=False).iterator(chunk_size=1):
        payload = bytes(job.payload)
        for number, start in enumerate(range(0, len(payload), CHUNK_BYTES)):
            ImportChunk.objects.create(
                job=job, number=number, data=payload[start : start + CHUNK_BYTES]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0012_audit_event"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chunks",
                        to="annotation.importjob",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("job", "number"), name="import_chunk_unique")
                ],
            },
        ),
        migrations.RunPython(payloads_to_chunks, migrations.RunPython.noop),
        migrations.RemoveField(model_name="importjob", name="payload"),
        migrations.AddField(
            model_name="importjob",
            name="answer_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="importjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="importjob",
            name="heartbeat_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddIndex(
            model_name="importjob",
            index=models.Index(
                condition=models.Q(("status__in", ["succeeded", "failed"]), _negated=True),
                fields=["status"],
                name="import_job_live",
            ),
        ),
    ]
