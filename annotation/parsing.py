"""Parse and validate uploaded items (JSON array, JSON Lines, CSV) without touching the database.

The upload is read as a stream, a piece at a time, so memory holds one row (at most
MAX_ROW_BYTES) and the error list whatever the upload's size. Every row is checked; each
problem is reported with the line it starts on and the field at fault, so a client can fix its
file in one go. What a row is checked against beyond its own shape (the project's labels,
members and feature-vector length) comes in a RowRules that the caller reads from the project.
"""

import codecs
import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Literal, NoReturn, TypeGuard

import orjson

from annotation import gold
from annotation.answers import check_label_names
from annotation.errors import ImportRejected, InvalidLabels

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
# A row (a JSON Lines line, a JSON array's element, a CSV line) longer than this is an error,
# never a reason to hold more of the upload in memory: a text of MAX_TEXT_CHARS written as
# \uXXXX escapes takes 600 kB, a 10,000-number feature vector about 200 kB.
MAX_ROW_BYTES = 4 * 1024 * 1024
MAX_ERRORS = 100  # past this many, the report says so instead of listing them all
LABEL_SEPARATOR = "|"  # a CSV cell of several labels, as the export writes it
_READ_BYTES = 1024 * 1024
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True, slots=True)
class Answer:
    """The labels a row brings, as ids, and who gave them."""

    annotator_id: int
    label_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    external_id: str | None
    data: dict
    data_json: str  # `data` as JSON, checked storable (no NUL, not nested too deeply)
    answer: Answer | None
    gold: list[str] | None = None  # known labels, checked (annotation.gold), the project's order


@dataclass(frozen=True)
class RowRules:
    """The project's side of validation: its labels (in its order: gold labels are kept so)
    and members by name, who answers rows that name no annotator (the importing user; None
    when there is none), and how to learn the length of the feature vectors its items have
    (None when they have none), asked once, of uploads that bring vectors."""

    labels: dict[str, int] = field(default_factory=dict)
    multi_label: bool = False
    members: dict[str, int] = field(default_factory=dict)
    importer_id: int | None = None
    features_length: Callable[[], int | None] = lambda: None


class _Errors:
    """Collects row errors up to MAX_ERRORS."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.truncated = False

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, line: int | None, field: str | None, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append({"line": line, "field": field, "message": message})
        else:
            self.truncated = True

    def raise_if_any(self) -> None:
        if not self.items:
            return
        errors = sorted(self.items, key=lambda e: (e["line"] is None, e["line"] or 0))
        if self.truncated:
            message = f"more than {MAX_ERRORS} errors; stopped listing"
            errors.append({"line": None, "field": None, "message": message})
        raise ImportRejected(errors)


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

    `stream` is the upload, binary and seekable, at its start. Iterating can start writing
    before the last row is read: the caller does it inside a transaction and calls
    `raise_if_invalid()` before committing, so a bad row anywhere still means nothing is
    written. Broken structure (bad encoding in JSON or CSV, an unreadable JSON array or CSV
    header) raises ImportRejected at once.

    An external_id given twice in the upload is found by the database's unique constraint on
    the fast path; `find_duplicates=True` (the error report's pass) remembers every id instead.
    """

    def __init__(
        self,
        stream: IO[bytes],
        file_format: str,
        rules: RowRules | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        find_duplicates: bool = False,
    ) -> None:
        self.stream, self.file_format, self.progress = stream, file_format, progress
        self.rules = rules or RowRules()
        self.errors = _Errors()
        self.count = 0
        self.seen_ids: dict[str, int] | None = {} if find_duplicates else None
        self._features: tuple[int, str] | None = None
        self._features_asked = False
        self._label_order: dict[str, int] | None = None  # for gold labels, once a row has some

    def __iter__(self) -> Iterator[ParsedRow]:
        _skip_bom_or_reject_empty(self.stream)
        records = {"json": _json_records, "jsonl": _jsonl_records, "csv": _csv_records}
        for line, record in records[self.file_format](self.stream, self.errors):
            row = self._validate(line, record)
            self.count += 1
            if self.progress is not None and self.count % 5_000 == 0:
                self.progress(self.count)
            if row is not None:
                yield row

    @property
    def vector_length(self) -> int | None:
        """The length every row's `features` vector has (the first one's), None without any."""
        return self._features[0] if self._features is not None else None

    def raise_if_invalid(self) -> None:
        """Raise ImportRejected if any row was bad or there were no rows at all."""
        if self.count == 0 and not self.errors:
            _reject(1, None, "the file has no items")
        self.errors.raise_if_any()

    def _validate(self, line: int, record: object) -> ParsedRow | None:
        """Check one row; rows are flat ({"text": ..., "other": ...}) or exported ({"data":
        {...}, "labels": [...], ...}): `external_id`, `labels`, `annotator` and `gold` are
        read from the top level of either, every other key of a flat row is the item's data."""
        errors = self.errors
        if not isinstance(record, dict):
            errors.add(line, None, f"each row must be an object, not {_type_name(record)}")
            return None
        raw_external_id = record.pop("external_id", None)  # the record is ours to change
        labels, annotator = record.pop("labels", None), record.pop("annotator", None)
        known = record.pop("gold", None)
        if "text" not in record and isinstance(record.get("data"), dict):
            data = record["data"]  # an exported row: its other top-level keys are output only
        else:
            data = record
        ok = _check_text(line, data, errors)
        external_id = self._external_id(line, raw_external_id)
        if external_id is False:
            ok = False
        if "features" in data and not self._check_features(line, data["features"]):
            ok = False
        answer = self._answer(line, labels, annotator)
        if answer is False:
            ok = False
        gold_labels = None if known is None else self._gold(line, known)
        if gold_labels is False:
            ok = False
        data_json = _storable(line, data, errors)
        if data_json is None or not ok:
            return None
        return ParsedRow(line, external_id, data, data_json, answer, gold_labels)  # type: ignore[arg-type]

    def _external_id(self, line: int, value: object) -> str | None | bool:
        """The external id as text, None when absent, False when invalid (already reported)."""
        if value is None:
            return None
        errors = self.errors
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            message = f"must be a string or an integer, not {_type_name(value)}"
            errors.add(line, "external_id", message)
            return False
        value = str(value)
        if not value.strip() or len(value) > MAX_EXTERNAL_ID_CHARS:
            errors.add(line, "external_id", f"must be 1 to {MAX_EXTERNAL_ID_CHARS} characters")
            return False
        if "\x00" in value:
            errors.add(line, "external_id", "contains a NUL character (\\u0000)")
            return False
        if self.seen_ids is not None:
            first = self.seen_ids.setdefault(value, line)
            if first != line:
                message = f"external_id {value!r} already appears on line {first}"
                errors.add(line, "external_id", message)
                return False
        return value

    def _check_features(self, line: int, value: object) -> bool:
        """A non-empty list of finite numbers, as long as every other vector of the project:
        the model takes them as one matrix."""
        if not _valid_features(value):
            self.errors.add(line, "features", "must be a non-empty list of finite numbers")
            return False
        length = len(value)  # type: ignore[arg-type]
        if not self._features_asked:
            self._features_asked = True
            if (known := self.rules.features_length()) is not None:
                self._features = (known, "the project's items' vectors have")
        if self._features is None:
            self._features = (length, f"the vector on line {line} has")
            return True
        expected, where = self._features
        if length != expected:
            message = f"has length {length}, but {where} length {expected}: all must be as long"
            self.errors.add(line, "features", message)
            return False
        return True

    def _answer(self, line: int, labels: object, annotator: object) -> Answer | None | bool:
        """The row's labels as an answer: None without labels, False when invalid (reported).

        Labels are checked as an annotator's answer is: names of the project's labels, and
        the count its task type allows. They are the importing user's unless the row names a
        project member in `annotator`."""
        annotator_id = self._annotator(line, annotator)
        if labels is None or labels == []:
            return None if annotator_id is not False else False
        label_ids = self._label_ids(line, labels)
        if annotator_id is None:
            self.errors.add(line, "annotator", "labels need an annotator: name a project member")
            return False
        if annotator_id is False or label_ids is None:
            return False
        return Answer(annotator_id, label_ids)

    def _annotator(self, line: int, name: object) -> int | None | Literal[False]:
        """The answering user's id: the named member's, else the importer's (None when there
        is no importer); False when the name is no member's (reported)."""
        if name is None:
            return self.rules.importer_id
        if isinstance(name, str) and name in self.rules.members:
            return self.rules.members[name]
        shown = repr(name) if isinstance(name, str) else _type_name(name)
        self.errors.add(line, "annotator", f"{shown} is not a member of this project")
        return False

    def _gold(self, line: int, labels: object) -> list[str] | None | Literal[False]:
        """The row's gold labels as annotation.gold checks them (the project's labels, as
        many as its task type takes), in the project's order: None for none (an empty list),
        False when invalid (reported)."""
        if labels == []:
            return None
        if not _label_names(labels):
            self.errors.add(line, "gold", "must be a list of label names")
            return False
        if self._label_order is None:
            self._label_order = {name: n for n, name in enumerate(self.rules.labels)}
        try:
            return gold.known(labels, self._label_order, multi_label=self.rules.multi_label)
        except InvalidLabels as invalid:
            self.errors.add(line, "gold", invalid.message)
            return False

    def _label_ids(self, line: int, labels: object) -> tuple[int, ...] | None:
        rules, errors = self.rules, self.errors
        if not _label_names(labels):
            errors.add(line, "labels", "must be a list of label names")
            return None
        if unknown := [name for name in labels if name not in rules.labels]:
            errors.add(line, "labels", f"not labels of this project: {', '.join(unknown)}")
            return None
        try:
            check_label_names(labels, multi_label=rules.multi_label)
        except InvalidLabels as invalid:
            errors.add(line, "labels", invalid.message)
            return None
        return tuple(rules.labels[name] for name in labels)


def _check_text(line: int, data: dict, errors: _Errors) -> bool:
    text = data.get("text")
    if text is None:
        errors.add(line, "text", "missing: every item needs a text")
    elif not isinstance(text, str):
        errors.add(line, "text", f"must be a string, not {_type_name(text)}")
    elif not text.strip():
        errors.add(line, "text", "must not be blank")
    elif len(text) > MAX_TEXT_CHARS:
        errors.add(line, "text", f"is {len(text)} characters; at most {MAX_TEXT_CHARS}")
    else:
        return True
    return False


def _storable(line: int, data: dict, errors: _Errors) -> str | None:
    """`data` as the JSON text to store, or None (reported) where PostgreSQL or the JSON
    encoder would refuse it: a NUL character anywhere, a lone surrogate (which Python's JSON
    decoder lets through), nesting past the encoder's limit (orjson's, 254 levels)."""
    try:
        encoded = orjson.dumps(data)
    except orjson.JSONEncodeError as error:
        where = _first_unencodable(data)
        if "Recursion" in str(error):
            errors.add(
                line, where, "is nested too deeply (at most 254 levels of lists and objects)"
            )
        else:
            errors.add(line, where, f"cannot be stored: {error}")
        return None
    # orjson writes a NUL as \u0000, which PostgreSQL's jsonb refuses; the test on the bytes
    # costs next to nothing, and only a hit walks the row (a literal "\\u0000" is no NUL).
    if b"\\u0000" in encoded and (where := _nul_path(data)) is not None:
        errors.add(line, where, "contains a NUL character (\\u0000), which cannot be stored")
        return None
    return encoded.decode()


def _first_unencodable(data: dict) -> str | None:
    for key, value in data.items():
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            return key
    return None


def _nul_path(data: dict) -> str | None:
    """The dotted path of the first key or string under `data` that holds a NUL character."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, child in value.items():
                child_path = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return child_path.replace("\x00", "\\u0000")
                stack.append((child_path, child))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}", child) for index, child in enumerate(value))
    return None


def _skip_bom_or_reject_empty(stream: IO[bytes]) -> None:
    """Leave the stream after its UTF-8 byte-order mark, if any; reject an upload of nothing
    but white space."""
    start = stream.tell()
    blank = True
    while blank and (piece := stream.read(64 * 1024)):
        blank = not piece.lstrip(_BOM + b" \t\r\n")
    if blank:
        _reject(1, None, "the file is empty")
    stream.seek(start)
    if stream.read(len(_BOM)) != _BOM:
        stream.seek(start)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(number, bytes, whole) for each line; a line past MAX_ROW_BYTES comes cut (whole False)
    and the rest of it is skipped unread into memory."""
    number = 0
    while line := stream.readline(MAX_ROW_BYTES + 1):
        number += 1
        if len(line) <= MAX_ROW_BYTES or line.endswith(b"\n"):
            yield number, line, True
            continue
        while (rest := stream.readline(_READ_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield number, line, False


_TOO_LONG = f"the line is longer than {MAX_ROW_BYTES:,} bytes"


def _jsonl_records(stream: IO[bytes], errors: _Errors) -> Iterator[tuple[int, object]]:
    for number, line, whole in _lines(stream):
        if not whole:
            errors.add(number, None, _TOO_LONG)
        elif line.strip():
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as error:
                errors.add(number, None, _json_line_error(line, error))


def _json_line_error(line: bytes, error: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return _encoding_message(bad)
    return f"not valid JSON: {error.msg} (column {error.colno})"


def _encoding_message(error: UnicodeDecodeError) -> str:
    start = error.start
    column = start - (error.object.rfind(b"\n", 0, start) + 1) + 1
    return f"not valid UTF-8: byte 0x{error.object[start : start + 1].hex()} at column {column}"


class _Window:
    """The upload decoded as UTF-8 a piece at a time: the part of it that a JSON array's
    reader looks at (one to two pieces), and the line of any position in it.

    Positions are indexes into `text`; reading more drops the text before a position the
    caller keeps, so each call that reads returns that position's new index."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.eof = False
        self.mark, self.mark_line = 0, 1  # lines are counted up to `mark` (once each)
        self.column = 0  # text[0]'s column, less one

    def more(self, keep_from: int) -> int:
        """Drop the text before `keep_from` and read the next piece; return keep_from's index."""
        if self.mark < keep_from:
            self.line_at(keep_from)
        self.mark -= keep_from
        newline = self.text.rfind("\n", 0, keep_from)
        self.column = self.column + keep_from if newline < 0 else keep_from - newline - 1
        self.text = self.text[keep_from:]
        piece = self.stream.read(_READ_BYTES)
        self.eof = not piece
        try:
            self.text += self.decoder.decode(piece, final=self.eof)
        except UnicodeDecodeError as error:
            before = self.text.count("\n", self.mark) + error.object.count(b"\n", 0, error.start)
            _reject(self.mark_line + before, None, _encoding_message(error))
        return 0

    def column_at(self, position: int) -> int:
        newline = self.text.rfind("\n", 0, position)
        return position - newline if newline >= 0 else self.column + position + 1

    def line_at(self, position: int) -> int:
        if position >= self.mark:
            self.mark_line += self.text.count("\n", self.mark, position)
        else:
            self.mark_line -= self.text.count("\n", position, self.mark)
        self.mark = position
        return self.mark_line

    def fill(self, position: int) -> int:
        """Make sure a piece's worth of text follows `position` (or the upload's end)."""
        while not self.eof and len(self.text) - position < _READ_BYTES:
            position = self.more(position)
        return position

    def skip_space(self, position: int) -> int:
        position = self.fill(position)
        text = self.text
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
            if position == len(text) and not self.eof:
                position = self.fill(position)
                text = self.text
        return position


def _json_records(stream: IO[bytes], errors: _Errors) -> Iterator[tuple[int, object]]:
    """Split a JSON array into (line, element) pairs, reading one element at a time."""
    decoder = json.JSONDecoder()
    window = _Window(stream)
    position = window.skip_space(0)
    if window.text[position : position + 1] != "[":
        message = "a JSON upload must be an array of objects (JSON Lines: one object a line)"
        _reject(window.line_at(position), None, message)
    position = window.skip_space(position + 1)
    if window.text[position : position + 1] == "]":
        _no_trailing(window, position + 1)
        return
    while True:
        value, start, end = _element(decoder, window, position)
        yield window.line_at(start), value
        position = window.skip_space(end)
        separator = window.text[position : position + 1]
        if separator == "]":
            _no_trailing(window, position + 1)
            return
        if separator != ",":
            message = "not valid JSON: expected ',' or ']' after an element"
            _reject(window.line_at(position), None, message)
        position = window.skip_space(position + 1)


def _element(decoder: json.JSONDecoder, window: _Window, position: int) -> tuple[object, int, int]:
    """(value, start, end) of the element at `position`, reading on while the window's end
    cuts it off, up to MAX_ROW_BYTES."""
    while True:
        try:
            value, end = decoder.raw_decode(window.text, position)
            return value, position, end
        except json.JSONDecodeError as error:
            if window.eof or len(window.text) - position > MAX_ROW_BYTES:
                line, column = window.line_at(error.pos), window.column_at(error.pos)
                _reject(line, None, f"not valid JSON: {error.msg} (column {column})")
            position = window.more(position)
        except RecursionError:
            line = window.line_at(position)
            _reject(line, None, "not valid JSON here: nested too deeply to read")


def _no_trailing(window: _Window, position: int) -> None:
    rest = window.skip_space(position)
    if rest < len(window.text):
        message = "not valid JSON: unexpected data after the array"
        _reject(window.line_at(rest), None, message)


def _csv_records(stream: IO[bytes], errors: _Errors) -> Iterator[tuple[int, object]]:
    """Rows of a CSV upload, with the line each starts on. Quoting is strict: a quote that
    never closes is an error at the line where it opens (not a field that swallows the rest of
    the file), and so is text after a closing quote."""
    record_lines: list[str] = []  # the physical lines of the record being read
    reader = csv.reader(_csv_lines(stream, record_lines), strict=True)
    try:
        header = next(reader)
    except csv.Error as error:
        _reject(1, None, f"not valid CSV: {error}")
    if len(set(header)) != len(header):
        _reject(1, None, "a column name is repeated in the header")
    if "text" not in header:
        _reject(1, "text", "the header has no 'text' column")
    while True:
        start = reader.line_num + 1
        record_lines.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # the reader goes on at the next line
            errors.add(start, *_csv_error(error, record_lines, header))
            continue
        if len(cells) != len(header):
            if any(cell.strip() for cell in cells):  # blank lines are allowed
                errors.add(start, None, f"expected {len(header)} columns, found {len(cells)}")
        else:
            yield start, _csv_record(dict(zip(header, cells, strict=True)))


def _csv_lines(stream: IO[bytes], record_lines: list[str]) -> Iterator[str]:
    for number, line, whole in _lines(stream):
        if not whole:
            _reject(number, None, _TOO_LONG)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            _reject(number, None, _encoding_message(error))
        record_lines.append(text)
        yield text


def _csv_error(error: csv.Error, record_lines: list[str], header: list[str]) -> tuple:
    """(field, message) for a CSV syntax error; the field where a quote was left open."""
    message = str(error)
    if message == "unexpected end of data" or message.startswith("field larger than"):
        try:
            cells = next(csv.reader(["".join(record_lines)]))
        except (csv.Error, StopIteration):
            cells = []
        column = header[len(cells) - 1] if 0 < len(cells) <= len(header) else None
        if message == "unexpected end of data":
            return column, "a quote opens a field here and never closes"
        limit = csv.field_size_limit()
        return column, f"a field is longer than {limit:,} characters (a quote left open?)"
    return None, f"not valid CSV: {message}"


def _csv_record(cells: dict) -> dict:
    """Empty cells in CSV are missing values; a `features` cell holds a JSON list, a `labels`
    or `gold` cell names separated by '|' (as the export writes them)."""
    record = {key: value for key, value in cells.items() if value != "" or key == "text"}
    if isinstance(record.get("features"), str):
        try:
            record["features"] = orjson.loads(record["features"])
        except orjson.JSONDecodeError:
            pass  # left as text: validation reports it as the wrong type
    if isinstance(record.get("labels"), str):
        record["labels"] = record["labels"].split(LABEL_SEPARATOR)
    if isinstance(record.get("gold"), str):
        record["gold"] = record["gold"].split(LABEL_SEPARATOR)
    return record


def _label_names(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def _valid_features(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            for x in value
        )
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
