"""Stream a project's items with their labels as JSON, JSON Lines or CSV, a batch at a time."""

import io
from collections.abc import Iterator

import orjson

from annotation import audit, csvsafe
from annotation.models import AuditEvent, Project
from annotation.selectors import EVERY_ITEM, ItemFilter, export_batches

CONTENT_TYPES = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}
CSV_COLUMNS = [
    "id",
    "external_id",
    "text",
    "status",
    "annotation_count",
    "labels",
    "needs_review",
    "confidence",
    "method",
    "reviewed_by",
    "gold",
    "annotators",
]


def export_stream(
    project: Project, file_format: str, filters: ItemFilter = EVERY_ITEM, *, actor=None
) -> Iterator[bytes]:
    """Yield the export of the items that pass `filters` in chunks of one batch of items each;
    memory stays flat. The audit log records who exported what, as the export starts."""
    audit.record(
        project=project,
        actor=actor,
        action=AuditEvent.Action.EXPORTED,
        format=file_format,
        **filters.as_dict(),
    )
    return {"json": _json, "jsonl": _jsonl, "csv": _csv}[file_format](project, filters)


def _as_json(item: dict) -> bytes:
    """One item as JSON; its data goes out as stored, without being decoded and encoded again."""
    row = {
        "id": item["id"],
        "external_id": item["external_id"],
        "data": orjson.Fragment(item["data_json"]),
    }
    row |= {
        key: item[key]
        for key in (
            "status",
            "annotation_count",
            "labels",
            "needs_review",
            "consensus",
            "reviewed_by",
            "gold",
            "annotations",
        )
    }
    return orjson.dumps(row)


def _jsonl(project: Project, filters: ItemFilter) -> Iterator[bytes]:
    for batch in export_batches(project, filters):
        yield b"".join(_as_json(item) + b"\n" for item in batch)


def _json(project: Project, filters: ItemFilter) -> Iterator[bytes]:
    yield b"["
    first = True
    for batch in export_batches(project, filters):
        chunk = b",\n".join(_as_json(item) for item in batch)
        yield chunk if first else b",\n" + chunk
        first = False
    yield b"]\n"


def _csv(project: Project, filters: ItemFilter) -> Iterator[bytes]:
    """Items as spreadsheet-safe CSV: cells that would run as formulas are neutralised."""
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for batch in export_batches(project, filters):
        for item in batch:
            annotators = [answer["annotator"] for answer in item["annotations"]]
            consensus = item["consensus"]
            writer.writerow(
                [
                    item["id"],
                    item["external_id"] or "",
                    item["text"] or "",
                    item["status"],
                    item["annotation_count"],
                    "|".join(item["labels"]),
                    "true" if item["needs_review"] else "false",
                    consensus["confidence"] if consensus else "",
                    consensus["method"] if consensus else "",
                    item["reviewed_by"] or "",
                    "|".join(item["gold"] or []),
                    "|".join(annotators),
                ]
            )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
