"""Celery tasks of the engine: thin and idempotent, each loads by id and calls one service;
which task follows which is decided here and nowhere else.

A round is a training task followed by a group of scoring chunks; the chunk that completes
the round closes it (a counter in PostgreSQL plays the chord's part, so no result backend is
needed and a broker restart loses nothing that the sweep cannot start again). After a round:
tidy up, then the next round if labels made one due, else cross-validate the new version and
look for likely label errors (both off the path to the switch, and skipped once replaced); a
busy project's labels are searched beside its next round every HITL_LABEL_ISSUES_SECONDS.
"""

import socket
from typing import Any

from celery import group, shared_task
from django.db import transaction

from annotation.models import Project
from models_service import schedule
from models_service.models import ModelVersion
from models_service.rounds import adapting, cleaning, evaluation, lifecycle, seeding

# Every task of a round: safe to run twice, and retried while the database is away (a restart,
# a dropped connection), from 1 s doubling to 30 s between tries, for about ten minutes.
ROUND_TASK: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": lifecycle.TRANSIENT,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": False,
    "max_retries": 25,
}


@shared_task(**ROUND_TASK)
def train_project(project_id: int) -> int | None:
    with schedule.heartbeat(lambda: schedule.keep_claim(project_id)):
        started = lifecycle.start_round(project_id)
        if started is None:
            seeding.seed_pool(project_id)  # no model yet: choose what to serve first
            adapting.adapt(project_id)  # no round due: the serving model learns the newest
            return None
    version = started.version
    if not started.chunks:
        _after_round(version)
        return version.id
    fan_out = group(
        score_chunk.s(version.id, index, low, high)
        for index, (low, high) in enumerate(started.chunks)
    )
    transaction.on_commit(fan_out.apply_async)
    return version.id


@shared_task(**ROUND_TASK)
def score_chunk(version_id: int, index: int, low: int, high: int) -> None:
    with schedule.heartbeat(lambda: schedule.keep_chunk(version_id, index)):
        finished = lifecycle.score_chunk(version_id, index, low, high)
    if finished is not None:
        _after_round(finished)


def _after_round(version: ModelVersion) -> None:
    tidy.delay(version.project_id)
    if schedule.needs_training(Project.objects.get(id=version.project_id)):
        train_project.delay(version.project_id)
        if schedule.label_issues_due(version.project_id):
            find_label_issues.delay(version.id)  # beside the next round, now and then
    else:
        cross_validate.delay(version.id)
        find_label_issues.delay(version.id)


@shared_task(**ROUND_TASK)
def tidy(project_id: int) -> int:
    """The rankings the round replaced, and all but the newest versions' model files."""
    return lifecycle.tidy(project_id)


@shared_task(**ROUND_TASK)
def cross_validate(version_id: int) -> bool:
    return evaluation.cross_validate(version_id)


@shared_task(**ROUND_TASK)
def find_label_issues(version_id: int) -> int | None:
    """The labels the serving version finds likely wrong, for reviewers."""
    return cleaning.find_label_issues(version_id)


@shared_task
def sweep() -> list[int]:
    """Start the rounds that PostgreSQL says are due (beat runs this every few seconds), send
    again the chunks whose worker died, and delete the model files of deleted projects. It
    also says the worker is alive, for the dashboard."""
    schedule.worker_seen(sweep.request.hostname or socket.gethostname())
    projects = list(Project.objects.only("id", "retrain_every"))
    due = schedule.due(projects)
    for project_id in due:
        train_project.delay(project_id)
    for project_id in seeding.unseeded([p.id for p in projects if p.id not in due]):
        train_project.delay(project_id)  # no round due, but its seeds are still to choose
    for version_id, index, low, high in schedule.lost_chunks():
        score_chunk.delay(version_id, index, low, high)  # its worker died: score it again
    lifecycle.forget_deleted_projects()
    return due
