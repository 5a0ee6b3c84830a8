"""Pages of the tickets a caller may see: Query.tickets, Customer.tickets, Agent.assignedTickets.

Keyset pages (no OFFSET) in the order asked for; the count of every matching ticket is read only
when someone asks for it, on the operation's shared connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement

from app.db.repositories import tickets as ticket_reads
from app.domain.enums import TicketStatus
from app.domain.principal import Viewer
from app.domain.records import TicketRecord
from app.domain.ticket_query import TicketFilter, TicketOrder, TicketPageCursor
from app.reads.connection import SharedConnection
from app.reads.node_json import JsonField
from app.reads.ticket_page_json import ticket_page_json

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TicketPage(Generic[T]):
    """One page: its items in order, each one's opaque cursor, whether more follow, and how to
    count every ticket the filter matches."""

    items: list[T]
    cursors: list[str]
    has_next: bool
    count: Callable[[], Awaitable[int]]


def ticket_filter(
    base: TicketFilter | None = None,
    *,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    status: Sequence[TicketStatus] | None = None,
) -> TicketFilter:
    """The filter of a page: `base` (Query.tickets' filter argument) narrowed to one customer's or
    one assignee's tickets and the statuses asked for, each given one replacing the base's."""
    f = base or TicketFilter()
    if customer_id is None and assignee_id is None and not status:
        return f
    return replace(
        f,
        customer_id=customer_id if customer_id is not None else f.customer_id,
        assignee_id=assignee_id if assignee_id is not None else f.assignee_id,
        status=tuple(s.value for s in status) if status else f.status,
    )


async def ticket_page(
    reads: SharedConnection, viewer: Viewer, f: TicketFilter, order: TicketOrder, first: int, after: str | None
) -> TicketPage[TicketRecord]:
    """A page of ticket records. A malformed `after`, or one taken in another order, is InvalidInput."""
    cursor = TicketPageCursor.decode(after, order) if after else None
    async with reads.use() as conn:
        records, cursors, has_next = await ticket_reads.list_tickets(conn, viewer, f, order, first, cursor)
    return TicketPage(records, [c.encode() for c in cursors], has_next, _counter(reads, viewer, f))


async def ticket_json_page(
    reads: SharedConnection,
    node_json: ColumnElement[Any],
    viewer: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: str | None,
) -> TicketPage[str]:
    """ticket_page with each ticket as the JSON text `node_json` (a compiled plan's
    app.reads.node_json expression) writes, ready to send."""
    cursor = TicketPageCursor.decode(after, order) if after else None
    async with reads.use() as conn:
        texts, _, cursors, has_next = await ticket_reads.list_ticket_json(
            conn, node_json, viewer, f, order, first, cursor
        )
    return TicketPage(texts, [c.encode() for c in cursors], has_next, _counter(reads, viewer, f))


async def ticket_json_and_record_page(
    reads: SharedConnection,
    node_json: ColumnElement[Any],
    viewer: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: str | None,
) -> TicketPage[tuple[str, TicketRecord]]:
    """ticket_json_page with each ticket's record beside its JSON, for a plan that resolves some
    fields in Python."""
    cursor = TicketPageCursor.decode(after, order) if after else None
    async with reads.use() as conn:
        texts, records, cursors, has_next = await ticket_reads.list_ticket_json(
            conn, node_json, viewer, f, order, first, cursor, with_records=True
        )
    items = list(zip(texts, records, strict=True))
    return TicketPage(items, [c.encode() for c in cursors], has_next, _counter(reads, viewer, f))


async def ticket_connection_json(
    reads: SharedConnection,
    node_json: ColumnElement[Any],
    selection: tuple[JsonField, ...],
    viewer: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: str | None,
) -> str:
    """The whole connection as the JSON text PostgreSQL writes (app.reads.ticket_page_json), for
    a compiled plan whose nodes `node_json` writes."""
    cursor = TicketPageCursor.decode(after, order) if after else None
    async with reads.use() as conn:
        return await ticket_page_json(conn, node_json, selection, viewer, f, order, first, cursor)


def _counter(reads: SharedConnection, viewer: Viewer, f: TicketFilter) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        async with reads.use() as conn:
            return await ticket_reads.count_tickets(conn, viewer, f)

    return count
