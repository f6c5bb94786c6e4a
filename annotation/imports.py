"""Put validated rows into the database: all of an upload or none of it.

An upload is read as a stream and written a batch of rows at a time, so memory is bounded
whatever its size. Small uploads run in the request, in one pass: rows go into the database as
they are read, and a bad row anywhere rolls everything back. Large ones become an ImportJob:
the upload is kept in the database in chunks (ImportChunk) so that a worker on any machine can
run it; the worker checks every row in a first pass (its progress visible, even on SQLite),
then inserts them in a second, in one transaction. Every job ends, succeeded or failed with its
error; one whose message the broker never took, or whose worker died, is picked up by the
sweep (`sweep_jobs`).

A row whose external_id the project has already is an error by default (`on_duplicate`
reject, the fast path); skip leaves such rows out and update replaces their items' data (and
their gold labels, where a row brings `gold`), each batch asking the database which of its
rows are present (_AlreadyPresent).
"""

import io
import logging
import random
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from typing import IO

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotation import answers, audit, gold
from annotation.errors import Conflict, DomainError, ImportRejected
from annotation.events import announce_after_commit, answers_recorded, items_imported
from annotation.models import Annotation, ImportChunk, ImportJob, Item, Label, Membership, Project
from annotation.parsing import ParsedRow, RowReader, RowRules
from hitl.celery import app

log = logging.getLogger(__name__)
RUN_IMPORT = "annotation.tasks.run_import"
BATCH_ROWS = 2_000  # rows read, then written, at a time: what memory holds of an upload
CHUNK_BYTES = 4 * 1024 * 1024  # a queued upload's pieces in the database
ATTEMPTS = 2  # runs of a job whose worker died: once more, then failed (it may be the cause)
PROGRESS_SECONDS = 0.5  # how often a job's inserted rows are written for its progress bar
ANALYZE_AFTER_ROWS = 10_000  # an import this large changes what the planner should know
Status = ImportJob.Status
OnDuplicate = ImportJob.OnDuplicate


@dataclass(frozen=True)
class Imported:
    created: int  # items
    answers: int  # answers recorded from the rows' `labels`
    updated: int = 0  # rows already present whose item's data was replaced (update)
    skipped: int = 0  # rows already present, left out (skip)

    def summary(self) -> str:
        """What happened, in a sentence: "1,200 rows: 200 new items, 1,000 already present
        (skipped)"; "1,000 rows, all already present: nothing imported"."""
        present = self.updated + self.skipped
        rows = _counted(self.created + present, "row")
        if present and not self.created:
            done = "their items' data updated" if self.updated else "nothing imported"
            said = f"{rows}, all already present: {done}"
        else:
            said = f"{rows}: {_counted(self.created, 'new item')}"
            if present:
                said += f", {present:,} already present"
                said += " (data updated)" if self.updated else " (skipped)"
        if self.answers:
            said += f"; {_counted(self.answers, 'answer')} recorded"
        return said


def _counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def row_rules(project: Project, importer) -> RowRules:
    """What an upload's rows are checked against: the project's labels and members by name,
    who answers rows that name no annotator, and the length of its items' feature vectors."""
    return RowRules(
        labels=dict(Label.objects.filter(project=project).values_list("name", "id")),
        multi_label=project.is_multi_label,
        members=dict(
            Membership.objects.filter(project=project).values_list("user__username", "user_id")
        ),
        importer_id=importer.pk if importer is not None else None,
        features_length=partial(_features_length, project.id),
    )


def _features_length(project_id: int, *, before: datetime | None = None) -> int | None:
    """The length of the feature vectors of the project's items (any one's: they are checked
    alike on the way in), of those created `before` if given; None when they have none.
    Asked only of uploads with vectors: without any, it reads the whole project."""
    items = Item.objects.filter(project_id=project_id, data__has_key="features")
    if before is not None:
        items = items.filter(created_at__lt=before)
    found = items.order_by().values_list("data__features", flat=True)[:1]
    return next((len(vector) for vector in found if isinstance(vector, list)), None)


def import_items(
    *,
    project: Project,
    raw: bytes | IO[bytes],
    file_format: str,
    actor=None,
    on_duplicate: str = OnDuplicate.REJECT,
) -> Imported:
    """Validate every row and insert them all in one transaction; return what was done.

    `raw` is the upload: bytes, or a binary seekable file at its start. Rows go into the
    database a batch at a time as they are read; any bad row rolls the whole transaction back,
    and a second read of the upload lists every problem (ImportRejected), an external_id
    given twice included. A row whose external_id the project has already is such a problem
    (`on_duplicate` reject), is left out (skip), or replaces its item's data (update). A row's
    `labels` become an answer, the importing user's (`actor`) unless the row names another
    member in `annotator` (on an item already present: see _recordable_answers). A row's
    `gold` makes its item gold (annotation.gold), or changes its gold labels (update).
    """
    source = _stream(raw)
    rules = row_rules(project, actor)
    try:
        with transaction.atomic():
            imported = _write(project, source, file_format, rules, on_duplicate, by=actor)
            audit.imported(
                project=project,
                actor=actor,
                file_format=file_format,
                on_duplicate=on_duplicate,
                created=imported.created,
                updated=imported.updated,
                skipped=imported.skipped,
                answers=imported.answers,
            )
            _after_commit(project.id, imported)
    except (IntegrityError, ImportRejected):
        source.seek(0)
        raise _every_problem(project, source, file_format, rules, on_duplicate) from None
    return imported


def _not_asked() -> None:
    return None


def _stream(raw: bytes | IO[bytes]) -> IO[bytes]:
    return io.BytesIO(raw) if isinstance(raw, bytes) else raw


def _write(
    project: Project,
    source: IO[bytes],
    file_format: str,
    rules: RowRules,
    on_duplicate: str = OnDuplicate.REJECT,
    on_batch: Callable[[int], None] | None = None,
    *,
    by: User | None = None,
) -> Imported:
    """Read the upload and write its rows a batch at a time with their answers and gold
    labels; raise ImportRejected at the first bad row (the caller's transaction then leaves
    nothing written). `on_batch(rows_written)` follows each batch; `by` is the importing user
    (None: nobody), who settles the label issues of items an update makes gold.

    The reader checks that the upload's vectors are all as long; whether they are as long as
    the project's is asked once the rows are in, since no query runs while a COPY is open
    (reject keeps one open from batch to batch). Skip and update end it at every batch, to ask
    which rows are present, and the reader asks the project's length as it meets a vector:
    before any of the upload's vectors is written, so an update cannot answer for itself."""
    present = None
    if on_duplicate != OnDuplicate.REJECT:
        present = _AlreadyPresent(project, update=on_duplicate == OnDuplicate.UPDATE, by=by)
    else:
        rules = replace(rules, features_length=_not_asked)
    reader = RowReader(source, file_format, rules)
    now = timezone.now()
    created = answered = 0
    with _ItemWriter(project, now) as items:
        for batch in _batches(reader):
            if reader.errors:
                break
            new, labelled = batch, list[tuple]()
            if present is not None:
                new, labelled = present.take(batch, reader, now)
            if new:
                labelled += _new_answers(new, items.add(new))
            if present is not None:
                items.end()
            if labelled:
                answers.record_imported(
                    project_id=project.id, overlap=project.overlap, answers=labelled, now=now
                )
            created, answered = created + len(new), answered + len(labelled)
            if on_batch is not None:
                on_batch(reader.count)
    reader.raise_if_invalid()
    if reader.vector_length is not None:
        known = _features_length(project.id, before=now)
        if known not in (None, reader.vector_length):
            raise ImportRejected([])  # the report's second read lists each row
    if present is None:
        return Imported(created, answered)
    return Imported(created, answered, updated=present.updated, skipped=present.skipped)


def _new_answers(rows: tuple[ParsedRow, ...], item_ids: list[int] | None) -> list[tuple]:
    """The answers rows bring to their new items, as record_imported takes them; `item_ids`
    None: no row brings one."""
    if item_ids is None:
        return []
    return [
        (item_id, row.answer.annotator_id, row.answer.label_ids)
        for item_id, row in zip(item_ids, rows, strict=True)
        if row.answer is not None
    ]


def _batches(rows: Iterable[ParsedRow]) -> Iterator[tuple[ParsedRow, ...]]:
    rows = iter(rows)
    return iter(lambda: tuple(islice(rows, BATCH_ROWS)), ())


def _after_commit(project_id: int, imported: Imported) -> None:
    transaction.on_commit(lambda: analyze_if_large(imported.created + imported.updated))
    if imported.created or imported.updated:  # new items, or new texts for the model to score
        changed = imported.created + imported.updated
        announce_after_commit(items_imported, project_id=project_id, count=changed)
    if imported.answers:
        announce_after_commit(answers_recorded, project_id=project_id)  # a round may be due


def _every_problem(
    project: Project,
    source: IO[bytes],
    file_format: str,
    rules: RowRules,
    on_duplicate: str = OnDuplicate.REJECT,
) -> DomainError:
    """Read the upload again, remembering every external_id, and return ImportRejected listing
    each bad row, each external_id given twice, and each row the project has already (reject)
    or whose answer it cannot take (update); Conflict when there is none (the project changed
    during the import). With reject, the last error says how many rows are present and how
    to import the file all the same."""
    reader = RowReader(source, file_format, rules, find_duplicates=True)
    present = 0
    try:
        for batch in _batches(reader):
            present += _report_present(project, batch, reader, on_duplicate)
        reader.raise_if_invalid()
    except ImportRejected as rejected:
        if on_duplicate != OnDuplicate.REJECT or not present:
            return rejected
        hint = (
            f"{_counted(present, 'row')} of the file {'is' if present == 1 else 'are'} already "
            "in this project (same external_id): import it with on_duplicate=skip to leave "
            "them out, or on_duplicate=update to replace their data"
        )
        errors = [*rejected.errors, {"line": None, "field": "external_id", "message": hint}]
        return ImportRejected(errors, detail=hint)
    return Conflict(
        "the project changed during the import (another import added some of these "
        "external_ids, or a label or member went); nothing was imported: try again",
        field="external_id",
    )


def _report_present(
    project: Project, rows: tuple[ParsedRow, ...], reader: RowReader, on_duplicate: str
) -> int:
    """Add the errors of the rows the project has already: each one (reject), or each answer
    it cannot take (update); return how many there are."""
    found = _present_items(project, rows)
    present = [(row, found[row.external_id]) for row in rows if row.external_id in found]
    if on_duplicate == OnDuplicate.REJECT:
        for row, _ in present:
            message = f"external_id {row.external_id!r} is already in this project"
            reader.errors.add(row.line, "external_id", message)
    elif on_duplicate == OnDuplicate.UPDATE:
        _recordable_answers(project, present, reader)
    return len(present)


@dataclass(frozen=True, slots=True)
class _Present:
    """An item of the project that a row's external_id names."""

    id: int
    answers: int  # its annotation_count
    created_at: datetime


def _present_items(project: Project, rows: Iterable[ParsedRow]) -> dict[str, _Present]:
    """The project's items that the rows' external_ids name, by external_id (one query)."""
    wanted = [row.external_id for row in rows if row.external_id is not None]
    if not wanted:
        return {}
    found = Item.objects.filter(project=project, external_id__in=wanted).values_list(
        "external_id", "id", "annotation_count", "created_at"
    )
    return {
        external_id: _Present(item_id, count, created_at)
        for external_id, item_id, count, created_at in found
        if external_id is not None
    }


class _AlreadyPresent:
    """Skip or update: the rows whose external_id the project has already, a batch at a time.

    Each batch's are found with one query, then left out (skip) or their items' data replaced
    (update, with the answers they bring that can be recorded, and the gold labels they bring:
    a row without `gold` leaves its item's as they are; unmarking is the item's own call).
    An external_id given twice in the upload stays an error: a row naming an item this import
    created, or one an earlier row already named, stops the import (ImportRejected), and the
    error report's second read names both lines. `seen` holds the ids of the items named so
    far (about 60 bytes each).
    """

    def __init__(self, project: Project, *, update: bool, by: User | None = None) -> None:
        self.project, self.update = project, update
        self.by = by.get_username() if by is not None else ""
        self.seen: set[int] = set()
        self.updated = self.skipped = 0

    def take(
        self, rows: tuple[ParsedRow, ...], reader: RowReader, now: datetime
    ) -> tuple[tuple[ParsedRow, ...], list[tuple]]:
        """Deal with the batch's rows already present; return the new rows, and the answers
        the others bring, as record_imported takes them."""
        found = _present_items(self.project, rows)
        if not found:
            return rows, []
        new, present = [], []
        for row in rows:
            item = found.get(row.external_id) if row.external_id is not None else None
            if item is None:
                new.append(row)
                continue
            if item.created_at >= now or item.id in self.seen:
                raise ImportRejected([])  # given twice: the report's second read says where
            self.seen.add(item.id)
            present.append((row, item))
        if not self.update:
            self.skipped += len(present)
            return tuple(new), []
        recordable = _recordable_answers(self.project, present, reader)
        _replace_data([(item.id, row.data_json) for row, item in present])
        if known := {item.id: row.gold for row, item in present if row.gold is not None}:
            gold.write(known, by=self.by)
        self.updated += len(present)
        return tuple(new), recordable


def _recordable_answers(
    project: Project, present: list[tuple[ParsedRow, _Present]], reader: RowReader
) -> list[tuple]:
    """The answers rows bring to items already in the project that can be recorded, as
    record_imported takes them; the others are the rows' errors.

    An import records first answers only, as for a new item: the annotator's, on an item with
    room for one more. The same answer (same labels) given already is nothing to do, so that
    an update can be run again; other labels, or an item with every answer it needs, are an
    error rather than a silent change to what a person answered (their answer is changed on
    the item's page, by them or a reviewer)."""
    labelled = [(row, item, row.answer) for row, item in present if row.answer is not None]
    if not labelled:
        return []
    given = _answers_given([item.id for _, item, _ in labelled])
    recordable = []
    for row, item, answer in labelled:
        earlier = given.get((item.id, answer.annotator_id))
        if earlier is None and item.answers < project.overlap:
            recordable.append((item.id, answer.annotator_id, answer.label_ids))
        elif earlier is None:
            message = (
                f"the item has every answer it needs already ({project.overlap}): "
                "leave this row's labels out to update its data"
            )
            reader.errors.add(row.line, "labels", message)
        elif earlier != frozenset(answer.label_ids):
            message = (
                "the annotator has answered this item already, with other labels: an import "
                "adds first answers and changes none (leave this row's labels out)"
            )
            reader.errors.add(row.line, "labels", message)
    return recordable


def _answers_given(item_ids: list[int]) -> dict[tuple[int, int], frozenset[int]]:
    """The items' answers: (item id, annotator id) -> label ids (none for a skip)."""
    answers = Annotation.objects.filter(item_id__in=item_ids).values_list(
        "id", "item_id", "annotator_id"
    )
    keys = {answer_id: (item_id, annotator_id) for answer_id, item_id, annotator_id in answers}
    labels: dict[int, set[int]] = defaultdict(set)
    if keys:
        rows = Annotation.labels.through.objects.filter(annotation_id__in=list(keys))
        for answer_id, label_id in rows.values_list("annotation_id", "label_id"):
            labels[answer_id].add(label_id)
    return {key: frozenset(labels[answer_id]) for answer_id, key in keys.items()}


_ITEM = Item._meta.db_table
# one statement a batch; an item whose data is the same already is not written again
_REPLACE_DATA_PG = f"""
    UPDATE {_ITEM} AS item SET data = new.data::jsonb
    FROM unnest(%s::bigint[], %s::text[]) AS new(id, data)
    WHERE item.id = new.id AND item.data <> new.data::jsonb
"""
_REPLACE_DATA = f"UPDATE {_ITEM} SET data = %s WHERE id = %s AND json(data) <> json(%s)"


def _replace_data(items: list[tuple[int, str]]) -> None:
    """Set each (item id, data as JSON) item's data. The text index follows: PostgreSQL's GIN
    index is on the column, SQLite's FTS5 table has an UPDATE OF data trigger (0014)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids, data = zip(*items, strict=True)
            cursor.execute(_REPLACE_DATA_PG, [list(ids), list(data)])
        else:
            cursor.executemany(_REPLACE_DATA, [(data, id_, data) for id_, data in items])


class _ItemWriter:
    """Writes an import's items a batch at a time; `add` returns the batch's item ids where
    the batch brings answers (they name their items), else None.

    On PostgreSQL, batches without answers go into one COPY that stays open from batch to
    batch, so that the server inserts while the next rows are parsed: a COPY ended at every
    batch made the import wait for the server each time (46,000 items/s against 81,000, in
    process). A batch with answers ends it, draws its items' ids from their sequence (one
    statement) and COPYs them with those ids. Elsewhere, bulk INSERT.
    """

    COLUMNS = (
        "project_id, external_id, data, status, annotation_count, random_key, created_at, gold"
    )

    def __init__(self, project: Project, now: datetime) -> None:
        self.project, self.now = project, now
        self.open_copy = None
        self.stack = ExitStack()

    def __enter__(self) -> "_ItemWriter":
        return self

    def __exit__(self, *exc) -> None:
        self._close(*exc)

    def add(self, rows: tuple[ParsedRow, ...]) -> list[int] | None:
        if connection.vendor != "postgresql":
            return self._create(rows)
        with connection.wrap_database_errors:  # psycopg's errors as Django's IntegrityError
            if not any(row.answer is not None for row in rows):
                self._write_rows(self._copy(), rows, None)
                return None
            self._close(None, None, None)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT nextval(pg_get_serial_sequence('{Item._meta.db_table}', 'id')) "
                    "FROM generate_series(1, %s)",
                    [len(rows)],
                )
                ids = [item_id for (item_id,) in cursor.fetchall()]
                sql = f"COPY {Item._meta.db_table} (id, {self.COLUMNS}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    self._write_rows(copy, rows, ids)
            return ids

    def end(self) -> None:
        """End the open COPY, if any, so that queries may run."""
        self._close(None, None, None)

    def _copy(self):
        if self.open_copy is None:
            cursor = self.stack.enter_context(connection.cursor())
            sql = f"COPY {Item._meta.db_table} ({self.COLUMNS}) FROM STDIN"
            self.open_copy = self.stack.enter_context(cursor.cursor.copy(sql))
        return self.open_copy

    def _close(self, *exc) -> None:
        """End the open COPY: with the exception that stops the import, if one does."""
        if self.open_copy is not None:
            self.open_copy = None
            with connection.wrap_database_errors:
                self.stack.__exit__(*exc)
            self.stack = ExitStack()

    def _write_rows(self, copy, rows: tuple[ParsedRow, ...], ids: list[int] | None) -> None:
        project_id, open_status, now = self.project.id, Item.Status.OPEN.value, self.now
        for n, row in enumerate(rows):
            values = (
                project_id,
                row.external_id,
                row.data_json,
                open_status,
                0,
                random.random(),
                now,
                None if row.gold is None else orjson.dumps(row.gold).decode(),
            )
            copy.write_row(values if ids is None else (ids[n], *values))

    def _create(self, rows: tuple[ParsedRow, ...]) -> list[int]:
        items = Item.objects.bulk_create(
            Item(
                project=self.project,
                external_id=row.external_id,
                data=row.data,
                random_key=random.random(),
                created_at=self.now,
                gold=row.gold,
            )
            for row in rows
        )
        return [item.id for item in items]


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


# --- large uploads as jobs ---------------------------------------------------------------


def queue_import(
    *,
    project: Project,
    raw: bytes | IO[bytes],
    file_format: str,
    user,
    on_duplicate: str = OnDuplicate.REJECT,
) -> ImportJob:
    """Keep the upload (bytes, or a binary file) in the database, CHUNK_BYTES at a time, under
    a job row with its `on_duplicate` (as import_items takes it), and ask a worker to run it
    once this transaction commits. With the broker down the job waits, queued, for the sweep
    to ask again."""
    source = _stream(raw)
    job = ImportJob.objects.create(
        project=project,
        created_by=user,
        file_format=file_format,
        on_duplicate=on_duplicate,
        heartbeat_at=timezone.now(),
    )
    size = 0
    for number, piece in enumerate(iter(partial(source.read, CHUNK_BYTES), b"")):
        ImportChunk.objects.create(job=job, number=number, data=piece)
        size += len(piece)
    job.size_bytes = size
    job.save(update_fields=["size_bytes"])
    audit.import_queued(job=job)
    transaction.on_commit(partial(_send_soon, job.id))
    return job


def _send_soon(job_id: int) -> None:
    """Send from a thread: the request never waits on the broker (with Redis down, its client
    alone retries a refused connection for six seconds)."""

    def send() -> None:
        try:
            _send(job_id)
        finally:
            connection.close()

    threading.Thread(target=send, daemon=True, name="import-send").start()


def _send(job_id: int) -> None:
    """Ask a worker for the job, without retries: with the broker down the job row stays
    queued, marked unsent, and the sweep sends it once the broker is back."""
    try:
        # by name: annotation.tasks imports this module, and this one never imports it back
        app.send_task(RUN_IMPORT, (job_id,), retry=False)
    except Exception as error:  # whatever the broker raised, the job row is the truth
        log.warning("could not ask a worker for import job %s: %s", job_id, error)
        ImportJob.objects.filter(id=job_id, status=Status.QUEUED).update(heartbeat_at=None)


def run_import_job(*, job_id: int) -> None:
    """Validate and insert a queued upload; every run ends the job (succeeded, or failed with
    its errors) and drops its upload, unless the job was not queued (a redelivered message: a
    no-op) or the sweep gave it to another run meanwhile (that run ends it).

    The final status is written in the same transaction as the items, so a worker killed
    midway leaves no items, and a job that the sweep runs again.
    """
    attempt = _claim(job_id)
    if attempt is None:
        return
    job = ImportJob.objects.select_related("project", "created_by").get(id=job_id)
    with _Heartbeat(job_id, attempt) as heartbeat:
        try:
            _run(job, attempt, heartbeat)
        except _TakenOver:
            log.warning("import job %s was taken over by another run", job_id)
        except (ImportRejected, Conflict) as rejected:
            errors = getattr(rejected, "errors", None) or [
                {"line": None, "field": rejected.field, "message": rejected.message}
            ]
            _end(job_id, attempt, Status.FAILED, errors=errors)
        except Exception as error:  # anything else ends the job too, with what it was
            log.exception("import job %s failed", job_id)
            message = f"the import stopped on an error ({type(error).__name__}: {error})"
            _end(job_id, attempt, Status.FAILED, errors=[_job_error(message)])


class _TakenOver(Exception):
    """The sweep gave this job to another run while this one was still going."""


def _claim(job_id: int) -> int | None:
    """Take a queued job: return this run's attempt number, None when the job is not queued."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(id=job_id, status=Status.QUEUED).update(
        status=Status.VALIDATING,
        started_at=now,
        heartbeat_at=now,
        processed_rows=0,
        attempts=F("attempts") + 1,
    )
    if claimed != 1:
        return None
    return ImportJob.objects.values_list("attempts", flat=True).get(id=job_id)


def _run(job: ImportJob, attempt: int, heartbeat: "_Heartbeat") -> None:
    with _local_copy(job.id) as source:
        _run_from(job, attempt, heartbeat, source)


def _run_from(job: ImportJob, attempt: int, heartbeat: "_Heartbeat", source: IO[bytes]) -> None:
    """Check every row (progress written as it goes), then insert them all in one transaction
    that also ends the job."""
    rules = row_rules(job.project, job.created_by)

    def checked(rows: int) -> None:
        heartbeat.checked(rows, about=_rows_in_file(rows, source.tell(), job.size_bytes))

    try:
        reader = RowReader(source, job.file_format, rules, progress=checked)
        for _ in reader:
            if reader.errors:
                break
        reader.raise_if_invalid()
        inserting = _running(job.id, attempt).update(
            status=Status.INSERTING, total_rows=reader.count, processed_rows=0
        )
        if not inserting:
            raise _TakenOver
        heartbeat.rows = 0
        source.seek(0)
        with transaction.atomic():
            imported = _write(
                job.project,
                source,
                job.file_format,
                rules,
                job.on_duplicate,
                heartbeat.inserted,
                by=job.created_by,
            )
            if not _end(
                job.id,
                attempt,
                Status.SUCCEEDED,
                created_count=imported.created,
                updated_count=imported.updated,
                skipped_count=imported.skipped,
                answer_count=imported.answers,
                processed_rows=reader.count,
            ):
                raise _TakenOver
            _after_commit(job.project_id, imported)
    except (IntegrityError, ImportRejected):
        source.seek(0)
        raise _every_problem(
            job.project, source, job.file_format, rules, job.on_duplicate
        ) from None


def _rows_in_file(rows: int, bytes_read: int, size: int) -> int:
    """The file's rows, estimated from the first `rows` and the bytes they took: the progress
    bar's end while the rows are checked (the count is known after)."""
    return max(rows, round(rows * size / bytes_read)) if bytes_read else rows


def _running(job_id: int, attempt: int):
    """The job's row while this run (attempt) still holds it."""
    return ImportJob.objects.filter(id=job_id, attempts=attempt, status__in=ImportJob.RUNNING)


def _end(job_id: int, attempt: int, status: str, *, only_if: Q | None = None, **fields) -> bool:
    """End the job unless another run holds it now (False): its status and fields, its upload
    deleted, the audit log told."""
    with transaction.atomic():
        ended = (
            _running(job_id, attempt)
            .filter(only_if or Q())
            .update(status=status, finished_at=timezone.now(), **fields)
        )
        if ended:
            ImportChunk.objects.filter(job_id=job_id).delete()
            audit.import_finished(job_id=job_id)
    return bool(ended)


def _job_error(message: str) -> dict:
    return {"line": None, "field": None, "message": f"{message}; nothing was imported"}


class _Heartbeat:
    """While a job runs, refresh its heartbeat every HITL_HEARTBEAT_SECONDS, and its
    progress while it inserts every PROGRESS_SECONDS, from a thread with its own database
    connection: the insert's transaction hides its own writes until it commits (on SQLite
    the insert holds the one write lock, so the bar moves only while rows are checked). A
    worker that dies stops beating, and the sweep takes its job over
    HITL_IMPORT_STALE_SECONDS later. The thread is not waited for: a beat held up by the
    database ends alone, its write a no-op once the job ended."""

    def __init__(self, job_id: int, attempt: int) -> None:
        self.job_id, self.attempt = job_id, attempt
        self.rows: int | None = None  # rows inserted, once inserting
        self.stop = threading.Event()

    def __enter__(self) -> "_Heartbeat":
        threading.Thread(target=self._beat, daemon=True, name="import-heartbeat").start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()

    def checked(self, rows: int, *, about: int) -> None:
        """Progress of the first pass, written at once (no transaction is open then): rows
        checked, and the file's rows as estimated so far (`about`)."""
        _running(self.job_id, self.attempt).update(
            processed_rows=rows, total_rows=about, heartbeat_at=timezone.now()
        )

    def inserted(self, rows: int) -> None:
        self.rows = rows  # the thread writes it

    def _beat(self) -> None:
        written, beat_at = None, time.monotonic()
        try:
            while not self.stop.wait(min(PROGRESS_SECONDS, settings.HITL_HEARTBEAT_SECONDS)):
                fields: dict = {}
                if time.monotonic() - beat_at >= settings.HITL_HEARTBEAT_SECONDS:
                    fields["heartbeat_at"] = timezone.now()
                if self.rows is not None and self.rows != written:
                    fields["processed_rows"] = written = self.rows
                if not fields:
                    continue
                try:
                    _running(self.job_id, self.attempt).update(**fields)
                except DatabaseError:
                    pass  # the database is away, or (SQLite) the insert holds its lock
                if "heartbeat_at" in fields:
                    beat_at = time.monotonic()
        finally:
            connection.close()


def _local_copy(job_id: int) -> IO[bytes]:
    """The job's upload in a temporary file, copied from its chunks one at a time: the job
    reads it from there, since no query (for the next chunk) can run while a COPY writes."""
    local = tempfile.TemporaryFile()
    chunks = ImportChunk.objects.filter(job_id=job_id)
    for number in chunks.order_by("number").values_list("number", flat=True):
        local.write(chunks.filter(number=number).values_list("data", flat=True).get())
    local.seek(0)
    return local


def sweep_jobs() -> dict[str, list[int]]:
    """Send the queued jobs that no worker has (the broker was down, or lost the message),
    and take over the running ones whose worker died (no heartbeat for
    HITL_IMPORT_STALE_SECONDS): run once more, or failed after ATTEMPTS runs. The beat runs
    this every HITL_SWEEP_SECONDS (annotation.tasks.sweep_imports); it is safe to run twice."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.HITL_IMPORT_STALE_SECONDS)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)  # None: never sent
    dead = ImportJob.objects.filter(stale, status__in=ImportJob.RUNNING)
    failed = []
    for job_id, attempts in dead.values_list("id", "attempts"):
        if attempts >= ATTEMPTS:
            message = f"the worker running this import stopped, {attempts} times"
            if _end(job_id, attempts, Status.FAILED, only_if=stale, errors=[_job_error(message)]):
                failed.append(job_id)
        else:
            _running(job_id, attempts).filter(stale).update(status=Status.QUEUED, heartbeat_at=None)
    unsent = ImportJob.objects.filter(stale, status=Status.QUEUED)
    sent = []
    for job_id in unsent.values_list("id", flat=True):
        if unsent.filter(id=job_id).update(heartbeat_at=now):
            _send(job_id)
            sent.append(job_id)
    return {"sent": sent, "failed": failed}
