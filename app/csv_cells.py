"""Every CSV the API writes goes through `CsvWriter`, and every CSV it reads through `read_cell`; the
sessions export alone is written by the database by the same rules (app/repositories/session_export.py,
compared byte for byte with `CsvWriter`'s file by tests/api/test_session_export.py).

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return as a formula
(CSV injection). Following the OWASP guidance, such a text cell is written with a leading `'`,
which spreadsheets show as text and do not display; and every cell is quoted, so a `;` or tab
inside a cell cannot start a new cell when the file is opened with another separator.

The rule is by type, not by column: `str` values are text, possibly untrusted (labels, names,
transaction ids, unknown card UIDs), and are neutralized; numbers, times and ids are passed as
`int`, `Decimal`, `datetime`, `UUID` and written by this module, so they are never altered (a
negative number stays a number). A text cell that already starts with quotes followed by a
dangerous character gets one quote more, so `read_cell` can undo exactly what was added and a
re-imported file gives back the original text.
"""

import csv
import io
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

Cell = str | int | Decimal | datetime | uuid.UUID | None

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALIZE = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALIZED = re.compile(r"'+[=+\-@\t\r]")


def neutralize(text: str) -> str:
    """The text as a spreadsheet shows it but does not evaluate it."""
    return "'" + text if _NEUTRALIZE.match(text) else text


def read_cell(text: str) -> str:
    """The inverse of `neutralize`, for CSV the API reads (a file it wrote, or one saved by a
    spreadsheet from cells typed as '=...)."""
    return text[1:] if _NEUTRALIZED.match(text) else text


def render(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return neutralize(cell)
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime):
        return cell.isoformat()
    if isinstance(cell, Decimal):
        return format(cell, "f")
    return str(cell)  # int, UUID


class CsvWriter:
    """Rows in, CSV text out, in pieces (for streaming): `writerow(...)`, then `take()`."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Iterable[Cell]) -> None:
        self._writer.writerow([render(cell) for cell in cells])

    def take(self) -> str:
        """The text written since the last call."""
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text
