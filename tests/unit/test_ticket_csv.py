"""Cells of the ticket CSV: formulas defused, times in UTC, RFC 4180 quoting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.domain.ticket_csv import cell, csv_text


def test_a_cell_a_spreadsheet_would_run_is_shown_as_text() -> None:
    for text in ("=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert cell(text) == "'" + text
    assert cell("SO-1001 = paid") == "SO-1001 = paid"
    assert cell(None) == "" and cell(1001) == "1001"


def test_times_are_iso_8601_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert cell(datetime(2026, 12, 7, 17, 30, tzinfo=shanghai)) == "2026-12-07T09:30:00Z"


def test_rows_are_quoted_as_rfc_4180_with_crlf() -> None:
    assert csv_text([["a,b", 'say "hi"', "two\nlines", "退款"]]) == '"a,b","say ""hi""","two\nlines",退款\r\n'
