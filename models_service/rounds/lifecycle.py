"""A round's life: claim the project, train and store a new version, score the pool in id-range
chunks into a new ranking, and switch the queue to it when the last chunk lands.

PostgreSQL holds every piece of state a round needs (claim, version, chunks done), so a lost
broker message or a killed worker only delays a round: the sweep starts it again. Which task
follows which is models_service.tasks' business; these functions only say what happened.
"""

import contextlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation import ranking, selectors
from annotation.models import Project
from models_service import schedule
from models_service.ml import features, strategies
from models_service.models import ModelVersion, Trainer
from models_service.rounds import diversity, scoring, stopping, training
from models_service.rounds.artifacts import store
from models_service.rounds.data import refit_consensus, trainable, training_data

STOP_SET_SIZE = 500
# The database was away (a restart, a dropped connection): the task is retried, the round is
# not failed for it.
TRANSIENT = (OperationalError, InterfaceError)
log = logging.getLogger(__name__)


@dataclass
class Started:
    """A version trained and stored, with the id ranges of the pool left to score (none: the
    round is finished already, an empty pool)."""

    version: ModelVersion
    chunks: list[tuple[int, int]]


def start_round(project_id: int) -> Started | None:
    """Claim, train and store a new version; None when another round runs, nothing new is
    labelled, or the labels cannot train a model yet. A round that raises is recorded as
    failed (see `fail`) and the error raised again, but for the database's own errors of
    connection (TRANSIENT), which the task retries, and for data no model can learn from
    (NoTerms), recorded and not raised: the admin has the reason, the worker no crash."""
    if not Project.objects.filter(id=project_id).exists():
        return None  # deleted since the round was asked for
    token = schedule.claim(project_id)
    if token is None:
        return None
    version = None
    try:
        project = Project.objects.get(id=project_id)
        if not schedule.needs_training(project):
            schedule.release(project_id, token)
            return None
        refit_consensus(project)
        data = training_data(project)
        if not trainable(data.train.targets, multi_label=project.is_multi_label):
            schedule.release(project_id, token)
            return None
        version = _new_version(
            project, trained_on=len(data.train.ids), eval_size=len(data.eval.ids)
        )
        return _train(project, data, version)
    except TRANSIENT as error:
        with contextlib.suppress(DatabaseError):  # the task retries once the database is back
            _interrupted(version, error)
            schedule.release(project_id, token)
        raise
    except features.NoTerms as error:
        fail(project_id=project_id, version=version, error=error, token=token)
        return None
    except Exception as error:
        fail(project_id=project_id, version=version, error=error, token=token)
        raise
    except BaseException:
        schedule.release(project_id, token)
        raise


def _new_version(project: Project, **fields) -> ModelVersion:
    number = (project.model_versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return ModelVersion.objects.create(
        project=project, number=number, model=project.model, strategy=project.strategy, **fields
    )


def _train(project: Project, data, version: ModelVersion) -> Started:
    Trainer.objects.filter(project_id=project.id).update(requested=False)
    started = time.perf_counter()
    fitted = training.fit(
        project, data, number=version.number, model=project.model, strategy=project.strategy
    )
    bundle = fitted.bundle
    store.save(version, bundle)
    store.remember(version, bundle)  # this process's chunks need not read it back
    version.metrics = bundle.metrics
    version.stop_set_predictions = scoring.stop_set_predictions(
        bundle, fitted.sample_ids[:STOP_SET_SIZE], fitted.sample[:STOP_SET_SIZE]
    )
    version.timings = bundle.timings | {"train_total_s": round(time.perf_counter() - started, 3)}
    chunks = id_ranges(project.id)
    version.chunks_total = len(chunks)
    version.status = ModelVersion.Status.SCORING
    version.save()
    ranking.begin(project_id=project.id, ranking_id=version.id)
    if not chunks:
        with transaction.atomic():
            _finish(ModelVersion.objects.select_for_update().get(id=version.id))
    return Started(version, chunks)


def _interrupted(version: ModelVersion | None, error: Exception) -> None:
    """The database went away mid-round: the version reads failed, with why, but the project
    does not back off (the task is retried, and the round starts again)."""
    if version is not None:
        ModelVersion.objects.filter(id=version.id).update(
            status=ModelVersion.Status.FAILED,
            error=f"interrupted, retried: {type(error).__name__}: {error}"[:2_000],
            finished_at=timezone.now(),
        )
        ranking.abandon(ranking_id=version.id)


def fail(
    *,
    project_id: int,
    error: Exception,
    version: ModelVersion | None = None,
    token: str | None = None,
) -> ModelVersion:
    """Record a failed round: its version (a new one when the round failed before making it)
    reads failed with the error, its ranking never serves, and the project's next round
    backs off (schedule.record_failure). Returns the failed version."""
    text = _reason(error)
    if isinstance(error, features.NoTerms):
        log.warning("project %s: %s", project_id, text)  # the data's problem, not a bug
    else:
        log.error("a round of project %s failed", project_id, exc_info=error)
    if version is None:
        version = _new_version(
            Project.objects.get(id=project_id), status=ModelVersion.Status.FAILED, error=text
        )
    else:
        ModelVersion.objects.filter(
            id=version.id,
            status__in=[ModelVersion.Status.TRAINING, ModelVersion.Status.SCORING],
        ).update(status=ModelVersion.Status.FAILED, error=text, finished_at=timezone.now())
        ranking.abandon(ranking_id=version.id)
    schedule.record_failure(project_id, token)
    return version


def _reason(error: Exception) -> str:
    """A failed round's error as the dashboard and `GET models/` show it: in words when the
    data is to blame, else the exception as raised."""
    if isinstance(error, features.NoTerms):
        return f"No model yet: {error}"
    return f"{type(error).__name__}: {error}"[:2_000]


def id_ranges(project_id: int) -> list[tuple[int, int]]:
    """The project's item ids cut into HITL_SCORE_CHUNK-wide ranges [low, high)."""
    bounds = selectors.id_range(project_id)
    if bounds is None:
        return []
    low, high = bounds
    size = settings.HITL_SCORE_CHUNK
    return [(lo, min(lo + size, high + 1)) for lo in range(low, high + 1, size)]


def score_chunk(version_id: int, index: int, low: int, high: int) -> ModelVersion | None:
    """Score items low <= id < high into the version's ranking; idempotent (a retry rewrites
    nothing and counts the chunk once). Returns the version when this chunk completed the round
    (the queue now serves it), else None. A chunk that raises fails the round (see `fail`)."""
    version = ModelVersion.objects.filter(id=version_id).first()
    if version is None or version.status != ModelVersion.Status.SCORING:
        return None  # finished, or abandoned by a newer round
    schedule.chunk_started(version_id, index, low, high)
    try:
        return _score_chunk(version, index, low, high)
    except TRANSIENT:
        raise  # the task retries once the database is back; the round goes on
    except Exception as error:
        fail(project_id=version.project_id, version=version, error=error)
        raise


def _score_chunk(version: ModelVersion, index: int, low: int, high: int) -> ModelVersion | None:
    bundle = training.bundle_of(version)
    scored = scoring.score_range(bundle, version.project_id, low, high, seed=index)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(id=version.id)
        if locked.status != ModelVersion.Status.SCORING:
            return None
        done = set(locked.timings.get("chunks_done", []))
        schedule.chunk_done(version.id, index)
        if index in done:
            return None
        if scored.item_ids:
            ranking.write_chunk(
                ranking_id=version.id,
                item_ids=scored.item_ids,
                scores=scored.scores,
                predicted_json=scored.predicted_json,
                confidence=scored.confidence,
                is_open=scored.is_open,
                top_json=scored.top_json,
            )
        done.add(index)
        locked.timings["chunks_done"] = sorted(done)
        locked.chunks_done = len(done)
        locked.items_scored += len(scored.item_ids)
        finished = locked.chunks_done >= locked.chunks_total
        if finished:
            _finish(locked)
        else:
            locked.save(update_fields=["timings", "chunks_done", "items_scored"])
            schedule.keep_claim(locked.project_id)
    ranking.refresh_statistics_if_outgrown(locked.items_scored)
    return locked if finished else None


def _finish(version: ModelVersion) -> None:
    """Close the round (the caller holds the version's row lock): put a diverse batch on top,
    decide the stopping rule, serve this version's ranking, release the claim."""
    if strategies.get(version.strategy).diverse:
        diversity.diversify_top(
            project_id=version.project_id,
            ranking_id=version.id,
            bundle=training.bundle_of(version),
            known_until=version.created_at,
        )
    version.stopping = stopping.decide(version)
    version.status = ModelVersion.Status.READY
    version.finished_at = timezone.now()
    version.timings["round_s"] = round(
        (version.finished_at - version.created_at).total_seconds(), 3
    )
    version.timings.pop("chunks_done", None)
    version.save()
    ranking.switch(ranking_id=version.id)
    schedule.record_success(version.project_id)


def tidy(project_id: int) -> int:
    """After a round: drop the rankings it replaced (returns how many rows went) and all but
    the newest versions' model files."""
    prune_model_files(project_id)
    return ranking.prune(project_id=project_id)


def prune_model_files(project_id: int) -> int:
    """Delete the model files of all but the project's newest HITL_MODEL_FILES_KEPT versions,
    never the serving one's; returns how many went. A file is read only while its version
    scores, serves or is cross-validated, and a project made a version every label or two
    early on (4 MB each on the shipped texts)."""
    kept = settings.HITL_MODEL_FILES_KEPT
    if kept <= 0:
        return 0
    versions = ModelVersion.objects.filter(project_id=project_id).order_by("-number")
    keep = set(versions.values_list("number", flat=True)[:kept])
    if (serving := schedule.serving_version(project_id)) is not None:
        keep.add(serving.number)
    return store.prune_files(project_id, keep=keep)


def forget_deleted_projects() -> list[int]:
    """Delete the model files of projects deleted since (the sweep calls this): a deleted
    project's models must not keep its texts' n-grams on disk."""
    return store.forget_deleted(set(Project.objects.values_list("id", flat=True)))
