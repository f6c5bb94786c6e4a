"""CSV that spreadsheets open as data, never as formulas (CWE-1236, CSV injection).

Excel, LibreOffice and Google Sheets run a cell that starts with =, +, -, @, a tab or a
carriage return as a formula: an item's text or a label name like `=HYPERLINK(...)` would
run on the machine of whoever opens the export. OWASP's remedy: prefix such a cell with a
single quote, and quote every cell. Every CSV the platform writes goes through here; JSON and
JSON Lines stay verbatim (no spreadsheet evaluates them).
"""

import csv
from collections.abc import Iterable
from typing import IO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """Return the value with a leading single quote if a spreadsheet would read a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def writer(file: IO[str]) -> "SafeWriter":
    """A csv writer that quotes every cell and neutralises formula-like ones."""
    return SafeWriter(file)


class SafeWriter:
    def __init__(self, file: IO[str]):
        self._writer = csv.writer(file, quoting=csv.QUOTE_ALL)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow([cell(value) for value in values])
