"""When a project's rounds happen: how many new labels make one due, who holds the claim to
run it, an admin's request for one. Kept apart from models_service.rounds so that the web
processes, which only ask these questions, never import scikit-learn (about 120 MiB each).
"""

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from annotation import ranking, selectors
from annotation.models import Project
from models_service.models import ModelVersion, ScoringChunk, Trainer, WorkerSeen

FIRST_MODEL_LABELS = 10  # the first model waits for this many labels (the diverse seeds)


def cadence(labelled: int, retrain_every: int) -> int:
    """New labels needed before the next retrain, given how many the serving model had.

    The first model waits for its seeds. After it, a round is due every `retrain_every` labels
    while the set is small, then every twentieth of it, as in the one-label-at-a-time
    simulation (bench/bench_label_efficiency.py): early rounds teach the most.
    """
    if labelled == 0:
        return max(retrain_every, FIRST_MODEL_LABELS)
    return max(retrain_every, labelled // 20)


def serving_version(project_id: int) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.READY)
        .order_by("-number")
        .first()
    )


def needs_training(project: Project) -> bool:
    """Whether a round of the project is due (see `due`)."""
    return bool(due([project]))


def due(projects: Sequence[Project]) -> list[int]:
    """The ids of the projects whose round is due: an admin asked, the serving ranking was
    lost (PostgreSQL empties the unlogged table in a crash), or enough new labels came since
    the serving version (`cadence`); never while a failed round's back-off runs, unless asked.
    Five queries whatever the number of projects: the sweep asks this of every project every
    few seconds."""
    ids = [project.id for project in projects]
    if not ids:
        return []
    trainers = {t.project_id: t for t in Trainer.objects.filter(project_id__in=ids)}
    newest = ModelVersion.objects.filter(
        project_id=OuterRef("project_id"), status=ModelVersion.Status.READY
    ).order_by("-number")
    serving = {
        v.project_id: v
        for v in ModelVersion.objects.filter(
            project_id__in=ids,
            status=ModelVersion.Status.READY,
            number=Subquery(newest.values("number")[:1]),
        ).only("id", "project_id", "trained_on", "eval_size", "items_scored")
    }
    scored = [v.id for v in serving.values() if v.items_scored]
    ranked = ranking.with_rows(scored)
    labelled = selectors.labelled_counts(ids)
    now, found = timezone.now(), []
    for project in projects:
        trainer, current = trainers.get(project.id), serving.get(project.id)
        if trainer is not None and trainer.requested:
            found.append(project.id)
        elif trainer is not None and trainer.retry_after and trainer.retry_after > now:
            continue
        elif current is not None and current.items_scored and current.id not in ranked:
            found.append(project.id)
        else:
            seen = current.trained_on + current.eval_size if current else 0
            new = labelled.get(project.id, 0) - seen
            if new >= cadence(seen, project.retrain_every):
                found.append(project.id)
    return found


# --- label issues: searched after quiet rounds, and now and then during busy ones ------------


def label_issues_due(project_id: int) -> bool:
    """Whether a busy project (another round due right after this one) should still search
    its labels for errors now: none of its versions searched them within the last
    HITL_LABEL_ISSUES_SECONDS. Without this, a project labelled without pause never had its
    labels checked until the labelling stopped."""
    last = (
        ModelVersion.objects.filter(project_id=project_id, timings__has_key="label_issues_s")
        .order_by("-number")
        .values_list("finished_at", flat=True)
        .first()
    )
    if last is None:
        return True
    return timezone.now() - last > timedelta(seconds=settings.HITL_LABEL_ISSUES_SECONDS)


# --- the workers: seen by their sweeps ------------------------------------------------------


def worker_seen(hostname: str) -> None:
    """A worker ran the sweep just now (an upsert: one query)."""
    WorkerSeen.objects.bulk_create(
        [WorkerSeen(hostname=hostname, seen_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["hostname"],
        update_fields=["seen_at"],
    )


def workers() -> dict:
    """When a worker last ran the sweep, and whether that is too long ago for a live one (no
    worker ever seen is not called stale: a fresh install's worker may still be starting)."""
    last = WorkerSeen.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    if last is None:
        return {"seen_at": None, "stale": False, "seconds_ago": None}
    ago = (timezone.now() - last).total_seconds()
    return {
        "seen_at": last.isoformat(),
        "stale": ago > settings.HITL_WORKER_STALE_SECONDS,
        "seconds_ago": round(ago),
    }


# --- the claim: one round per project at a time ----------------------------------------------


def claim(project_id: int) -> str | None:
    """Take the project's training claim, or None while a live round holds it."""
    Trainer.objects.get_or_create(project_id=project_id)
    now = timezone.now()
    token = str(uuid.uuid4())
    taken = (
        Trainer.objects.filter(project_id=project_id)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=_live_since(now)))
        .update(claimed_at=now, claim=token)
    )
    if not taken:
        return None
    # A round left by a dead worker never finishes: the previous version keeps serving.
    ModelVersion.objects.filter(
        project_id=project_id,
        status__in=[ModelVersion.Status.TRAINING, ModelVersion.Status.SCORING],
    ).update(status=ModelVersion.Status.FAILED, error="abandoned: its worker stopped")
    return token


def _live_since(now):
    """Anything of a round older than this belongs to a dead worker."""
    return now - timedelta(seconds=settings.HITL_TRAINING_STALE_SECONDS)


def round_in_flight(project_id: int) -> bool:
    """A live round holds the project's claim (one left by a dead worker, whose heartbeat
    stopped, does not count: a kick lets a worker take over)."""
    return Trainer.objects.filter(
        project_id=project_id, claimed_at__gte=_live_since(timezone.now())
    ).exists()


def keep_claim(project_id: int) -> None:
    """The round is alive: refresh the project's claim."""
    _refresh(Trainer.objects.filter(project_id=project_id))


def keep_claim_of(version_id: int) -> None:
    """The round is alive: refresh the claim of the version's project."""
    versions = ModelVersion.objects.filter(id=version_id).values("project_id")
    _refresh(Trainer.objects.filter(project_id=Subquery(versions)))


def _refresh(claims: QuerySet[Trainer]) -> None:
    claims.filter(claimed_at__isnull=False).update(claimed_at=timezone.now())


@contextmanager
def heartbeat(refresh: Callable[[], None]) -> Iterator[None]:
    """While the body runs, call `refresh` (keep_claim, keep_chunk) every
    HITL_HEARTBEAT_SECONDS from a thread of its own (with its own database connection).

    Why: a claim then goes stale only when no process works on its round, so a worker killed
    mid-round is taken over after HITL_TRAINING_STALE_SECONDS (30), however long a training or
    a chunk takes; the claim had to outlive the longest round before (15 minutes of no model
    after a crash). The thread is not waited for: a beat held up by the database ends alone.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.HITL_HEARTBEAT_SECONDS):
                try:
                    refresh()
                except DatabaseError:
                    pass  # the database is away: the next beat tries again
        finally:
            connection.close()

    threading.Thread(target=beat, daemon=True, name="round-heartbeat").start()
    try:
        yield
    finally:
        stop.set()


def chunk_started(version_id: int, index: int, low: int, high: int) -> None:
    """A worker scores this chunk now (see ScoringChunk)."""
    ScoringChunk.objects.update_or_create(
        version_id=version_id,
        index=index,
        defaults={"low": low, "high": high, "beat_at": timezone.now()},
    )


def keep_chunk(version_id: int, index: int) -> None:
    """The chunk's worker is alive, and so is its round."""
    ScoringChunk.objects.filter(version_id=version_id, index=index).update(beat_at=timezone.now())
    keep_claim_of(version_id)


def chunk_done(version_id: int, index: int) -> None:
    ScoringChunk.objects.filter(version_id=version_id, index=index).delete()


def lost_chunks() -> list[tuple[int, int, int, int]]:
    """(version id, index, low, high) of the chunks of rounds in flight whose worker stopped
    beating: to send again. Each is then counted alive for another stale period, so that a
    sweep sends it once; chunks of rounds no longer scoring are forgotten."""
    ScoringChunk.objects.exclude(version__status=ModelVersion.Status.SCORING).delete()
    now = timezone.now()
    lost = ScoringChunk.objects.filter(beat_at__lt=_live_since(now))
    found = list(lost.values_list("version_id", "index", "low", "high"))
    lost.filter(version_id__in={v for v, *_ in found}).update(beat_at=now)
    return found


def record_failure(project_id: int, token: str | None = None) -> None:
    """A round failed: release its claim (`token`, None once the round closed it) and hold
    the next one back for HITL_ROUND_RETRY_SECONDS, doubled for each failure in a row up to
    HITL_ROUND_RETRY_MAX_SECONDS."""
    trainer, _ = Trainer.objects.get_or_create(project_id=project_id)
    failures = trainer.failures + 1
    wait = min(
        settings.HITL_ROUND_RETRY_SECONDS * 2 ** (failures - 1),
        settings.HITL_ROUND_RETRY_MAX_SECONDS,
    )
    claimed = Q(claim=token) if token else Q()
    Trainer.objects.filter(claimed, project_id=project_id).update(claimed_at=None, claim="")
    Trainer.objects.filter(project_id=project_id).update(
        failures=failures, retry_after=timezone.now() + timedelta(seconds=wait)
    )


def record_success(project_id: int) -> None:
    """A round served: the next one need not wait."""
    Trainer.objects.filter(project_id=project_id).update(
        claimed_at=None, claim="", failures=0, retry_after=None
    )


def release(project_id: int, token: str) -> None:
    Trainer.objects.filter(project_id=project_id, claim=token).update(claimed_at=None, claim="")


def request_training(project: Project) -> None:
    """An admin asked for a retrain: recorded in the database, so no broker is needed now."""
    Trainer.objects.update_or_create(project=project, defaults={"requested": True})
