"""Which ticket events notify whom: the one place that says so.

Runtime installs `NotifyOnEvents` on every transaction's outbox, so a notification is written
in the transaction of the event that causes it, whichever service wrote the event (the API,
the SLA scheduler, automations). Events of other types cost nothing. Mentions are not here:
only the comment service has the note's text (app.services.notifications.notify_mentions).

- ASSIGNED: the new assignee, unless they took the ticket themselves.
- SLA_WARNING, SLA_BREACHED: the assignee; for an unassigned ticket, its group's members.
- RATED with a low score (app.domain.satisfaction: 1 or 2, by rateTicket or the survey):
  LOW_SATISFACTION for the supervisors of the ticket's group,
  or the admins when the group has none (or the ticket no group).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.notifications import notify_assignee
from app.db.repositories.people import member_ids_of_groups
from app.domain.enums import AgentRole, CommentVisibility, NotificationKind, TicketEventType
from app.domain.records import TicketEventRecord
from app.domain.satisfaction import is_low
from app.events.outbox import Outbox, PendingEvent
from app.services.notifications import notify_agents

t, a, gm = tables.tickets, tables.agents, tables.group_members
SUPERVISING = (AgentRole.SUPERVISOR.value, AgentRole.ADMIN.value)


async def _ticket(conn: AsyncConnection, ticket_id: int) -> Any:
    """The ticket as this transaction sees it now: number, subject, assignee, group."""
    query = select(t.c.number, t.c.subject, t.c.assignee_id, t.c.group_id).where(t.c.id == ticket_id)
    return (await conn.execute(query)).one()


def _about(ticket: Any) -> str:
    return f"#{ticket.number} {ticket.subject}"  # notify_assignee writes it in SQL


async def _assigned(tx: Outbox, event: PendingEvent) -> None:
    assignee = event.data.get("assigneeId")
    if assignee is None or assignee == event.actor_agent_id:
        return
    # The usual case in one statement: the new assignee is still the ticket's assignee and
    # active, and an assignee always sees their ticket (visible_to), so notify_agents's checks
    # hold without reading them. Otherwise (reassigned again in the same change), the checks.
    if await notify_assignee(
        tx.conn, assignee, event.ticket_id, NotificationKind.ASSIGNED, "Assigned to you: ", event.occurred_at
    ):
        return
    ticket = await _ticket(tx.conn, event.ticket_id)
    message = f"Assigned to you: {_about(ticket)}"
    await notify_agents(tx, [assignee], NotificationKind.ASSIGNED, event.ticket_id, message, event.occurred_at)


async def _sla(tx: Outbox, event: PendingEvent) -> None:
    ticket = await _ticket(tx.conn, event.ticket_id)
    if ticket.assignee_id is not None:
        recipients = [ticket.assignee_id]
    elif ticket.group_id is not None:
        recipients = (await member_ids_of_groups(tx.conn, [ticket.group_id])).get(ticket.group_id, [])
    else:
        return
    breached = event.type is TicketEventType.SLA_BREACHED
    kind = NotificationKind.SLA_BREACHED if breached else NotificationKind.SLA_WARNING
    target = str(event.data.get("target", "SLA")).replace("_", " ").lower()
    message = f"{'Breached' if breached else 'Due soon'}: {target} of {_about(ticket)}"
    await notify_agents(tx, recipients, kind, event.ticket_id, message, event.occurred_at)


async def _rated(tx: Outbox, event: PendingEvent) -> None:
    score = event.data.get("score")
    if not is_low(score):
        return
    ticket = await _ticket(tx.conn, event.ticket_id)
    message = f"Rated {score} of 5: {_about(ticket)}"
    supervisors = await supervisors_of(tx, ticket.group_id)
    await notify_agents(tx, supervisors, NotificationKind.LOW_SATISFACTION, event.ticket_id, message, event.occurred_at)


async def supervisors_of(tx: Outbox, group_id: int | None) -> list[int]:
    """Who supervises a ticket of this group: the group's active supervisors (admins who are
    members count), else the active admins (a group without one, or no group)."""
    supervisors: list[int] = []
    if group_id is not None:
        query = (
            select(gm.c.agent_id)
            .join(a, a.c.id == gm.c.agent_id)
            .where(gm.c.group_id == group_id, a.c.role.in_(SUPERVISING), a.c.deactivated_at.is_(None))
        )
        supervisors = list((await tx.conn.execute(query)).scalars())
    return supervisors or await admin_ids(tx)


async def admin_ids(tx: Outbox) -> list[int]:
    """The active admins: who hears about what no group owns."""
    query = select(a.c.id).where(a.c.role == AgentRole.ADMIN.value, a.c.deactivated_at.is_(None))
    return list((await tx.conn.execute(query)).scalars())


_RULES: dict[TicketEventType, Callable[[Outbox, PendingEvent], Awaitable[None]]] = {
    TicketEventType.ASSIGNED: _assigned,
    TicketEventType.SLA_WARNING: _sla,
    TicketEventType.SLA_BREACHED: _sla,
    TicketEventType.RATED: _rated,
}


class NotifyOnEvents:
    """The outbox observer Runtime installs (app.events.outbox.EventObserver)."""

    types = frozenset(_RULES)

    async def observe(self, tx: Outbox, event: PendingEvent) -> None:
        await _RULES[event.type](tx, event)


NOTIFY_ON_EVENTS = NotifyOnEvents()

# Automations notify (NOTIFY_AGENTS) in the transaction of their AUTOMATION_APPLIED event.
_ALSO_WAKING = frozenset({"AUTOMATION_APPLIED"})
_WAKING = frozenset(str(type) for type in _RULES) | _ALSO_WAKING


def may_have_notified(event: TicketEventRecord) -> bool:
    """Whether the transaction of this committed event may have written notifications: the live
    stream of notifications looks when the event hub delivers such an event."""
    if event.type == TicketEventType.COMMENTED:
        return (event.data or {}).get("visibility") == CommentVisibility.INTERNAL.value
    return event.type in _WAKING
