"""The ticket list as a spreadsheet (GET /exports/tickets.csv): its columns, and cells that a
spreadsheet shows as text, never runs as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

HEADER = (
    "number",
    "subject",
    "status",
    "priority",
    "channel",
    "category",
    "group",
    "assignee",
    "customer",
    "createdAt",
    "updatedAt",
    "resolvedAt",
)
# Excel reads UTF-8 (Chinese included) only when the file starts with a byte order mark.
BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (CSV injection, OWASP): such cells get a leading apostrophe, which spreadsheets show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One cell's text: times as ISO 8601 in UTC, nothing for null, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV (RFC 4180 quoting, CRLF line ends), each value through `cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()
