"""Model versions, their rankings, and each project's training claim.

The ranking lives in its own table keyed by model version, never on annotation.Item: a
scoring round writes a whole new version's rows while annotators keep drawing from the
previous one, and the switch is one row update when the round completes. Item rows are
neither rewritten (no bloat) nor locked by scoring (SKIP LOCKED never skips them for that).
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


class Ranking(models.Model):
    """One item's score, predicted labels and confidence under one model version.

    Derived data, rewritten by every round: the foreign keys carry no database constraint,
    because checking them cost a scoring round more than writing the rows did (about 0.2 s per
    20,000 rows at commit). Rows go with their version (pruned after each round, cascaded on
    delete); a deleted item's row is left to its version, since every reader joins to the item.
    """

    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    item = models.ForeignKey(
        "annotation.Item",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    score = models.FloatField()
    predicted = models.JSONField()  # label names
    confidence = models.FloatField()
    # Whether the item is open (kept in step by annotation.queue.sync_ranked): only open items'
    # rows are in the queue's index, so the ranked walk never passes the items answered since
    # the ranking was written (at a million items and fast answers, thousands a call).
    item_open = models.BooleanField(default=True, db_default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "item"], name="ranking_version_item")
        ]
        # The next-item query walks this index from the top score down.
        indexes = [
            models.Index(
                "version",
                models.F("score").desc(),
                name="ranking_queue",
                condition=models.Q(item_open=True),
            )
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} in v{self.version_id}: {self.score:.3f}"


class Trainer(models.Model):
    """A project's training claim: at most one training runs per project.

    A worker claims by setting `claimed_at`, and every scored chunk refreshes it; a claim older
    than HITL_TRAINING_STALE_SECONDS belongs to a dead worker and may be taken over.
    `requested` records an admin's request. Pending work is read from PostgreSQL (labels newer
    than the last version), so a lost broker message only delays a training until the next
    sweep.
    """

    project = models.OneToOneField(
        "annotation.Project", on_delete=models.CASCADE, primary_key=True, related_name="trainer"
    )
    requested = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=36, blank=True)

    def __str__(self) -> str:
        return f"trainer of project {self.project_id}"


class Seed(models.Model):
    """Before a project's first model, the items to serve first: the one nearest each k-means
    centre of a sample of the pool, so that the first model sees every corner of the pool
    instead of what a random draw happened to bring."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "item"], name="seed_item")]
        indexes = [models.Index(fields=["project", "rank"], name="seed_order")]

    def __str__(self) -> str:
        return f"seed {self.rank} of project {self.project_id}: item {self.item_id}"
