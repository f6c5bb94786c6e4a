"""The audit log: who changed roles, removed members, changed settings, imported, exported,
marked gold or deleted a project, and when. The one writer of AuditEvent.

Each verb records itself, once, in its own service (annotation.services, imports, exports,
gold), inside the transaction of the change where there is one: an event is there exactly
when its change is. Events keep the project's and the actor's names, so they outlive both.
"""

import io
from collections.abc import Iterator

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from annotation import csvsafe
from annotation.models import AuditEvent, ImportJob, Project

Action = AuditEvent.Action
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
CSV_COLUMNS = ["id", "at", "project_id", "project", "actor", "action", "details"]
_BATCH = 2_000


def record(
    *, project: Project, actor: AbstractBaseUser | None, action: str, **details
) -> AuditEvent:
    """Write one event; `actor` None stands for a command or a worker, not a person. Numbers
    JSON has no exact form for (a Decimal: the hourly cost) are kept as their text."""
    return AuditEvent.objects.create(
        at=timezone.now(),
        project_id=project.id,
        project_name=project.name,
        actor_id=actor.pk if actor is not None else None,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        details=orjson.loads(orjson.dumps(details, default=str)),
    )


def imported(
    *, project: Project, actor: AbstractBaseUser | None, file_format: str, **counts: int | str
) -> None:
    """Record an import answered in the request (annotation.imports.import_items): its format,
    `on_duplicate` and counts (created, updated, skipped, answers)."""
    record(project=project, actor=actor, action=Action.ITEMS_IMPORTED, format=file_format, **counts)


def import_queued(*, job: ImportJob) -> None:
    """Record an upload left to a worker, on behalf of whoever sent it."""
    record(
        project=job.project,
        actor=job.created_by,
        action=Action.IMPORT_QUEUED,
        job=job.id,
        format=job.file_format,
        on_duplicate=job.on_duplicate,
        bytes=job.size_bytes,
    )


def import_finished(*, job_id: int) -> None:
    """Record the end of an import job, on behalf of whoever queued it: its status, its
    `on_duplicate` and counts, as the job's row has them now."""
    job = ImportJob.objects.select_related("project", "created_by").get(id=job_id)
    record(
        project=job.project,
        actor=job.created_by,
        action=Action.IMPORT_FINISHED,
        job=job_id,
        status=job.status,
        on_duplicate=job.on_duplicate,
        created=job.created_count,
        updated=job.updated_count,
        skipped=job.skipped_count,
        answers=job.answer_count,
    )


def events_of(project_id: int) -> QuerySet[AuditEvent]:
    """A project's events, newest first (also those of a deleted project, by its id)."""
    return AuditEvent.objects.filter(project_id=project_id).order_by("-id")


def as_dict(event: AuditEvent) -> dict:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "project_id": event.project_id,
        "project": event.project_name,
        "actor": event.actor_name or None,
        "action": event.action,
        "details": event.details,
    }


def export_stream(project_id: int, file_format: str) -> Iterator[bytes]:
    """A project's events, oldest first, as JSON Lines (verbatim) or spreadsheet-safe CSV."""
    events = (as_dict(event) for event in _oldest_first(project_id))
    if file_format == "jsonl":
        return (orjson.dumps(event) + b"\n" for event in events)
    return _csv(events)


def _oldest_first(project_id: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.filter(project_id=project_id).order_by("id").iterator(_BATCH)


def _csv(events: Iterator[dict]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, event in enumerate(events, start=1):
        writer.writerow(
            [
                event["id"],
                event["at"],
                event["project_id"],
                event["project"],
                event["actor"] or "",
                event["action"],
                orjson.dumps(event["details"]).decode(),
            ]
        )
        if count % _BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
