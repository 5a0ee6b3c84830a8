"""Agents' notifications: written in the transaction of what causes them, read, marked and
watched by their own agent only.

Who is told about which ticket event is app.services.notification_triggers; mentions are told
here, by the comment service, which alone has the note's text.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories import notifications as repo
from app.db.repositories.tickets import visible_ticket_ids
from app.domain.enums import NotificationKind
from app.domain.errors import NotFound
from app.domain.mentions import Mentionable, mentioned_agent_ids
from app.domain.principal import Principal
from app.domain.records import NotificationRecord, TicketRecord
from app.events.cursors import EventPosition
from app.events.hub import EventHub, Prefilter
from app.events.outbox import Outbox

if TYPE_CHECKING:  # runtime.py installs the triggers, which write through this module
    from app.services.runtime import Runtime

a = tables.agents
# A notification that no ticket event announces (a webhook disabled, say) reaches an open
# subscription within this many seconds; the others arrive with their event.
POLL_SECONDS = 5.0
# Longest message kept: automations' texts are validated when saved; this bounds the rest.
MAX_MESSAGE = repo.MAX_MESSAGE


async def notify_agents(
    tx: Outbox,
    agent_ids: Iterable[int],
    kind: NotificationKind,
    ticket_id: int | None,
    message: str,
    now: datetime,
) -> list[int]:
    """Tells these agents `message`, about the ticket (or about nothing in particular: None), in
    the caller's transaction: the notifications exist exactly when the change that causes them
    commits. Deactivated agents and agents who may not see the ticket (the rule of `ticket(id)`)
    are left out, so a notification never reveals a ticket. Returns the agents told."""
    principals = await repo.active_principals(tx.conn, sorted(set(agent_ids)))
    told = [
        agent_id
        for agent_id, principal in principals.items()
        if ticket_id is None or await _may_see(tx, principal, ticket_id)
    ]
    await repo.insert_notifications(tx.conn, told, kind, ticket_id, message[:MAX_MESSAGE], now)
    return sorted(told)


async def _may_see(tx: Outbox, principal: Principal, ticket_id: int) -> bool:
    return principal.sees_all_tickets or ticket_id in await visible_ticket_ids(tx.conn, principal, [ticket_id])


async def notify_mentions(
    tx: Outbox, ticket: TicketRecord, author_agent_id: int | None, note: str, now: datetime
) -> None:
    """MENTION for the agents an INTERNAL note names (`@name`, `@email`; app.domain.mentions),
    except its author and agents who may not see the ticket. Unknown names stay plain text."""
    if "@" not in note and "＠" not in note:
        return
    rows = (await tx.conn.execute(select(a.c.id, a.c.name, a.c.email).where(a.c.deactivated_at.is_(None)))).all()
    agents = [Mentionable(row.id, row.name, row.email) for row in rows]
    mentioned = mentioned_agent_ids(note, agents) - {author_agent_id}
    if not mentioned:
        return
    author = next((agent.name for agent in agents if agent.agent_id == author_agent_id), "Someone")
    message = f"{author} mentioned you in an internal note on #{ticket.number} {ticket.subject}"
    await notify_agents(tx, mentioned, NotificationKind.MENTION, ticket.id, message, now)


# ---------------------------------------------------------------- the agent's own


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: list[NotificationRecord]
    has_next: bool
    total: int


async def my_notifications(
    rt: Runtime, principal: Principal, unread_only: bool, first: int, before_id: int | None
) -> NotificationPage:
    """The caller's own notifications, newest first, `first` of them after the one with id
    `before_id` (the previous page's last); total counts them all (unread ones with unread_only)."""
    require(principal, Action.READ_OWN_NOTIFICATIONS)
    async with rt.reader.connect() as conn:
        rows = await repo.newest_first(conn, principal.agent_id, unread_only, before_id, first + 1)
        total = await repo.count(conn, principal.agent_id, unread_only)
    return NotificationPage(rows[:first], len(rows) > first, total)


async def my_notifications_by_ids(rt: Runtime, principal: Principal, ids: list[int]) -> dict[int, NotificationRecord]:
    """Those of `ids` that are the caller's own; another agent's look exactly like missing ones."""
    async with rt.reader.connect() as conn:
        return await repo.of_agent_by_ids(conn, principal.agent_id, ids)


async def mark_read(rt: Runtime, principal: Principal, ids: list[int] | None) -> int:
    """Marks the caller's notifications read: those of `ids`, or (None) all of them. An id that
    is not the caller's own is NOT_FOUND at ["ids", i] and nothing changes. Returns how many
    became read (already read ones do not count)."""
    require(principal, Action.READ_OWN_NOTIFICATIONS)
    async with rt.transaction() as tx:
        if ids is not None:
            mine = await repo.of_agent_by_ids(tx.conn, principal.agent_id, ids)
            for index, pk in enumerate(ids):
                if pk not in mine:
                    raise NotFound("no such notification", ["ids", str(index)])
        return await repo.mark_read(tx.conn, principal.agent_id, ids, rt.clock.now())


async def watch(
    rt: Runtime, hub: EventHub, agent_id: int, wakes: Prefilter, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[NotificationRecord]:
    """The agent's notifications created from now on, each once, in commit order. An event the
    hub delivers that `wakes` accepts (one whose transaction may have written notifications)
    makes it look at once; otherwise it looks every `poll_seconds`. What it reads is "mine after
    the last position handed out, below the horizon", so nothing is lost or shown twice however
    the wake-ups fall."""
    listener = hub.register(wakes, capacity=1000)
    try:
        async with rt.reader.connect() as conn:
            position = await repo.latest_position(conn, agent_id)
        while True:
            async with rt.reader.connect() as conn:
                batch = await repo.after_position(conn, agent_id, position, 100)
            for item in batch:
                position = EventPosition(item.txid, item.id)
                yield item
            if len(batch) == 100:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.queue.get(), poll_seconds)
            while not listener.queue.empty():
                listener.queue.get_nowait()
            if listener.overflowed:  # only wake-ups were lost; the read above catches up
                hub.unregister(listener)
                listener = hub.register(wakes, capacity=1000)
    finally:
        hub.unregister(listener)
