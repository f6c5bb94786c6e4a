"""Projects, labels, members, items, leases and annotations: the data annotators work on."""

import random
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from annotation import engine_options


class Project(models.Model):
    """A labelling task: what to label, with which labels, and by how many people per item."""

    class TaskType(models.TextChoices):
        SINGLE_LABEL = "single_label", "Single-label text classification"
        MULTI_LABEL = "multi_label", "Multi-label text classification"

    MAX_OVERLAP = 20

    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, max_length=20_000)
    task_type = models.CharField(
        max_length=16, choices=TaskType.choices, default=TaskType.SINGLE_LABEL
    )
    overlap = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_OVERLAP)],
        help_text="How many different annotators must label each item.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The active-learning engine's settings (models_service reads them). The models and
    # strategies to choose from are the engine's own (annotation.engine_options).
    model = models.CharField(
        max_length=32,
        choices=engine_options.model_choices,
        default=engine_options.default_model,
    )
    strategy = models.CharField(
        max_length=32,
        choices=engine_options.strategy_choices,
        default=engine_options.default_strategy,
    )
    retrain_every = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="New labels before a retrain; the step grows to a twentieth of the labelled "
        "set. The first model waits for at least 10.",
    )
    eval_share = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of served items drawn at random and kept out of training to measure "
        "the model without bias.",
    )
    eval_sample_size = models.PositiveIntegerField(
        default=500,
        validators=[MaxValueValidator(1_000_000)],
        help_text="Random draws stop once this many evaluation items are answered: enough "
        "to measure accuracy within a few points, and every later label goes to training.",
    )
    show_predictions = models.BooleanField(
        default=True, help_text="Show the model's suggestion (never on evaluation draws)."
    )
    stopping_rule = models.JSONField(
        default=dict,
        blank=True,
        validators=[engine_options.validate_stopping_rule],
        help_text='{"kind": "stabilizing"} (optional "threshold", "rounds"), '
        '{"kind": "budget", "labels": 1000} or {"kind": "target", "metric": 0.9}; '
        "empty: stabilizing with the engine's defaults (models_service.ml.stopping).",
    )

    # Label quality (issue 26): how many judgements an item collects, how they combine, gold
    # items, review and cost. Each joins SETTINGS as the behaviour it sets lands.
    class Consensus(models.TextChoices):
        AUTO = "auto", "Dawid-Skene once enough items have several answers, majority before"
        MAJORITY = "majority", "Majority vote"
        DAWID_SKENE = "dawid_skene", "Dawid-Skene (weighs each annotator by their confusions)"

    max_overlap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_OVERLAP)],
        help_text="Answers an item may collect while its consensus is unsure (empty: overlap).",
    )
    consensus_threshold = models.FloatField(
        default=0.9,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text="Consensus confidence below which an item asks for another answer.",
    )
    agreement_sample = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of items that get two answers even at overlap 1 (agreement).",
    )
    consensus = models.CharField(
        max_length=16,
        choices=Consensus.choices,
        default=Consensus.AUTO,
        help_text="How an item's answers become its labels (single-label; multi-label: "
        "majority per label).",
    )
    gold_share = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of each annotator's serves drawn from gold items they have not seen.",
    )
    review_sample = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of answered items a reviewer checks at random (quality estimate).",
    )
    label_issue_cap = models.PositiveIntegerField(
        default=50,
        validators=[MaxValueValidator(100_000)],
        help_text="Likely label errors in the review queue at a time.",
    )
    anonymize_reviews = models.BooleanField(
        default=False, help_text="Reviewers see answers without who gave them."
    )
    hourly_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="What an hour of annotation costs (optional): the dashboard's cost figures.",
    )
    # Not a column: the caller's role, on the projects access.project_for and
    # selectors.projects_of return.
    my_role: str

    # What an admin sets (labels apart, in their own table): the API's input and output, the
    # settings page and the audit log's settings changes all take this list.
    SETTINGS = (
        "name",
        "task_type",
        "overlap",
        "instructions",
        "model",
        "strategy",
        "retrain_every",
        "eval_share",
        "eval_sample_size",
        "show_predictions",
        "stopping_rule",
        "consensus",
        "max_overlap",
        "consensus_threshold",
        "agreement_sample",
        "gold_share",
        "review_sample",
        "anonymize_reviews",
        "label_issue_cap",
        "hourly_cost",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_multi_label(self) -> bool:
        return self.task_type == self.TaskType.MULTI_LABEL

    def clean(self) -> None:
        if self.max_overlap is not None and self.max_overlap < self.overlap:
            raise ValidationError(
                {"max_overlap": "at least the overlap (the fewest answers an item gets)"}
            )


class Label(models.Model):
    """One class annotators can choose, with the key that picks it in the page."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=64)
    shortcut = models.CharField(max_length=1, blank=True)
    color = models.CharField(
        max_length=7,
        default="#4c78a8",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "a colour is #rrggbb")],
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_name_unique"),
            models.UniqueConstraint(
                fields=["project", "shortcut"],
                condition=~Q(shortcut=""),
                name="label_shortcut_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one project; every access to the project is checked against it."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        REVIEWER = "reviewer", "Reviewer"
        ANNOTATOR = "annotator", "Annotator"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


def new_random_key() -> float:
    return random.random()


class Item(models.Model):
    """One thing to label. `data` holds at least `text`; the rest is the client's own fields.

    `random_key` is drawn once at import: ordering by it gives a random queue that an index can
    serve (the order until a model exists, and the random draws for evaluation later). Model
    scores live in their own table per ranking (RankedItem), never on this row, so
    rewriting a round of scores neither bloats items nor locks rows the next-item query needs.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"  # still needs annotations
        DONE = "done", "Done"  # has the project's required number of annotations

    # No index of its own: the (project, status) index below serves every lookup by project,
    # and one index fewer to maintain is a tenth off a bulk import.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    # NULL, not "", for "no id": the unique constraint must ignore items without one.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    data = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    annotation_count = models.PositiveIntegerField(default=0)
    random_key = models.FloatField(default=new_random_key)
    # Served once as a random evaluation draw: kept out of training for good, so that model
    # metrics come from an unbiased sample, not from the items a strategy chose.
    in_eval = models.BooleanField(default=False, db_default=False)
    # A gold item's known labels (names), set by an admin; None: not gold. Served unannounced
    # to measure annotators; its labels are its truth (annotation.consensus).
    gold = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not columns: set on the item queue.next_item_for serves (an evaluation draw or not, and
    # the serving model's guess or None).
    evaluation: bool
    prediction: dict[str, Any] | None

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=Q(external_id__isnull=False),
                name="item_external_id_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["project", "random_key"],
                condition=Q(status="open"),
                name="item_open_queue",
            ),
            models.Index(fields=["project", "status"], name="item_project_status"),
            # Counts the evaluation sample on an evaluation draw (a few hundred rows, not the
            # project's whole pool).
            models.Index(fields=["project"], condition=Q(in_eval=True), name="item_eval_sample"),
            # Counts the labelled items, asked on every kick for a round: without it, PostgreSQL
            # read the whole pool (0.2 s at 1M items) to find the few thousand answered ones.
            models.Index(
                fields=["project"], condition=Q(annotation_count__gt=0), name="item_labelled"
            ),
            # Finds the gold items (a few hundred) for training and serving, not the pool.
            models.Index(fields=["project"], condition=Q(gold__isnull=False), name="item_gold"),
        ]

    def __str__(self) -> str:
        return f"item {self.id} of project {self.project_id}"

    @property
    def text(self) -> str:
        return str(self.data.get("text", ""))


class Lease(models.Model):
    """Item `item` is being worked on by `user` until `expires_at`; others are not served it."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="lease_unique")]
        indexes = [models.Index(fields=["project", "user"], name="lease_project_user")]

    def __str__(self) -> str:
        return f"{self.user} holds {self.item} until {self.expires_at:%H:%M:%S}"


class Annotation(models.Model):
    """One annotator's answer for one item: labels, or a skip, with how long it took."""

    class SkipReason(models.TextChoices):
        """Why an item was skipped, from a short list the page offers by key; the comment
        says the rest."""

        UNCLEAR = "unclear", "Unclear"
        OFF_TOPIC = "off_topic", "Off topic"
        BROKEN = "broken", "Broken"
        OTHER = "other", "Other"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(  # indexed with the item, below
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="annotations",
        db_index=False,
    )
    labels = models.ManyToManyField(Label, related_name="annotations", blank=True)
    lead_time_ms = models.PositiveIntegerField(null=True, blank=True)
    skipped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    ambiguous = models.BooleanField(default=False)
    needs_expert = models.BooleanField(default=False)
    comment = models.TextField(blank=True, max_length=5_000)
    prediction_shown = models.BooleanField(default=False)
    prediction_accepted = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Not a column: the label names, on the answer services.submit_annotation just wrote.
    label_names: list[str]

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="annotation_unique")
        ]
        # "Has this person answered this item?" runs for every candidate the queue looks at.
        # With the annotator alone indexed, a planner that underestimated a person's answers
        # probed by annotator and read all of them; with both columns it is one probe, and
        # the index still serves look-ups by annotator.
        indexes = [models.Index(fields=["annotator", "item"], name="annotation_by_annotator")]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.item}"


class Review(models.Model):
    """A reviewer's (or admin's) verdict on an item: its final labels, which win over what its
    answers agree on in the export and in training. Every verdict is kept, never changed: the
    item's latest is the one that counts, the earlier ones are its history (from which labels
    to which, who, when). Written by annotation.reviews only."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reviewer_name = models.CharField(max_length=150)  # outlives the account
    labels = models.JSONField()  # label names, the item's final labels from now on
    previous = models.JSONField()  # what the item's labels were: last verdict or agreement
    comment = models.TextField(blank=True, max_length=5_000)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.reviewer_name} on {self.item}: {', '.join(self.labels)}"


class LabelIssue(models.Model):
    """An answered item whose label is likely wrong, found by confident learning on the
    model's out-of-sample probabilities after a round. One row per item and label, so that a
    reviewer's verdict (`resolved_at`) keeps the same item from being flagged again for the
    same label. Written by annotation.label_issues only."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="label_issues")
    label = models.CharField(max_length=64)  # the label suspected wrong
    suggested = models.CharField(max_length=64, blank=True)  # what the model reads instead
    self_confidence = models.FloatField()  # the model's out-of-sample chance of `label`: low
    found_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "label"], name="label_issue_unique")]

    def __str__(self) -> str:
        return f"{self.item}: {self.label}? ({self.self_confidence:.2f})"


class TruthModel(models.Model):
    """A project's fitted Dawid-Skene estimate: each annotator's confusion matrix and the
    labels' priors (annotation.truth), refitted as answers arrive. An item's consensus is
    read through it from its own answers, so one fit serves every item. Written by
    annotation.judging only."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="truth_model")
    labels = models.JSONField()  # label names, the matrices' order
    annotators = models.JSONField()  # {username: row of `confusion`}
    confusion = models.JSONField()  # annotators x true label x answered label
    priors = models.JSONField()
    items = models.PositiveIntegerField()  # multiply answered items it was fitted on
    fitted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"truth model of {self.project} ({self.items} items)"


class ImportJob(models.Model):
    """A large upload being validated and inserted by a worker; its row is its progress.

    The upload itself is kept in the database (ImportChunk) until the job ends, so a worker on
    another machine can run it without shared storage. `heartbeat_at` is the job's last sign
    of life: when its message was sent (queued; None when the broker could not take it), or
    when its worker last reported (validating, inserting). The sweep
    (annotation.imports.sweep_jobs) sends queued jobs again and takes over running ones whose
    heartbeat stopped; `attempts` counts the runs.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        VALIDATING = "validating", "Validating"
        INSERTING = "inserting", "Inserting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class OnDuplicate(models.TextChoices):
        """What a row whose external_id the project has already does (annotation.imports)."""

        REJECT = "reject", "Refuse the file"
        SKIP = "skip", "Leave the row out"
        UPDATE = "update", "Replace the item's data"

    RUNNING = (Status.VALIDATING, Status.INSERTING)
    ENDED = (Status.SUCCEEDED, Status.FAILED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    file_format = models.CharField(max_length=8)
    size_bytes = models.BigIntegerField(default=0)
    total_rows = models.PositiveIntegerField(null=True)
    processed_rows = models.PositiveIntegerField(default=0)
    on_duplicate = models.CharField(
        max_length=8, choices=OnDuplicate.choices, default=OnDuplicate.REJECT
    )
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)  # rows already present, data replaced
    skipped_count = models.PositiveIntegerField(default=0)  # rows already present, left out
    answer_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [
            # the sweep's look-up, every few seconds: the few jobs not ended
            models.Index(
                fields=["status"],
                condition=~Q(status__in=["succeeded", "failed"]),
                name="import_job_live",
            )
        ]

    def __str__(self) -> str:
        return f"import {self.id} into {self.project_id}: {self.status}"


class ImportChunk(models.Model):
    """A piece of a queued upload, a few MB, in upload order (`number` from 0): written as the
    upload streams in, read one at a time by the worker, deleted when the job ends."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="import_chunk_unique")
        ]

    def __str__(self) -> str:
        return f"chunk {self.number} of import {self.job_id}"


class Ranking(models.Model):
    """One serving order of a project's pool: the scores of one model version's round.

    The engine names a ranking by its model version's id (so a served suggestion says which
    version made it) and writes it chunk by chunk while `writing`; `switch` makes it the
    project's one `serving` ranking in the row update that ends the round, and the one it
    replaces is `retired` until `prune` drops it. Its items' rows are in RankedItem.
    """

    class Status(models.TextChoices):
        WRITING = "writing", "Being written"
        SERVING = "serving", "Serving"
        RETIRED = "retired", "Retired"

    id = models.BigIntegerField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WRITING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # the queue's ranked stage reads "the" serving ranking of a project
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="serving"), name="ranking_one_serving"
            )
        ]
        indexes = [models.Index(fields=["project", "status"], name="ranking_project_status")]

    def __str__(self) -> str:
        return f"ranking {self.id} of project {self.project_id} ({self.status})"


class RankedItem(models.Model):
    """One item's score, predicted labels, confidence and top labels in one ranking.

    Derived data, rewritten by every round: the foreign keys carry no database constraint,
    because checking them cost a scoring round more than writing the rows did (about 0.2 s per
    20,000 rows at commit). Rows go with their ranking (pruned after each round, cascaded on
    delete); a deleted item's row is left to its ranking, since every reader joins to the item.
    """

    ranking = models.ForeignKey(
        Ranking, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    item = models.ForeignKey(
        Item, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    score = models.FloatField()
    predicted = models.JSONField()  # label names
    confidence = models.FloatField()
    # A single-label prediction's three most probable labels, [[name, probability], ...] most
    # probable first, for the labelling page's alternatives; null for multi-label projects,
    # those of two labels, and rankings written before it was stored.
    top = models.JSONField(null=True, blank=True)
    # Whether the item is open, kept in step by annotation.answers (the owner of the item's
    # count and status): only open items' rows are in the queue's index, so the ranked walk
    # never passes the items answered since the ranking was written (at a million items and
    # fast answers, thousands a call).
    item_open = models.BooleanField(default=True, db_default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ranking", "item"], name="ranked_item_unique")
        ]
        # The next-item query walks this index from the top score down.
        indexes = [
            models.Index(
                "ranking",
                models.F("score").desc(),
                name="ranked_item_queue",
                condition=Q(item_open=True),
            )
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} in ranking {self.ranking_id}: {self.score:.3f}"


class Seed(models.Model):
    """Before a project's first model, the items to serve first: the one nearest each k-means
    centre of a sample of the pool, so that the first model sees every corner of the pool
    instead of what a random draw happened to bring."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "item"], name="seed_unique")]
        indexes = [models.Index(fields=["project", "rank"], name="seed_rank")]

    def __str__(self) -> str:
        return f"seed {self.rank} of project {self.project_id}: item {self.item_id}"


class ApiToken(models.Model):
    """A person's API token, kept only as the SHA-256 digest of its key, so that a copy of
    the database holds no working token. One per person: issuing a new one replaces it
    (annotation.tokens owns these rows)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    digest = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the key
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"API token of user {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"


class AuditEvent(models.Model):
    """Who changed what in a project, and when: roles, members, settings, imports, exports,
    gold labels, deletion. Written by annotation.audit only, never changed. Plain ids and names
    rather than foreign keys, so that an event outlives its project and its actor."""

    class Action(models.TextChoices):
        PROJECT_CREATED = "project.created", "Project created"
        PROJECT_UPDATED = "project.updated", "Settings changed"
        PROJECT_DELETED = "project.deleted", "Project deleted"
        MEMBER_ADDED = "member.added", "Member added"
        ROLE_CHANGED = "member.role_changed", "Role changed"
        MEMBER_REMOVED = "member.removed", "Member removed"
        ITEMS_IMPORTED = "items.imported", "Items imported"
        IMPORT_QUEUED = "import.queued", "Import queued"
        IMPORT_FINISHED = "import.finished", "Import finished"
        EXPORTED = "project.exported", "Project exported"
        GOLD_MARKED = "item.gold_marked", "Marked gold"
        GOLD_UNMARKED = "item.gold_unmarked", "Gold removed"

    at = models.DateTimeField()
    project_id = models.BigIntegerField()
    project_name = models.CharField(max_length=200)
    actor_id = models.BigIntegerField(null=True)  # None: a command or a worker
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project_id", "id"], name="audit_event_by_project")]

    def __str__(self) -> str:
        who = self.actor_name or "-"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.project_name}"
