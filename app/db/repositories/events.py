"""Reading the event log in cursor order.

Streams (subscriptions, replay) only hand out events below the horizon: the oldest
transaction id still running. Every transaction below it has ended, so an event can
never turn up later behind a cursor a reader has passed. History pages show every
committed event, so a caller sees its own change at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import columns_for, to_records
from app.domain.records import TicketEventRecord
from app.events.cursors import EventPosition

te = tables.ticket_events
EVENT_COLUMNS = columns_for(te, TicketEventRecord)
# The oldest transaction still running that could be writing events: the statement snapshot's
# in-progress xids, minus those pg_stat_activity attributes to *other* databases (they cannot
# write our ticket_events, so an idle transaction elsewhere on the cluster must not stall
# delivery here). An xid whose database is unknown (committed meanwhile, or hidden from this
# role) stays in: the horizon may only err towards waiting.
HORIZON = text(
    """(
    SELECT coalesce(
        (
            SELECT min(x::text::bigint) FROM pg_snapshot_xip(snap.s) AS x
            WHERE (x::text::bigint & 4294967295) NOT IN (
                SELECT backend_xid::text::bigint FROM pg_stat_activity
                WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()
            )
        ),
        pg_snapshot_xmax(snap.s)::text::bigint
    )
    FROM (SELECT pg_current_snapshot() AS s) AS snap
)"""
)


async def history_page(
    conn: AsyncConnection, ticket_ids: Sequence[int], after: EventPosition | None, first: int
) -> dict[int, tuple[list[TicketEventRecord], bool]]:
    """Events of many tickets, oldest first, `first` per ticket, and whether more follow."""
    rank = func.row_number().over(partition_by=te.c.ticket_id, order_by=(te.c.txid, te.c.id)).label("rank")
    inner = select(*EVENT_COLUMNS, rank).where(te.c.ticket_id.in_(ticket_ids))
    if after is not None:
        inner = inner.where(tuple_(te.c.txid, te.c.id) > tuple_(after.txid, after.id))
    sub = inner.subquery()
    rows = await conn.execute(
        select(*[sub.c[col.name] for col in EVENT_COLUMNS])
        .where(sub.c.rank <= first + 1)
        .order_by(sub.c.ticket_id, sub.c.rank)
    )
    grouped: dict[int, list[TicketEventRecord]] = defaultdict(list)
    for record in to_records(TicketEventRecord, rows):
        grouped[record.ticket_id].append(record)
    return {tid: (items[:first], len(items) > first) for tid, items in grouped.items()}


async def events_after(conn: AsyncConnection, after: EventPosition, limit: int) -> list[TicketEventRecord]:
    """The next events of the whole log after `after`, below the horizon, in cursor order."""
    rows = await conn.execute(
        select(*EVENT_COLUMNS)
        .where(tuple_(te.c.txid, te.c.id) > tuple_(after.txid, after.id), te.c.txid < HORIZON)
        .order_by(te.c.txid, te.c.id)
        .limit(limit)
    )
    return to_records(TicketEventRecord, rows)


async def events_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, TicketEventRecord]:
    rows = await conn.execute(select(*EVENT_COLUMNS).where(te.c.id.in_(ids)))
    return {r.id: r for r in to_records(TicketEventRecord, rows)}


def position_of(record: TicketEventRecord) -> EventPosition:
    return EventPosition(record.txid, record.id)
