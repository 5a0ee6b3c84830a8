"""Moving tickets through their lifecycle: transitions, the sub-ticket rule, auto-close."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.db.repositories.tickets import visible_to
from app.domain import validation as v
from app.domain.enums import TicketEventType, TicketStatus
from app.domain.errors import NotFound, PreconditionFailed
from app.domain.lifecycle import Action, next_status
from app.domain.principal import Principal, Viewer
from app.domain.records import TicketRecord
from app.events.outbox import Outbox
from app.services.assignment import drain_queue_for
from app.services.runtime import Runtime
from app.services.ticket_changes import (
    SYSTEM,
    Actor,
    apply_change,
    check_version,
    lock_tickets,
    record,
    status_values,
)
from app.services.ticket_fields import require_fields_for_status

t = tables.tickets
_DONE = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


async def lock_with_parent(
    tx: Outbox, principal: Viewer | None, ticket_id: int
) -> tuple[TicketRecord, TicketRecord | None]:
    """Locks a ticket and its parent, parent first (every use case locks tickets in id order, and
    a parent's id is lower than its children's), so a parent's resolution and its children's
    status changes are serialised and never deadlock."""
    query = select(t.c.parent_id).where(t.c.id == ticket_id)
    if principal is not None:
        query = query.where(visible_to(principal))
    row = (await tx.conn.execute(query)).first()
    if row is None:
        raise NotFound("no such ticket", ["id"])
    ids = [ticket_id] if row.parent_id is None else [row.parent_id, ticket_id]
    locked = await lock_tickets(tx.conn, None, ids)
    return locked[ticket_id], locked.get(row.parent_id) if row.parent_id is not None else None


async def open_children(tx: Outbox, parent_id: int) -> list[int]:
    rows = await tx.conn.execute(
        select(t.c.number).where(t.c.parent_id == parent_id, t.c.status.not_in(_DONE)).order_by(t.c.number)
    )
    return [row[0] for row in rows]


async def change_status(
    tx: Outbox,
    ticket: TicketRecord,
    parent: TicketRecord | None,
    action: Action,
    actor: Actor,
    now: datetime,
    data: dict[str, object] | None = None,
    extra_values: dict[str, object] | None = None,
    *,
    check_required_fields: bool = False,
) -> TicketRecord:
    """Applies one lifecycle action with its rules and events (the ticket and its parent are locked).

    check_required_fields: a deliberate move (a lifecycle mutation, a macro's SET_STATUS) is
    refused while a field requiredForStatus is empty. Moves that follow from something else (a
    customer's mail reopening, a reply, a merge, auto-close) are not, so they never fail for it."""
    current = TicketStatus(ticket.status)
    target = next_status(current, action)
    if target is TicketStatus.RESOLVED and (children := await open_children(tx, ticket.id)):
        listed = ", ".join(f"#{n}" for n in children)
        raise PreconditionFailed(f"sub-tickets still open: {listed}; resolve them first", ["id"])
    if action is Action.REOPEN and parent is not None and parent.status in _DONE:
        raise PreconditionFailed(f"the parent ticket #{parent.number} is {parent.status}; reopen it first", ["id"])
    if check_required_fields:
        await require_fields_for_status(tx.conn, ticket.custom_fields or {}, ticket.category, target.value)
    updated = await apply_change(tx, ticket, {**status_values(current, target, now), **(extra_values or {})}, now)
    await record(
        tx,
        updated,
        TicketEventType.STATUS_CHANGED,
        actor,
        now,
        {"from": current.value, "to": target.value, **(data or {})},
    )
    if ticket.assignee_id is not None and target in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        # A slot freed up: the assignee may take the next waiting ticket.
        await drain_queue_for(tx, ticket.assignee_id, now)
    if parent is not None and target is TicketStatus.RESOLVED:
        parent_after = await apply_change(tx, parent, {}, now)
        await record(
            tx,
            parent_after,
            TicketEventType.SUB_TICKET_RESOLVED,
            actor,
            now,
            {"subTicketId": ticket.id, "number": ticket.number, "resolution": updated.resolution},
        )
    return updated


async def transition(
    rt: Runtime,
    principal: Principal,
    ticket_id: int,
    action: Action,
    expected_version: int | None = None,
    *,
    reason: str | None = None,
    resolution: str | None = None,
) -> TicketRecord:
    """One lifecycle mutation (startTicket ... closeTicket): a forbidden move is INVALID_TRANSITION
    naming both statuses, a stale expectedVersion is VERSION_CONFLICT, and nothing changes."""
    require(principal, Permission.UPDATE_TICKET)
    problems = v.Problems()
    clean_reason = v.optional_text(problems, reason, ["reason"], 2000)
    extra: dict[str, object] = {}
    data: dict[str, object] = {}
    if action is Action.RESOLVE:
        clean_resolution = v.required_text(problems, resolution, ["resolution"], rt.settings.max_description_length)
        extra["resolution"] = clean_resolution
        data["resolution"] = clean_resolution
    problems.raise_if_any()
    if clean_reason:
        data["reason"] = clean_reason
    now = rt.clock.now()
    async with rt.transaction() as tx:
        ticket, parent = await lock_with_parent(tx, principal, ticket_id)
        check_version(ticket, expected_version)
        return await change_status(
            tx, ticket, parent, action, Actor.of(principal), now, data, extra, check_required_fields=True
        )


async def close_resolved_tickets(rt: Runtime, older_than: timedelta, batch: int = 100) -> int:
    """Closes RESOLVED tickets resolved longer ago than `older_than` (the system is the actor).
    Safe with many processes: each takes rows the others have not locked (SKIP LOCKED)."""
    now = rt.clock.now()
    closed = 0
    while True:
        async with rt.transaction() as tx:
            rows = (
                await tx.conn.execute(
                    select(t.c.id)
                    .where(t.c.status == TicketStatus.RESOLVED.value, t.c.resolved_at < now - older_than)
                    .order_by(t.c.resolved_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for (ticket_id,) in rows:
                ticket = (await lock_tickets(tx.conn, None, [ticket_id]))[ticket_id]
                await change_status(tx, ticket, None, Action.CLOSE, SYSTEM, now, {"reason": "AUTO_CLOSE"})
            closed += len(rows)
        if len(rows) < batch:
            return closed
