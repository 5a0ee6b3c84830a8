"""Handing tickets to agents: strategies, capacity, the group queue and its draining.

Lock order, everywhere: tickets before agents. Choosing an agent locks every member of the
group (FOR UPDATE, id order) and only then counts their open tickets, in a new statement,
so the count includes every assignment committed before the lock was granted: two
transactions can never both fill an agent's last free slot. Agent rows are locked FOR NO KEY
UPDATE: it excludes the other lockers just as well, and does not wait for the KEY SHARE locks
that writing a row which refers to the agent takes (an event with the agent as actor), which
two transactions of one agent would otherwise both hold while each waits for the other's. A path that holds an agent
lock and then wants tickets (queue draining) takes them with SKIP LOCKED and never waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import ScalarSelect

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.db.repositories.routing import enabled_rules
from app.db.repositories.rows import columns_for
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain.assignment import Candidate, choose_agent, is_available, is_qualified
from app.domain.enums import OPEN_STATUSES, AssignmentStrategy, TicketEventType
from app.domain.errors import InvalidInput, InvalidTransition, NotFound, PreconditionFailed
from app.domain.principal import Principal
from app.domain.records import AgentRecord, GroupRecord, TicketRecord
from app.domain.routing import TicketFacts, route
from app.events.outbox import Outbox
from app.services.runtime import Runtime
from app.services.ticket_changes import SYSTEM, Actor, apply_change, check_version, lock_ticket, lock_tickets, record

a, g, gm, t = tables.agents, tables.groups, tables.group_members, tables.tickets
_OPEN = [s.value for s in OPEN_STATUSES]
# The smallest step PostgreSQL timestamps keep: a later turn is always stamped later.
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Choice:
    agent_id: int
    reason: str  # the strategy that chose
    agent: AgentRecord | None = None  # as read under the lock


async def group_strategy(conn: AsyncConnection, group_id: int | None) -> AssignmentStrategy | None:
    if group_id is None:
        return None
    value = (await conn.execute(select(g.c.assignment_strategy).where(g.c.id == group_id))).scalar_one_or_none()
    return AssignmentStrategy(value) if value else None


def _open_count(ignore_ticket: int | None = None) -> ScalarSelect[int]:
    query = select(func.count()).where(t.c.assignee_id == a.c.id, t.c.status.in_(_OPEN))
    if ignore_ticket is not None:
        query = query.where(t.c.id != ignore_ticket)
    return query.scalar_subquery()


async def lock_members(conn: AsyncConnection, group_id: int, ignore_ticket: int | None = None) -> list[Candidate]:
    """Locks the group's agents, then reads them with their current open-ticket counts (not
    counting `ignore_ticket`, the ticket being handed out again)."""
    return [candidate for candidate, _ in await _lock_members(conn, group_id, ignore_ticket)]


_AGENT_COLUMNS = columns_for(a, AgentRecord)


async def _lock_members(
    conn: AsyncConnection, group_id: int, ignore_ticket: int | None
) -> list[tuple[Candidate, AgentRecord]]:
    members = select(gm.c.agent_id).where(gm.c.group_id == group_id)
    locked = await conn.execute(
        select(a.c.id)
        .where(a.c.id.in_(members), a.c.deactivated_at.is_(None))
        .order_by(a.c.id)
        .with_for_update(of=a, key_share=True)
    )
    if locked.first() is None:  # nobody in the group: no counts to read
        return []
    rows = await conn.execute(
        select(
            _open_count(ignore_ticket),
            gm.c.last_assigned_at,
            a.c.last_assigned_at,
            *_AGENT_COLUMNS,
        )
        .join(gm, (gm.c.agent_id == a.c.id) & (gm.c.group_id == group_id))
        .where(a.c.deactivated_at.is_(None))
        .order_by(a.c.id)
    )
    found: list[tuple[Candidate, AgentRecord]] = []
    for row in rows:
        agent = AgentRecord(*row[3:])
        candidate = Candidate(
            agent_id=agent.id,
            presence=agent.presence,
            on_vacation=agent.on_vacation,
            capacity=agent.capacity,
            open_tickets=row[0],
            skills=frozenset(agent.skills),
            languages=frozenset(agent.languages),
            last_assigned_in_group=row[1],
            last_assigned=row[2],
        )
        found.append((candidate, agent))
    return found


async def pick_agent(
    conn: AsyncConnection,
    group_id: int | None,
    required_skills: Sequence[str],
    language: str | None,
    exclude: int | None = None,
    ignore_ticket: int | None = None,
    groups: Mapping[int, GroupRecord] | None = None,
) -> Choice | None:
    """The agent the group's strategy picks now (members locked until commit), or None: the
    ticket waits in the group queue. `groups`: every group as the caller's transaction sees
    them (intake's cached configuration), so the strategy is not read again."""
    if groups is not None:
        group = groups.get(group_id) if group_id is not None else None
        strategy = AssignmentStrategy(group.assignment_strategy) if group is not None else None
    else:
        strategy = await group_strategy(conn, group_id)
    if strategy is None or strategy is AssignmentStrategy.MANUAL or group_id is None:
        return None
    members = [m for m in await _lock_members(conn, group_id, ignore_ticket) if m[0].agent_id != exclude]
    chosen = choose_agent(strategy, [candidate for candidate, _ in members], required_skills, language)
    if chosen is None:
        return None
    agent = next(record for candidate, record in members if candidate.agent_id == chosen.agent_id)
    return Choice(chosen.agent_id, strategy.value, agent)


async def mark_assigned(conn: AsyncConnection, group_id: int | None, agent_id: int, now: datetime) -> None:
    """Moves the agent to the back of the group's rotation."""
    for statement in turn_taken(group_id, agent_id, now):
        await conn.execute(statement)


def turn_taken(group_id: int | None, agent_id: int, now: datetime) -> list[Update]:
    """The writes that move the agent to the back of the group's rotation (mark_assigned runs
    them; intake sends them with its events). Neither reads what the other writes.

    The group stamp is never earlier than the latest turn already taken in the group: `now` is
    read when the request started, before it waited for the members' locks (or on another
    process's clock), so a creation that waited longer than a later one would otherwise stamp its
    agent "longer ago" than the turns taken meanwhile and hand that agent the next turn too."""
    writes = [update(a).where(a.c.id == agent_id).values(last_assigned_at=now)]
    if group_id is not None:
        turns = gm.alias("turns")
        latest = select(func.max(turns.c.last_assigned_at)).where(turns.c.group_id == group_id).scalar_subquery()
        writes.append(
            update(gm)
            .where(gm.c.group_id == group_id, gm.c.agent_id == agent_id)
            .values(last_assigned_at=func.greatest(now, latest + _TICK))
        )
    return writes


def assignment_data(assignee: int | None, previous: int | None, group_id: int | None, reason: str) -> dict[str, object]:
    return {"assigneeId": assignee, "previousAssigneeId": previous, "groupId": group_id, "reason": reason}


async def set_assignee(
    tx: Outbox,
    ticket: TicketRecord,
    agent_id: int | None,
    reason: str,
    actor: Actor,
    now: datetime,
    extra_values: dict[str, object] | None = None,
) -> TicketRecord:
    """Gives the ticket to `agent_id` (None: back to its group's queue) as one change, with its
    ASSIGNED or UNASSIGNED event carrying the reason and the previous assignee."""
    values: dict[str, object] = {"assignee_id": agent_id, **(extra_values or {})}
    if agent_id is None:
        values["queued_at"] = now
    updated = await apply_change(tx, ticket, values, now)
    if agent_id is not None:
        await mark_assigned(tx.conn, updated.group_id, agent_id, now)
    kind = TicketEventType.ASSIGNED if agent_id is not None else TicketEventType.UNASSIGNED
    await record(tx, updated, kind, actor, now, assignment_data(agent_id, ticket.assignee_id, updated.group_id, reason))
    return updated


async def reassign_in_same_change(tx: Outbox, ticket: TicketRecord, agent_id: int, now: datetime) -> TicketRecord:
    """Sets the assignee as part of a change already recorded (no second version bump)."""
    row = (
        await tx.conn.execute(
            update(t).where(t.c.id == ticket.id).values(assignee_id=agent_id, queued_at=None).returning(*TICKET_COLUMNS)
        )
    ).one()
    await mark_assigned(tx.conn, ticket.group_id, agent_id, now)
    return TicketRecord(*row)


async def drain_queue_for(
    tx: Outbox, agent_id: int, now: datetime, skip_ticket: int | None = None
) -> list[TicketRecord]:
    """Hands waiting tickets of the agent's groups to the agent, most urgent then oldest first,
    up to capacity, if the agent is available. Called whenever an agent may have become
    available: ONLINE, back from vacation, more capacity, or one of their tickets left them."""
    await tx.conn.execute(select(a.c.id).where(a.c.id == agent_id).with_for_update(key_share=True))
    row = (
        await tx.conn.execute(
            select(
                a.c.presence,
                a.c.on_vacation,
                a.c.capacity,
                _open_count(),
                a.c.skills,
                a.c.languages,
            ).where(a.c.id == agent_id, a.c.deactivated_at.is_(None))
        )
    ).first()
    if row is None:
        return []
    me = Candidate(agent_id, row[0], row[1], row[2], row[3], frozenset(row[4]), frozenset(row[5]), None, None)
    if not is_available(me):
        return []
    room = me.capacity - me.open_tickets
    my_groups = select(gm.c.group_id).where(gm.c.agent_id == agent_id)
    drainable = select(g.c.id).where(g.c.id.in_(my_groups), g.c.assignment_strategy != AssignmentStrategy.MANUAL.value)
    query = (
        select(*TICKET_COLUMNS, g.c.assignment_strategy)
        .join(g, g.c.id == t.c.group_id)
        .where(t.c.group_id.in_(drainable), t.c.assignee_id.is_(None), t.c.status.in_(_OPEN))
        .order_by(t.c.priority_rank.desc(), t.c.queued_at, t.c.id)
        .limit(max(room * 4, 20))
        .with_for_update(of=t, skip_locked=True)
    )
    if skip_ticket is not None:
        query = query.where(t.c.id != skip_ticket)
    handed: list[TicketRecord] = []
    width = len(TICKET_COLUMNS)
    for row in (await tx.conn.execute(query)).all():
        if len(handed) >= room:
            break
        ticket = TicketRecord(*row[:width])
        if row[width] == AssignmentStrategy.SKILL_BASED.value and not is_qualified(
            me, ticket.required_skills, ticket.language
        ):
            continue
        handed.append(await set_assignee(tx, ticket, agent_id, "QUEUE_DRAIN", SYSTEM, now))
    return handed


async def assign_ticket(
    rt: Runtime,
    principal: Principal,
    ticket_id: int,
    agent_id: int | None,
    group_id: int | None,
    expected_version: int | None,
) -> TicketRecord:
    """A supervisor's manual assignment: to an agent (a member of the ticket's group, or of
    `group_id` when moving it too), or, with no agent and a group, to that group's queue.
    Manual assignment may go past capacity: a supervisor decides. The previous assignee gets
    waiting tickets if this made room."""
    require(principal, Permission.ASSIGN_TICKET)
    if agent_id is None and group_id is None:
        raise InvalidInput("give agentId, groupId or both", ["agentId"])
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        check_version(ticket, expected_version)
        return await assign_locked(tx, ticket, agent_id, group_id, actor, now)


async def assign_locked(
    tx: Outbox,
    ticket: TicketRecord,
    agent_id: int | None,
    group_id: int | None,
    actor: Actor,
    now: datetime,
    fields: tuple[Sequence[str], Sequence[str]] = (("agentId",), ("groupId",)),
) -> TicketRecord:
    """assignTicket's change on a ticket the caller locked, in the caller's transaction; unknown
    or unfit agents and groups are reported on `fields` (the agent's path, the group's path)."""
    agent_field, group_field = fields
    if ticket.status not in _OPEN:
        raise InvalidTransition(f"a {ticket.status} ticket cannot be assigned", ["id"])
    target_group = group_id if group_id is not None else ticket.group_id
    if group_id is not None and (await tx.conn.execute(select(g.c.id).where(g.c.id == group_id))).first() is None:
        raise NotFound("no such group", list(group_field))
    if agent_id is not None:
        exists = (await tx.conn.execute(select(a.c.id).where(a.c.id == agent_id, a.c.deactivated_at.is_(None)))).first()
        if exists is None:
            raise NotFound("no such agent", list(agent_field))
        if target_group is not None:
            member = (
                await tx.conn.execute(
                    select(gm.c.agent_id).where(gm.c.group_id == target_group, gm.c.agent_id == agent_id)
                )
            ).first()
            if member is None:
                raise PreconditionFailed("the agent is not a member of the ticket's group", list(agent_field))
    if agent_id == ticket.assignee_id and target_group == ticket.group_id:
        return ticket
    extra: dict[str, object] = {"group_id": target_group} if target_group != ticket.group_id else {}
    updated = await set_assignee(
        tx, ticket, agent_id, "MANUAL" if agent_id is not None else "UNASSIGNED", actor, now, extra
    )
    if ticket.assignee_id is not None and ticket.assignee_id != agent_id:
        # The freed slot may take other waiting tickets, not the one just taken off this agent.
        await drain_queue_for(tx, ticket.assignee_id, now, skip_ticket=ticket.id)
    return updated


async def auto_assign_ticket(rt: Runtime, principal: Principal, ticket_id: int) -> TicketRecord:
    """Runs routing and assignment again, as on creation: the rules may send the ticket to
    another group and require other skills; the group's strategy then picks among its
    available agents (the current assignee included), or the ticket waits in the queue."""
    require(principal, Permission.UPDATE_TICKET)
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        if ticket.status not in _OPEN:
            raise InvalidTransition(f"a {ticket.status} ticket is not assigned any more", ["id"])
        tier = (
            await tx.conn.execute(select(tables.customers.c.tier).where(tables.customers.c.id == ticket.customer_id))
        ).scalar_one()
        facts = TicketFacts(ticket.subject, ticket.description, ticket.channel, tier, ticket.language, ticket.category)
        decision = route(await enabled_rules(tx.conn), facts)
        values: dict[str, object] = {}
        if decision.group_id is not None and decision.group_id != ticket.group_id:
            values["group_id"] = decision.group_id
        if list(decision.required_skills) != ticket.required_skills:
            values["required_skills"] = list(decision.required_skills)
        if new_tags := [tag for tag in decision.tags if tag not in ticket.tags]:
            values["tags"] = [*ticket.tags, *new_tags]
        if ticket.category is None and decision.category:
            values["category"] = decision.category
        group_id = values.get("group_id", ticket.group_id)
        skills = values.get("required_skills", ticket.required_skills)
        # The ticket itself does not count against its current assignee's capacity or load.
        choice = await pick_agent(tx.conn, group_id, skills, ticket.language, ignore_ticket=ticket.id)  # type: ignore[arg-type]
        new_assignee = choice.agent_id if choice else None
        if not values and new_assignee == ticket.assignee_id:
            return ticket
        reason = choice.reason if choice else "UNASSIGNED"
        updated = await set_assignee(tx, ticket, new_assignee, reason, actor, now, values)
        if decision.fired:
            await record(tx, updated, TicketEventType.UPDATED, actor, now, {"routing": decision.explain()})
        if ticket.assignee_id is not None and ticket.assignee_id != new_assignee:
            await drain_queue_for(tx, ticket.assignee_id, now, skip_ticket=ticket.id)
    return updated


async def lock_unstarted_tickets(tx: Outbox, agent_id: int) -> list[TicketRecord]:
    """The agent's NEW tickets, locked (tickets are locked before agents)."""
    ids = [
        row[0]
        for row in await tx.conn.execute(
            select(t.c.id).where(t.c.assignee_id == agent_id, t.c.status == "NEW").order_by(t.c.id)
        )
    ]
    locked = await lock_tickets(tx.conn, None, ids) if ids else {}
    return [ticket for ticket in locked.values() if ticket.assignee_id == agent_id and ticket.status == "NEW"]


async def hand_back(tx: Outbox, tickets: Sequence[TicketRecord], agent_id: int, now: datetime) -> None:
    """An agent leaving on vacation gives back the tickets nobody has started; each goes to
    another available member or waits in the queue. OPEN work stays: a supervisor moves it."""
    for ticket in tickets:
        choice = await pick_agent(tx.conn, ticket.group_id, ticket.required_skills, ticket.language, exclude=agent_id)
        if choice is None:
            await set_assignee(tx, ticket, None, "UNASSIGNED", SYSTEM, now)
        else:
            await set_assignee(tx, ticket, choice.agent_id, choice.reason, SYSTEM, now)
