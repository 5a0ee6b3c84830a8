"""Manual escalation: a higher escalation level, optionally another group."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.domain import validation as v
from app.domain.enums import TicketEventType, TicketStatus
from app.domain.errors import InvalidTransition, NotFound
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.events.outbox import Outbox
from app.services.assignment import assignment_data, drain_queue_for, pick_agent, reassign_in_same_change
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, apply_change, lock_ticket, record

g, gm = tables.groups, tables.group_members


async def escalate_ticket(
    rt: Runtime, principal: Principal, ticket_id: int, reason: str, to_group_id: int | None
) -> TicketRecord:
    """Raises escalationLevel and writes ESCALATED (supervisors watching the ticket's group, and
    the target group's, see it live). Moving to another group takes the ticket off an assignee
    who is not a member there and puts it in that group's queue."""
    require(principal, Permission.UPDATE_TICKET)
    problems = v.Problems()
    clean_reason = v.required_text(problems, reason, ["reason"], 2000)
    problems.raise_if_any()
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        return await escalate_locked(tx, ticket, clean_reason, to_group_id, actor, now)


async def escalate_locked(
    tx: Outbox,
    ticket: TicketRecord,
    reason: str,
    to_group_id: int | None,
    actor: Actor,
    now: datetime,
    group_field: Sequence[str] = ("toGroupId",),
) -> TicketRecord:
    """The escalation of a ticket the caller locked, in the caller's transaction (`reason` is
    clean); an unknown group is NOT_FOUND on `group_field`."""
    if ticket.status == TicketStatus.CLOSED.value:
        raise InvalidTransition("the ticket is CLOSED and cannot be escalated", ["id"])
    values: dict[str, object] = {"escalation_level": ticket.escalation_level + 1}
    unassign = False
    if to_group_id is not None and to_group_id != ticket.group_id:
        if (await tx.conn.execute(select(g.c.id).where(g.c.id == to_group_id))).first() is None:
            raise NotFound("no such group", list(group_field))
        values["group_id"] = to_group_id
        values["queued_at"] = now
        if ticket.assignee_id is not None:
            member = (
                await tx.conn.execute(
                    select(gm.c.agent_id).where(gm.c.group_id == to_group_id, gm.c.agent_id == ticket.assignee_id)
                )
            ).first()
            if member is None:
                values["assignee_id"] = None
                unassign = True
    updated = await apply_change(tx, ticket, values, now)
    await record(
        tx,
        updated,
        TicketEventType.ESCALATED,
        actor,
        now,
        {
            "reason": reason,
            "level": updated.escalation_level,
            "fromGroupId": ticket.group_id,
            "toGroupId": updated.group_id,
        },
    )
    if "group_id" in values and updated.assignee_id is None:
        # Escalated into another group: that group's strategy picks, or it waits in its queue.
        choice = await pick_agent(tx.conn, updated.group_id, updated.required_skills, updated.language)
        await record(
            tx,
            updated,
            TicketEventType.ASSIGNED if choice else TicketEventType.UNASSIGNED,
            actor,
            now,
            assignment_data(choice.agent_id if choice else None, ticket.assignee_id, updated.group_id, "ESCALATION"),
        )
        if choice is not None:
            updated = await reassign_in_same_change(tx, updated, choice.agent_id, now)
    if unassign and ticket.assignee_id is not None:
        await drain_queue_for(tx, ticket.assignee_id, now)
    return updated
