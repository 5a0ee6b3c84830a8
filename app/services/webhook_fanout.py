"""The webhook fan-out: an event-log consumer (app.services.event_consumers) that queues one
delivery per (enabled webhook, event it receives), after the event committed.

The consumer reads the log in commit order, one process at a time, and its position moves in
the transaction that writes the deliveries: every event is fanned out exactly once, and
delivery ids follow the log's order for every webhook (so for every (webhook, ticket)). The
unique (webhook_id, event_id) makes a second row impossible whatever happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import tables
from app.db.repositories.rows import among
from app.domain.enums import WebhookDeliveryStatus
from app.domain.records import TicketEventRecord
from app.domain.webhooks.body import TicketSummary, delivery_body
from app.domain.webhooks.subscription import WebhookFilter, receives
from app.events.outbox import Outbox
from app.services.event_consumers import Handler, consumer_loop
from app.services.runtime import Runtime

CONSUMER = "webhooks"
wh, wd, t = tables.webhooks, tables.webhook_deliveries, tables.tickets
FANOUT_INSERT = pg_insert(wd).on_conflict_do_nothing()


async def _enabled_webhooks(tx: Outbox) -> list[WebhookFilter]:
    rows = await tx.conn.execute(
        select(wh.c.id, wh.c.event_types, wh.c.group_ids, wh.c.created_txid).where(
            wh.c.enabled, wh.c.disabled_at.is_(None)
        )
    )
    return [WebhookFilter(r.id, frozenset(r.event_types), frozenset(r.group_ids), r.created_txid) for r in rows]


async def _tickets(tx: Outbox, ids: set[int]) -> dict[int, TicketSummary]:
    rows = await tx.conn.execute(
        select(t.c.id, t.c.number, t.c.status, t.c.priority, t.c.group_id, t.c.assignee_id, t.c.customer_id).where(
            among(t.c.id, ids)
        )
    )
    return {r.id: TicketSummary(*r) for r in rows}


def fanout_handler(rt: Runtime, queued: asyncio.Event | None = None) -> Handler:
    """The consumer's handler; sets `queued` when it queued deliveries (the deliverer wakes)."""

    async def handle(tx: Outbox, events: Sequence[TicketEventRecord]) -> None:
        webhooks = await _enabled_webhooks(tx)
        pairs = [(w.webhook_id, e) for e in events for w in webhooks if receives(w, e)]
        if not pairs:
            return
        tickets = await _tickets(tx, {e.ticket_id for _, e in pairs})
        bodies = {e.id: delivery_body(e, tickets[e.ticket_id]).decode() for _, e in pairs if e.ticket_id in tickets}
        now = rt.clock.now()
        rows = [
            {
                "webhook_id": webhook_id,
                "event_id": e.id,
                "ticket_id": e.ticket_id,
                "body": bodies[e.id],
                "status": WebhookDeliveryStatus.PENDING.value,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            # Log order: delivery ids follow it for every webhook.
            for webhook_id, e in pairs
            if e.id in bodies
        ]
        if rows:
            # executemany, in order: one compiled statement whatever the batch's size (a VALUES
            # list of the batch's length was compiled again for every batch).
            await tx.conn.execute(FANOUT_INSERT, rows)
            if queued is not None:
                queued.set()

    return handle


async def fanout_loop(rt: Runtime, queued: asyncio.Event | None = None, wake: asyncio.Event | None = None) -> None:
    """Runs the fan-out until cancelled (any number of processes: one at a time does the work)."""
    await consumer_loop(rt, CONSUMER, fanout_handler(rt, queued), wake)
