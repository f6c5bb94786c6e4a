"""Celery tasks of the engine: thin wrappers over models_service.rounds, all idempotent.

A round is a training task followed by a group of scoring chunks; the chunk that completes
the round closes it (a counter in PostgreSQL plays the chord's part, so no result backend is
needed and a broker restart loses nothing that the sweeper cannot start again).
"""

import logging

from celery import group, shared_task
from django.db import transaction

from annotation.models import Project
from models_service import rounds, schedule

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def train_project(project_id: int) -> int | None:
    started = rounds.start_round(project_id)
    if started is None:
        rounds.seed_pool(project_id)  # no model yet: choose what to serve first
        rounds.adapt(project_id)  # no round due: let the serving model learn the newest labels
        return None
    version, chunks = started
    if chunks:
        fan_out = group(
            score_chunk.s(version.id, index, low, high) for index, (low, high) in enumerate(chunks)
        )
        transaction.on_commit(fan_out.apply_async)
    return version.id


@shared_task(acks_late=True, reject_on_worker_lost=True)
def score_chunk(version_id: int, index: int, low: int, high: int) -> None:
    rounds.score_chunk(version_id, index, low, high)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def prune_rankings(project_id: int, keep_version_id: int) -> int:
    """Older versions' rankings, and all but the newest versions' model files."""
    rounds.prune_model_files(project_id)
    return rounds.prune_rankings(project_id, keep_version_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def cross_validate(version_id: int) -> bool:
    return rounds.cross_validate(version_id)


@shared_task
def sweep() -> list[int]:
    """Start the rounds that PostgreSQL says are due (beat runs this every few seconds)."""
    projects = list(Project.objects.all())
    due = [p.id for p in projects if schedule.needs_training(p)]
    for project_id in due:
        train_project.delay(project_id)
    for project_id in rounds.unseeded([p.id for p in projects if p.id not in due]):
        train_project.delay(project_id)  # no round due, but its seeds are still to choose
    return due
