"""How tickets relate: links, merges, and collaborators beside the assignee."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.domain.enums import TicketEventType, TicketLinkKind, TicketStatus
from app.domain.errors import Duplicate, InvalidInput, NotFound, PreconditionFailed
from app.domain.lifecycle import Action
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.events.outbox import Outbox
from app.services.lifecycle import change_status, open_children
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, apply_change, lock_pair, lock_ticket, record
from app.services.ticket_search import reindex_ticket

t, tl = tables.tickets, tables.ticket_links


async def link_tickets(
    rt: Runtime, principal: Principal, ticket_id: int, other_id: int, kind: TicketLinkKind
) -> TicketRecord:
    """Links two tickets; the link shows on both and a LINKED event goes on both."""
    require(principal, Permission.UPDATE_TICKET)
    if ticket_id == other_id:
        raise InvalidInput("a ticket cannot be linked to itself", ["otherId"])
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        ticket, other_ticket = await lock_pair(tx.conn, principal, (ticket_id, "id"), (other_id, "otherId"))
        updated = await link_locked(tx, ticket, other_ticket, kind, actor, now)
    return updated


async def link_locked(
    tx: Outbox, ticket: TicketRecord, other_ticket: TicketRecord, kind: TicketLinkKind, actor: Actor, now: datetime
) -> TicketRecord:
    """Links two tickets the caller has locked, in its transaction (a LINKED event on both);
    Duplicate when they already are. Returns `ticket` after the change."""
    # A link shows on both tickets without a direction, so the same kind from the other end
    # is the same link (both tickets are locked, so this check cannot race).
    reverse = (
        await tx.conn.execute(
            select(tl.c.id).where(
                tl.c.ticket_id == other_ticket.id, tl.c.other_ticket_id == ticket.id, tl.c.kind == kind.value
            )
        )
    ).first()
    inserted = None
    if reverse is None:
        inserted = (
            await tx.conn.execute(
                pg_insert(tl)
                .values(
                    ticket_id=ticket.id,
                    other_ticket_id=other_ticket.id,
                    kind=kind.value,
                    created_by_agent_id=actor.agent_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(tl.c.id)
            )
        ).first()
    if inserted is None:
        raise Duplicate(f"the tickets are already linked as {kind.value}", ["kind"])
    updated = await apply_change(tx, ticket, {}, now)
    other = await apply_change(tx, other_ticket, {}, now)
    await record(
        tx,
        updated,
        TicketEventType.LINKED,
        actor,
        now,
        {"otherTicketId": other_ticket.id, "kind": kind.value, "direction": "OUTGOING"},
    )
    await record(
        tx,
        other,
        TicketEventType.LINKED,
        actor,
        now,
        {"otherTicketId": ticket.id, "kind": kind.value, "direction": "INCOMING"},
    )
    return updated


async def merge_tickets(rt: Runtime, principal: Principal, source_id: int, target_id: int) -> TicketRecord:
    """Moves the source's comments and attachments into the target and closes the source as
    DUPLICATE_OF the target, with a MERGED event on both, in one transaction."""
    require(principal, Permission.UPDATE_TICKET)
    if source_id == target_id:
        raise InvalidInput("a ticket cannot be merged into itself", ["targetId"])
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        source, target = await lock_pair(tx.conn, principal, (source_id, "sourceId"), (target_id, "targetId"))
        if target.status == TicketStatus.CLOSED.value:
            raise PreconditionFailed("the target ticket is CLOSED", ["targetId"])
        if children := await open_children(tx, source.id):
            raise PreconditionFailed(
                f"the source ticket has open sub-tickets: {', '.join(f'#{n}' for n in children)}", ["sourceId"]
            )
        moved_comments = (
            await tx.conn.execute(
                update(tables.comments).where(tables.comments.c.ticket_id == source.id).values(ticket_id=target.id)
            )
        ).rowcount
        if moved_comments:  # the comments now belong to the target's search document
            await reindex_ticket(tx.conn, source.id)
            await reindex_ticket(tx.conn, target.id)
        moved_files = (
            await tx.conn.execute(
                update(tables.attachments)
                .where(tables.attachments.c.ticket_id == source.id)
                .values(ticket_id=target.id)
            )
        ).rowcount
        await tx.conn.execute(
            pg_insert(tl)
            .values(
                ticket_id=source.id,
                other_ticket_id=target.id,
                kind=TicketLinkKind.DUPLICATE_OF.value,
                created_by_agent_id=actor.agent_id,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        details = {
            "sourceId": source.id,
            "targetId": target.id,
            "movedComments": moved_comments,
            "movedAttachments": moved_files,
        }
        closed = await change_status(
            tx,
            source,
            None,
            Action.MERGE_CLOSE,
            actor,
            now,
            {"reason": "MERGED", "mergedIntoId": target.id},
            {"merged_into_id": target.id},
        )
        await record(tx, closed, TicketEventType.MERGED, actor, now, details)
        target_after = await apply_change(tx, target, {}, now)
        await record(tx, target_after, TicketEventType.MERGED, actor, now, details)
    return target_after


async def add_collaborator(
    rt: Runtime, principal: Principal, ticket_id: int, agent_id: int | None, group_id: int | None
) -> TicketRecord:
    """An agent or a whole group works on the ticket beside the assignee: they can see it and comment."""
    require(principal, Permission.UPDATE_TICKET)
    if (agent_id is None) == (group_id is None):
        raise InvalidInput("give exactly one of agentId or groupId", ["agentId"])
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        if agent_id is not None:
            exists = (
                await tx.conn.execute(
                    select(func.count()).select_from(tables.agents).where(tables.agents.c.id == agent_id)
                )
            ).scalar_one()
            if not exists:
                raise NotFound("no such agent", ["agentId"])
            stmt = pg_insert(tables.ticket_collaborators).values(ticket_id=ticket.id, agent_id=agent_id, created_at=now)
            inserted = await tx.conn.execute(stmt.on_conflict_do_nothing().returning(stmt.table.c.ticket_id))
            added = inserted.first() is not None
        elif group_id is not None:  # exactly one of the two is given (checked above)
            exists = (
                await tx.conn.execute(
                    select(func.count()).select_from(tables.groups).where(tables.groups.c.id == group_id)
                )
            ).scalar_one()
            if not exists:
                raise NotFound("no such group", ["groupId"])
            added = await add_collaborating_group(tx.conn, ticket.id, group_id, now)
        if not added:
            raise Duplicate("already collaborating on this ticket", ["agentId" if agent_id is not None else "groupId"])
        updated = await apply_change(tx, ticket, {}, now)
        await record(
            tx, updated, TicketEventType.COLLABORATOR_ADDED, actor, now, collaborator_added(agent_id, group_id)
        )
    return updated


async def add_collaborating_group(conn: AsyncConnection, ticket_id: int, group_id: int, now: datetime) -> bool:
    """Makes the group a collaborating group of the ticket (its agents may see it and act on it;
    `visible_to`). False when it already was. The caller holds the ticket's lock and records
    COLLABORATOR_ADDED when it records the change."""
    stmt = pg_insert(tables.ticket_collaborating_groups).values(ticket_id=ticket_id, group_id=group_id, created_at=now)
    added = await conn.execute(stmt.on_conflict_do_nothing().returning(stmt.table.c.ticket_id))
    return added.first() is not None


def collaborator_added(agent_id: int | None, group_id: int | None) -> dict[str, int | None]:
    """The data of a COLLABORATOR_ADDED event."""
    return {"agentId": agent_id, "groupId": group_id}
