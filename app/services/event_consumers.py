"""Durable readers of the event log: automations and the webhook fan-out act on events after
they commit, never inside the request that made the change.

A consumer is a name and a row in `event_consumers` holding its position in the log.
`consume_batch` locks that row (SKIP LOCKED: another process busy with it means there is nothing
for this one to do now), reads the next events after the position and below the horizon
(app.db.repositories.events: no event can turn up later behind it), hands them to the handler in
the same transaction and moves the position past them. Hence, with any number of processes:

- one process at a time handles a consumer's events, in log (commit) order, so in event order
  for every ticket;
- the handler's writes and the new position commit together: a crash before the commit leaves
  the events to be handled again, a crash after leaves them done;
- a consumer starts at the end of the log as it is when first used: it acts on what happens
  from then on, never on history.

A handler that raises rolls its batch back; the loop logs it and tries again after a pause, so a
handler must contain its own per-item failures (a savepoint each) to make progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.events import events_after
from app.domain.records import TicketEventRecord
from app.events.cursors import EventPosition
from app.events.outbox import Outbox
from app.services.runtime import Runtime

log = logging.getLogger("helpdesk.events.consumers")

ec, te = tables.event_consumers, tables.ticket_events
Handler = Callable[[Outbox, Sequence[TicketEventRecord]], Awaitable[None]]
BATCH = 100
# After a failed batch: the pause before the same events are tried again.
RETRY_SECONDS = 5.0


async def ensure_consumer(conn: AsyncConnection, name: str) -> None:
    """Creates the consumer at the current end of the log, unless it exists."""
    last = select(te.c.txid, te.c.id).order_by(te.c.txid.desc(), te.c.id.desc()).limit(1).subquery()
    start = select(
        literal(name),
        func.coalesce(select(last.c.txid).scalar_subquery(), 0),
        func.coalesce(select(last.c.id).scalar_subquery(), 0),
    )
    await conn.execute(
        pg_insert(ec)
        .from_select([ec.c.name, ec.c.txid, ec.c.event_id], start)
        .on_conflict_do_nothing(index_elements=[ec.c.name])
    )


async def consume_batch(rt: Runtime, name: str, handler: Handler, limit: int = BATCH) -> int:
    """Handles the consumer's next events (at most `limit`); returns how many, 0 when there were
    none or another process holds the consumer."""
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                select(ec.c.txid, ec.c.event_id).where(ec.c.name == name).with_for_update(skip_locked=True)
            )
        ).first()
        if row is None:
            # Held by another process, or gone (an operator reset it): a missing consumer starts
            # again at the end of the log.
            if await tx.conn.scalar(select(ec.c.name).where(ec.c.name == name)) is None:
                await ensure_consumer(tx.conn, name)
            return 0
        events = await events_after(tx.conn, EventPosition(row.txid, row.event_id), limit)
        if not events:
            return 0
        await handler(tx, events)
        last = events[-1]
        await tx.conn.execute(
            update(ec).where(ec.c.name == name).values(txid=last.txid, event_id=last.id, updated_at=rt.clock.now())
        )
    return len(events)


async def position(conn: AsyncConnection, name: str) -> EventPosition | None:
    row = (await conn.execute(select(ec.c.txid, ec.c.event_id).where(ec.c.name == name))).first()
    return EventPosition(row.txid, row.event_id) if row else None


async def consumer_loop(rt: Runtime, name: str, handler: Handler, wake: asyncio.Event | None = None) -> None:
    """Runs the consumer until cancelled: a batch after another while there are events, else a
    wait of HELPDESK_EVENT_POLL_SECONDS (or until `wake` is set)."""
    async with rt.engine.begin() as conn:
        await ensure_consumer(conn, name)
    idle = rt.settings.event_poll_seconds
    while True:
        try:
            handled = await consume_batch(rt, name, handler)
        except asyncio.CancelledError:
            raise
        except Exception:  # the batch rolled back; its events are handled again later
            log.exception("event consumer %s: a batch failed", name)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if handled:
            continue
        if wake is None:
            await asyncio.sleep(idle)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), idle)
        wake.clear()
