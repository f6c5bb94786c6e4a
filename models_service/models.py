"""Model versions and each project's training claim.

A version's scores of the pool are the queue's to keep (annotation.Ranking, written through
annotation.ranking): a round writes a whole new ranking while annotators keep drawing from the
previous one, and the switch is one row update when the round completes.
"""

from django.db import models


class ModelVersion(models.Model):
    """One trained model of a project and the round that scored its pool."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        SCORING = "scoring", "Scoring the pool"
        READY = "ready", "Serving"  # the newest ready version ranks the queue
        FAILED = "failed", "Failed"

    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="model_versions"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    model = models.CharField(max_length=32)
    strategy = models.CharField(max_length=32)
    trained_on = models.PositiveIntegerField(default=0)
    eval_size = models.PositiveIntegerField(default=0)
    # On the random evaluation sample (unbiased) and, marked apart, cross-validated on the
    # training labels (biased by the strategy's choices): accuracy, macro-F1, per class,
    # confusion matrix.
    metrics = models.JSONField(default=dict, blank=True)
    cv_metrics = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # seconds per phase
    # Predicted label indices on the project's fixed stop set, for the stabilizing rule.
    stop_set_predictions = models.JSONField(null=True, blank=True)
    stopping = models.JSONField(default=dict, blank=True)  # {"stop": bool, "reason": str}
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    items_scored = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="model_version_number")
        ]
        indexes = [models.Index(fields=["project", "status"], name="model_version_status")]

    def __str__(self) -> str:
        return f"{self.project_id} v{self.number} ({self.status})"


class Trainer(models.Model):
    """A project's training claim: at most one training runs per project.

    A worker claims by setting `claimed_at`, and every scored chunk refreshes it; a claim older
    than HITL_TRAINING_STALE_SECONDS belongs to a dead worker and may be taken over.
    `requested` records an admin's request. Pending work is read from PostgreSQL (labels newer
    than the last version), so a lost broker message only delays a training until the next
    sweep. After a round fails, no round starts before `retry_after` (the wait doubles with
    each failure in a row, `failures`), so a project whose data breaks training does not loop.
    """

    project = models.OneToOneField(
        "annotation.Project", on_delete=models.CASCADE, primary_key=True, related_name="trainer"
    )
    requested = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=36, blank=True)
    failures = models.PositiveIntegerField(default=0)  # failed rounds in a row
    retry_after = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"trainer of project {self.project_id}"


class ScoringChunk(models.Model):
    """An id range of a round's pool being scored right now, with its worker's heartbeat.

    Why: a worker killed mid-chunk leaves that chunk's message unacknowledged in the broker,
    which Redis hands out again only after its visibility timeout (two hours), so the round
    could never finish, while the other chunks' progress kept its claim alive. The sweep sends
    a chunk again once its heartbeat stops (schedule.lost_chunks); scoring twice is harmless.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "index"], name="scoring_chunk_unique")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of version {self.version_id}"


class WorkerSeen(models.Model):
    """When each worker last ran the sweep (beat sends it every HITL_SWEEP_SECONDS).

    Why: with no worker running, labels pile up and no round starts, and nothing on the
    dashboard said so; a worker not seen for HITL_WORKER_STALE_SECONDS is shown as such."""

    hostname = models.CharField(max_length=255, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"
