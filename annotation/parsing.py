"""Parse and validate uploaded items (JSON array, JSON Lines, CSV) without touching the database.

Every row is checked before anything is written; each problem is reported with the line it
starts on and the field at fault, so a client can fix its file in one go.
"""

import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, NoReturn

import orjson

from annotation.errors import ImportRejected

FORMATS = ("json", "jsonl", "csv")
CONTENT_TYPES = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
    "text/csv": "csv",
    "application/csv": "csv",
}
EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
MAX_TEXT_CHARS = 100_000
MAX_EXTERNAL_ID_CHARS = 255
MAX_ERRORS = 100  # past this many, the report says so instead of listing them all


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    external_id: str | None
    data: dict


class _Errors:
    """Collects row errors up to MAX_ERRORS."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.truncated = False

    def add(self, line: int | None, field: str | None, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append({"line": line, "field": field, "message": message})
        else:
            self.truncated = True

    def raise_if_any(self) -> None:
        if self.truncated:
            self.items.append(
                {
                    "line": None,
                    "field": None,
                    "message": f"more than {MAX_ERRORS} errors; stopped listing",
                }
            )
        if self.items:
            raise ImportRejected(self.items)


def _reject(line: int | None, field: str | None, message: str) -> NoReturn:
    """Stop at an error that leaves nothing else to check (bad encoding, broken structure)."""
    raise ImportRejected([{"line": line, "field": field, "message": message}])


def format_for(content_type: str | None, filename: str | None = None) -> str | None:
    """Name the upload's format from its file name or content type; None when unknown."""
    if filename:
        for extension, fmt in EXTENSIONS.items():
            if filename.lower().endswith(extension):
                return fmt
    base = (content_type or "").split(";")[0].strip().lower()
    return CONTENT_TYPES.get(base)


class RowReader:
    """Iterate an upload's valid rows, collecting every bad row's error on the way.

    Iterating can start writing before the last row is read: the caller does it inside a
    transaction and calls `raise_if_invalid()` before committing, so a bad row anywhere still
    means nothing is written. Broken structure (bad encoding, an unreadable JSON array or CSV
    header) raises ImportRejected at once.
    """

    def __init__(
        self, raw: bytes, file_format: str, progress: Callable[[int], None] | None = None
    ) -> None:
        self.raw, self.file_format, self.progress = raw, file_format, progress
        self.errors = _Errors()
        self.count = 0

    def __iter__(self) -> Iterator[ParsedRow]:
        text = _decode(self.raw)
        records = {"json": _json_records, "jsonl": _jsonl_records, "csv": _csv_records}
        seen_ids: dict[str, int] = {}
        for line, record in records[self.file_format](text, self.errors):
            row = _validate_record(line, record, self.errors)
            if row is not None and row.external_id is not None:
                first = seen_ids.setdefault(row.external_id, line)
                if first != line:
                    message = f"external_id {row.external_id!r} already appears on line {first}"
                    self.errors.add(line, "external_id", message)
                    row = None
            self.count += 1
            if self.progress is not None and self.count % 5_000 == 0:
                self.progress(self.count)
            if row is not None:
                yield row

    def raise_if_invalid(self) -> None:
        """Raise ImportRejected if any row was bad or there were no rows at all."""
        if self.count == 0 and not self.errors.items:
            _reject(1, None, "the file has no items")
        self.errors.raise_if_any()


def parse_upload(
    raw: bytes, file_format: str, *, progress: Callable[[int], None] | None = None
) -> list[ParsedRow]:
    """Return all of the upload's rows, validated; raise ImportRejected listing every bad row.

    `progress(rows_read)` is called every 5,000 rows.
    """
    reader = RowReader(raw, file_format, progress)
    rows = list(reader)
    reader.raise_if_invalid()
    return rows


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        start = error.start
        text = None
    if text is None:
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        _reject(
            line, None, f"not valid UTF-8: byte 0x{raw[start : start + 1].hex()} at column {column}"
        )
    if not text.strip():
        _reject(1, None, "the file is empty")
    return text


def _json_records(text: str, errors: _Errors) -> Iterator[tuple[int, object]]:
    """Split a JSON array into (line, element) pairs, keeping where each element starts."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if text[position] != "[":
        message = "a JSON upload must be an array of objects (JSON Lines: one object a line)"
        _reject(_line_at(text, position), None, message)
    line, counted_to = 1, 0
    position = _skip_space(text, position + 1)
    if text[position : position + 1] == "]":
        _no_trailing(text, position + 1)
        return
    while True:
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            _reject(error.lineno, None, f"not valid JSON: {error.msg} (column {error.colno})")
        yield line, value
        position = _skip_space(text, end)
        separator = text[position : position + 1]
        if separator == "]":
            _no_trailing(text, position + 1)
            return
        if separator != ",":
            message = "not valid JSON: expected ',' or ']' after an element"
            _reject(_line_at(text, position), None, message)
        position = _skip_space(text, position + 1)


def _no_trailing(text: str, position: int) -> None:
    rest = _skip_space(text, position)
    if rest < len(text):
        _reject(_line_at(text, rest), None, "not valid JSON: unexpected data after the array")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _jsonl_records(text: str, errors: _Errors) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            errors.add(number, None, f"not valid JSON: {error.msg} (column {error.colno})")


def _csv_records(text: str, errors: _Errors) -> Iterator[tuple[int, object]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as error:
        _reject(1, None, f"not valid CSV: {error}")
    if len(set(header)) != len(header):
        _reject(1, None, "a column name is repeated in the header")
    if "text" not in header:
        _reject(1, "text", "the header has no 'text' column")
    start = reader.line_num + 1
    try:
        for cells in reader:
            if len(cells) != len(header):
                if any(cell.strip() for cell in cells):  # blank lines are allowed
                    errors.add(start, None, f"expected {len(header)} columns, found {len(cells)}")
            else:
                yield start, _csv_record(dict(zip(header, cells, strict=True)))
            start = reader.line_num + 1
    except csv.Error as error:
        errors.add(reader.line_num, None, f"not valid CSV: {error}")


def _csv_record(cells: dict) -> dict:
    """Empty cells in CSV are missing values; a `features` cell holds a JSON list."""
    record = {key: value for key, value in cells.items() if value != "" or key == "text"}
    if isinstance(record.get("features"), str):
        try:
            record["features"] = orjson.loads(record["features"])
        except orjson.JSONDecodeError:
            pass  # left as text: validation reports it as the wrong type
    return record


def _validate_record(line: int, record: object, errors: _Errors) -> ParsedRow | None:
    """Check one row; rows are flat ({"text": ..., "other": ...}) or nested ({"data": {...}})."""
    if not isinstance(record, dict):
        errors.add(line, None, f"each row must be an object, not {_type_name(record)}")
        return None
    raw_external_id = record.pop("external_id", None)  # the record is ours to change
    if "text" not in record and isinstance(record.get("data"), dict):
        data = record["data"]  # an exported row: its other top-level keys are output only
    else:
        data = record
    ok = True
    text = data.get("text")
    if "text" not in data or text is None:
        errors.add(line, "text", "missing: every item needs a text")
        ok = False
    elif not isinstance(text, str):
        errors.add(line, "text", f"must be a string, not {_type_name(text)}")
        ok = False
    elif not text.strip():
        errors.add(line, "text", "must not be blank")
        ok = False
    elif len(text) > MAX_TEXT_CHARS:
        errors.add(line, "text", f"is {len(text)} characters; at most {MAX_TEXT_CHARS}")
        ok = False
    external_id = _external_id(line, raw_external_id, errors)
    if external_id is False:
        ok = False
    if "features" in data and not _valid_features(data["features"]):
        errors.add(line, "features", "must be a list of finite numbers")
        ok = False
    return ParsedRow(line, external_id, data) if ok and external_id is not False else None


def _external_id(line: int, value: object, errors: _Errors) -> str | None | Literal[False]:
    """The external id as text, None when absent, False when invalid (already reported)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors.add(line, "external_id", f"must be a string or an integer, not {_type_name(value)}")
        return False
    value = str(value)
    if not value.strip() or len(value) > MAX_EXTERNAL_ID_CHARS:
        errors.add(line, "external_id", f"must be 1 to {MAX_EXTERNAL_ID_CHARS} characters")
        return False
    return value


def _valid_features(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value
    )


def _type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
