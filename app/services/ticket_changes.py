"""Locking tickets and recording a change with its event: the steps every ticket use case shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import tables
from app.db.repositories.tickets import TICKET_COLUMNS, visible_to
from app.domain.enums import TicketEventType, TicketStatus
from app.domain.errors import NotFound, VersionConflict
from app.domain.principal import Principal, Viewer
from app.domain.records import TicketRecord
from app.events.outbox import NewEvent, Outbox
from app.services.sla import sync_sla

t = tables.tickets


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an event is attributed to: an agent, a customer, or (both None) the system."""

    agent_id: int | None = None
    customer_id: int | None = None

    @classmethod
    def of(cls, principal: Principal | None) -> Actor:
        return cls(agent_id=principal.agent_id if principal else None)


SYSTEM = Actor()


async def lock_tickets(
    conn: AsyncConnection, principal: Viewer | None, ids: Sequence[int], fields: Sequence[str] = ("id",)
) -> dict[int, TicketRecord]:
    """Locks the tickets in id order (one order everywhere, so two use cases never deadlock).
    Tickets the caller may not see are left out, exactly like missing ones."""
    query = select(*TICKET_COLUMNS).where(t.c.id.in_(list(ids))).order_by(t.c.id).with_for_update(of=t)
    if principal is not None:
        query = query.where(visible_to(principal))
    rows = (await conn.execute(query)).all()
    return {row.id: TicketRecord(*row) for row in rows}


async def lock_ticket(
    conn: AsyncConnection, principal: Viewer | None, ticket_id: int, field: Sequence[str] = ("id",)
) -> TicketRecord:
    found = await lock_tickets(conn, principal, [ticket_id])
    if ticket_id not in found:
        raise NotFound("no such ticket", list(field))
    return found[ticket_id]


async def ensure_visible(engine: AsyncEngine, principal: Viewer, ticket_id: int, field: Sequence[str]) -> None:
    """NOT_FOUND on `field` unless the ticket exists and the caller may see it. A check without a
    lock, made before a request receives uploaded bytes; the use case checks again under lock."""
    async with engine.connect() as conn:
        found = await conn.scalar(select(t.c.id).where(t.c.id == ticket_id, visible_to(principal)))
    if found is None:
        raise NotFound("no such ticket", list(field))


async def lock_pair(
    conn: AsyncConnection, principal: Principal, first: tuple[int, str], second: tuple[int, str]
) -> tuple[TicketRecord, TicketRecord]:
    """Locks two visible tickets (in id order); each (id, input field) names the field at fault
    when that ticket is missing or hidden."""
    locked = await lock_tickets(conn, principal, [first[0], second[0]])
    for ticket_id, field in (first, second):
        if ticket_id not in locked:
            raise NotFound("no such ticket", [field])
    return locked[first[0]], locked[second[0]]


def check_version(ticket: TicketRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(
            f"the ticket changed since you read it (version {ticket.version}, you expected {expected_version})",
            ["expectedVersion"],
        )


async def apply_change(tx: Outbox, ticket: TicketRecord, values: dict[str, Any], now: datetime) -> TicketRecord:
    """Writes changed columns, bumps the version by one and moves updated_at; the caller writes the events.
    The ticket's SLA clocks follow the change in the same transaction."""
    row = (
        await tx.conn.execute(
            update(t)
            .where(t.c.id == ticket.id)
            .values(**values, version=t.c.version + 1, updated_at=func.greatest(now, t.c.updated_at))
            .returning(*TICKET_COLUMNS)
        )
    ).one()
    return await sync_sla(tx, ticket, TicketRecord(*row), now)


async def record(
    tx: Outbox,
    ticket: TicketRecord,
    type: TicketEventType,
    actor: Actor,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """Appends an event about `ticket` (as it is after the change), stamped with its version."""
    await tx.append_all([event_about(ticket, type, actor, now, data)])


def event_about(
    ticket: TicketRecord, type: TicketEventType, actor: Actor, now: datetime, data: dict[str, Any] | None = None
) -> NewEvent:
    """The event `record` writes, for a caller that writes several in one statement (Outbox.append_all)."""
    return NewEvent(
        ticket_id=ticket.id,
        group_id=ticket.group_id,
        type=type,
        occurred_at=now,
        actor_agent_id=actor.agent_id,
        actor_customer_id=actor.customer_id,
        data={**(data or {}), "version": ticket.version},
    )


def status_values(current: TicketStatus, target: TicketStatus, now: datetime) -> dict[str, Any]:
    """Column changes that go with a status change (timestamps, reopen count, queue position)."""
    values: dict[str, Any] = {"status": target.value}
    if target is TicketStatus.RESOLVED:
        values["resolved_at"] = now
    if target is TicketStatus.CLOSED:
        values["closed_at"] = now
    if current is TicketStatus.RESOLVED and target is TicketStatus.OPEN:
        values["resolved_at"] = None
        values["reopen_count"] = t.c.reopen_count + 1
    return values
