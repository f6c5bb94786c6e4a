"""Put validated rows into the database: all of an upload or none of it.

Small uploads run in the request; large ones become an ImportJob that a Celery worker runs,
reporting progress in the job's row.
"""

import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation import audit
from annotation.errors import Conflict, ImportRejected
from annotation.events import announce_after_commit, items_imported
from annotation.models import ImportJob, Item, Project
from annotation.parsing import ParsedRow, RowReader, parse_upload
from hitl.celery import app

RUN_IMPORT = "annotation.tasks.run_import"
_LOOKUP_CHUNK = 5_000
ANALYZE_AFTER_ROWS = 10_000  # an import this large changes what the planner should know


def import_items(*, project: Project, raw: bytes, file_format: str, actor=None) -> int:
    """Validate every row and insert them all in one transaction; return the count.

    Rows stream into the database while later ones are still being read (the two run side by
    side), and any bad row rolls the whole transaction back: ImportRejected lists every bad
    row, including an external_id that the project already has, and nothing is written.
    """
    inserted: list[ParsedRow]
    reader, inserted = RowReader(raw, file_format), []
    with _taken_ids_reported(project, inserted), transaction.atomic():
        _insert(project, _remembering(reader, inserted))
        reader.raise_if_invalid()
        audit.imported(project=project, actor=actor, count=len(inserted), file_format=file_format)
        announce_after_commit(items_imported, project_id=project.id, count=len(inserted))
        transaction.on_commit(lambda: analyze_if_large(len(inserted)))
    return len(inserted)


@contextmanager
def _taken_ids_reported(project: Project, rows: list[ParsedRow]) -> Iterator[None]:
    """Turn a unique-constraint failure into ImportRejected naming the rows' lines.

    Taken external_ids are caught by the constraint, with no look-up on the fast path; only
    then are they looked up, to report where they are.
    """
    try:
        yield
    except IntegrityError:
        _reject_taken_external_ids(project, rows)
        raise Conflict(
            "another import added some of these external_ids meanwhile; nothing was imported",
            field="external_id",
        ) from None


def _remembering(rows: Iterable[ParsedRow], seen: list[ParsedRow]) -> Iterator[ParsedRow]:
    for row in rows:
        seen.append(row)
        yield row


def _reject_taken_external_ids(project: Project, rows: list[ParsedRow]) -> None:
    by_id = {row.external_id: row.line for row in rows if row.external_id is not None}
    wanted = list(by_id)
    taken: list[str] = []
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        # never None: the filter matches the ids asked for (django-stubs sees a nullable column)
        taken += Item.objects.filter(  # type: ignore[arg-type]
            project=project, external_id__in=chunk
        ).values_list("external_id", flat=True)
    if taken:
        errors = [
            {
                "line": by_id[external_id],
                "field": "external_id",
                "message": f"external_id {external_id!r} is already in this project",
            }
            for external_id in sorted(taken, key=by_id.__getitem__)[:100]
        ]
        raise ImportRejected(errors)


def _insert(project: Project, rows: Iterable[ParsedRow]) -> None:
    """Insert rows; COPY on PostgreSQL (several times faster than INSERT), bulk INSERT elsewhere."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.wrap_database_errors:  # psycopg's errors as Django's IntegrityError
            _copy(project, rows, now)
    else:
        Item.objects.bulk_create(
            (
                Item(
                    project=project,
                    external_id=row.external_id,
                    data=row.data,
                    random_key=random.random(),
                    created_at=now,
                )
                for row in rows
            ),
            batch_size=2_000,
        )


def analyze_if_large(count: int) -> None:
    """Refresh PostgreSQL's statistics of the item table once a large import has committed.

    Until autovacuum gets round to it, the planner keeps the old picture of the table; twice
    that picture chose plans that took seconds at a million items where the right one takes a
    millisecond (docs/benchmarks.md). ANALYZE samples a fixed number of rows: a fraction of a
    second at that size, beside an import of tens of seconds.
    """
    if count < ANALYZE_AFTER_ROWS or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Item._meta.db_table}")


def _copy(project: Project, rows: Iterable[ParsedRow], now) -> None:
    columns = "project_id, external_id, data, status, annotation_count, random_key, created_at"
    sql = f"COPY {Item._meta.db_table} ({columns}) FROM STDIN"
    open_status = Item.Status.OPEN.value
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                (
                    project.id,
                    row.external_id,
                    orjson.dumps(row.data).decode(),
                    open_status,
                    0,
                    random.random(),
                    now,
                )
            )


# --- large uploads as jobs ---------------------------------------------------------------


def queue_import(*, project: Project, raw: bytes, file_format: str, user) -> ImportJob:
    """Keep the upload in a job row and ask a worker to run it once this transaction commits."""
    job = ImportJob.objects.create(
        project=project,
        created_by=user,
        file_format=file_format,
        payload=raw,
        size_bytes=len(raw),
    )
    audit.import_queued(job=job)
    # by name: annotation.tasks imports this module, and this one never imports it back
    transaction.on_commit(lambda: app.send_task(RUN_IMPORT, (job.id,)))
    return job


def run_import_job(*, job_id: int) -> None:
    """Validate and insert a queued upload; safe to run twice (a redelivered message is a no-op).

    The final status is written in the same transaction as the items, so a worker killed midway
    leaves no items and a job that a retry can run again.
    """
    claimed = (
        ImportJob.objects.filter(id=job_id)
        .exclude(status__in=[ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED])
        .update(status=ImportJob.Status.VALIDATING, started_at=timezone.now(), processed_rows=0)
    )
    if claimed != 1:
        return
    job = ImportJob.objects.select_related("project").get(id=job_id)
    try:
        # a job keeps its payload until it has run (django-stubs sees a nullable column)
        payload = bytes(job.payload)  # type: ignore[arg-type]
        rows = parse_upload(payload, job.file_format, progress=_progress_writer(job_id))
        ImportJob.objects.filter(id=job_id).update(
            status=ImportJob.Status.INSERTING, processed_rows=len(rows), total_rows=len(rows)
        )
        with _taken_ids_reported(job.project, rows), transaction.atomic():
            locked = ImportJob.objects.select_for_update().only("status").get(id=job_id)
            if locked.status == ImportJob.Status.SUCCEEDED:
                return  # a second run of the same job: the first one committed
            _insert(job.project, rows)
            _finish(job_id, ImportJob.Status.SUCCEEDED, created_count=len(rows))
            transaction.on_commit(lambda: analyze_if_large(len(rows)))
            announce_after_commit(items_imported, project_id=job.project_id, count=len(rows))
    except (ImportRejected, Conflict) as rejected:
        errors = getattr(rejected, "errors", None) or [
            {"line": None, "field": rejected.field, "message": rejected.message}
        ]
        _finish(job_id, ImportJob.Status.FAILED, errors=errors)


def _progress_writer(job_id: int) -> Callable[[int], None]:
    def write(done: int) -> None:
        ImportJob.objects.filter(id=job_id).update(processed_rows=done)

    return write


def _finish(job_id: int, status: str, **fields) -> None:
    ImportJob.objects.filter(id=job_id).update(
        status=status, finished_at=timezone.now(), payload=None, **fields
    )
    audit.import_finished(job_id=job_id, status=status, created=fields.get("created_count", 0))
