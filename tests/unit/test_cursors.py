"""One cursor codec: every kind round-trips, and a cursor of one kind where another is expected
is an input error naming both kinds (never a 500, never a silently wrong page)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain import cursors
from app.domain.cursors import CursorKind
from app.domain.errors import InvalidInput
from app.domain.global_ids import decode as decode_id
from app.domain.global_ids import encode as encode_id
from app.domain.ticket_query import TicketOrder, TicketPageCursor
from app.events.cursors import EventPosition

SAMPLES = {
    CursorKind.TICKETS: TicketPageCursor(TicketOrder(), (datetime(2026, 12, 7, tzinfo=UTC), 42)).encode(),
    CursorKind.EVENTS: EventPosition(123456, 789).encode(),
    CursorKind.CUSTOMERS: cursors.encode(CursorKind.CUSTOMERS, ["张伟", 3]),
    CursorKind.ARTICLES: cursors.encode(CursorKind.ARTICLES, ["2026-12-07T00:00:00+00:00", 5]),
    CursorKind.NOTIFICATIONS: cursors.encode(CursorKind.NOTIFICATIONS, [17]),
}


def test_each_kind_round_trips() -> None:
    assert TicketPageCursor.decode(SAMPLES[CursorKind.TICKETS], TicketOrder()).key[1] == 42
    assert EventPosition.decode(SAMPLES[CursorKind.EVENTS]) == EventPosition(123456, 789)
    assert cursors.decode(CursorKind.CUSTOMERS, SAMPLES[CursorKind.CUSTOMERS]) == ["张伟", 3]
    assert decode_id(encode_id("Ticket", 7)) == ("Ticket", 7)


@pytest.mark.parametrize("given", list(CursorKind), ids=lambda k: k.name)
@pytest.mark.parametrize("expected", list(CursorKind), ids=lambda k: k.name)
def test_a_cursor_of_another_kind_names_both(given: CursorKind, expected: CursorKind) -> None:
    if given is expected:
        cursors.decode(expected, SAMPLES[given])
        return
    with pytest.raises(InvalidInput) as refused:
        cursors.decode(expected, SAMPLES[given])
    assert given.label in refused.value.message and expected.label in refused.value.message
    assert refused.value.field == ["after"]


@pytest.mark.parametrize("junk", ["", "!!!", "bm90IGEgY3Vyc29y", encode_id("Ticket", 1), "dGsxOnsi"])
def test_junk_is_not_a_valid_cursor(junk: str) -> None:
    for kind in CursorKind:
        with pytest.raises(InvalidInput):
            cursors.decode(kind, junk)
