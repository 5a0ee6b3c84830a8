"""Splitting work across departments: sub-tickets roll up to their parent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.domain.enums import TicketEventType, TicketStatus
from app.domain.errors import NotFound, PreconditionFailed
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.services.attachments import StagedUploads, attach_files, staged_uploads
from app.services.relations import add_collaborating_group
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, apply_change, ensure_visible, lock_ticket, record
from app.services.tickets import NewTicket, insert_ticket, validated_intake

t, g = tables.tickets, tables.groups


async def create_sub_ticket(
    rt: Runtime, principal: Principal, parent_id: int, data: NewTicket, group_id: int | None
) -> TicketRecord:
    """A child ticket for another department (its own group, assignee and SLA). Sub-tickets nest
    one level: a sub-ticket has no sub-tickets of its own. The parent's group collaborates on
    the child, so the parent's agents can follow it; SUB_TICKET_CREATED goes on the parent."""
    require(principal, Permission.CREATE_TICKET)
    intake = validated_intake(rt, data)
    await ensure_visible(rt.reader, principal, parent_id, ["parentId"])
    async with staged_uploads(rt, data.attachments, ["input", "attachments"]) as files:
        return await _create_sub_ticket(rt, principal, parent_id, data, intake, group_id, files)


async def _create_sub_ticket(
    rt: Runtime,
    principal: Principal,
    parent_id: int,
    data: NewTicket,
    intake: dict[str, Any],
    group_id: int | None,
    files: StagedUploads,
) -> TicketRecord:
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        parent = await lock_ticket(tx.conn, principal, parent_id, ["parentId"])
        if parent.parent_id is not None:
            raise PreconditionFailed("a sub-ticket cannot have sub-tickets of its own", ["parentId"])
        if parent.status in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value):
            raise PreconditionFailed(f"the parent ticket is {parent.status}; reopen it first", ["parentId"])
        target_group = group_id if group_id is not None else parent.group_id
        if group_id is not None:
            found = (await tx.conn.execute(select(g.c.id).where(g.c.id == group_id))).first()
            if found is None:
                raise NotFound("no such group", ["groupId"])
        child = await insert_ticket(
            rt, tx, principal, data, intake, now, parent_id=parent.id, group_id=target_group, check_fields=True
        )
        await attach_files(tx, child, files, None, actor, now)
        if parent.group_id is not None and parent.group_id != target_group:
            await add_collaborating_group(tx.conn, child.id, parent.group_id, now)
        parent_after = await apply_change(tx, parent, {}, now)
        await record(
            tx,
            parent_after,
            TicketEventType.SUB_TICKET_CREATED,
            actor,
            now,
            {"subTicketId": child.id, "number": child.number, "groupId": target_group},
        )
    return child
