"""Agents and groups: administration, presence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.passwords import hash_password_async
from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.rows import columns_for
from app.domain import validation as v
from app.domain.enums import AgentPresence, AgentRole, AssignmentStrategy
from app.domain.errors import Duplicate, NotFound
from app.domain.principal import Principal
from app.domain.records import AgentRecord, GroupRecord
from app.services.assignment import drain_queue_for, hand_back, lock_unstarted_tickets
from app.services.runtime import Runtime

a, g, gm = tables.agents, tables.groups, tables.group_members
UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class NewAgent:
    name: str
    email: str
    password: str
    role: AgentRole = AgentRole.AGENT
    skills: list[str] | None = None
    languages: list[str] | None = None
    capacity: int | None = 10
    group_ids: list[int] | None = None


@dataclass(frozen=True, slots=True)
class AgentChanges:
    name: Any = UNSET
    role: Any = UNSET
    skills: Any = UNSET
    languages: Any = UNSET
    capacity: Any = UNSET
    group_ids: Any = UNSET
    on_vacation: Any = UNSET


def _keywords(problems: v.Problems, values: list[str] | None, field: list[str]) -> list[str]:
    return v.tags(problems, values, field, v.TextLimits(max_tags=50))


def _languages(problems: v.Problems, values: list[str] | None, field: list[str]) -> list[str]:
    result: list[str] = []
    for value in values or []:
        tag = v.language(problems, value, field)
        if tag and tag not in result:
            result.append(tag)
    return result


async def _check_groups(conn: AsyncConnection, group_ids: list[int], field: list[str]) -> None:
    if not group_ids:
        return
    found = {row[0] for row in await conn.execute(select(g.c.id).where(g.c.id.in_(group_ids)))}
    if missing := [gid for gid in group_ids if gid not in found]:
        raise NotFound(f"no such group: {len(missing)} of the given groups do not exist", field)


async def _set_groups(conn: AsyncConnection, agent_id: int, group_ids: list[int]) -> None:
    await conn.execute(delete(gm).where(gm.c.agent_id == agent_id))
    if group_ids:
        await conn.execute(insert(gm), [{"agent_id": agent_id, "group_id": gid} for gid in dict.fromkeys(group_ids)])


async def create_agent(rt: Runtime, principal: Principal | None, data: NewAgent) -> AgentRecord:
    """A new agent is OFFLINE until they set their presence. `principal` None is the CLI."""
    if principal is not None:
        require(principal, Action.CREATE_AGENT)
    problems = v.Problems()
    name = v.required_text(problems, data.name, ["input", "name"], 200)
    email = v.email(problems, data.email, ["input", "email"])
    if not email:
        problems.add("must not be empty", ["input", "email"])
    v.password(problems, data.password, ["input", "password"])
    skills = _keywords(problems, data.skills, ["input", "skills"])
    languages = _languages(problems, data.languages, ["input", "languages"])
    capacity = v.capacity(problems, data.capacity, ["input", "capacity"])
    problems.raise_if_any()
    password_hash = await hash_password_async(data.password)
    now = rt.clock.now()
    try:
        async with rt.transaction() as tx:
            await _check_groups(tx.conn, data.group_ids or [], ["input", "groupIds"])
            row = (
                await tx.conn.execute(
                    insert(a)
                    .values(
                        name=name,
                        email=email,
                        password_hash=password_hash,
                        role=data.role.value,
                        skills=skills,
                        languages=languages,
                        capacity=10 if capacity is None else capacity,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(*columns_for(a, AgentRecord))
                )
            ).one()
            await _set_groups(tx.conn, row.id, data.group_ids or [])
    except IntegrityError as exc:
        raise Duplicate("an agent with this email already exists", ["input", "email"]) from exc
    return AgentRecord(*row)


async def update_agent(rt: Runtime, principal: Principal, agent_id: int, changes: AgentChanges) -> AgentRecord:
    require(principal, Action.UPDATE_AGENT)
    problems = v.Problems()
    values: dict[str, Any] = {}
    if changes.name is not UNSET:
        values["name"] = v.required_text(problems, changes.name, ["input", "name"], 200)
    if changes.role is not UNSET and changes.role is not None:
        values["role"] = AgentRole(changes.role).value
    if changes.skills is not UNSET:
        values["skills"] = _keywords(problems, changes.skills, ["input", "skills"])
    if changes.languages is not UNSET:
        values["languages"] = _languages(problems, changes.languages, ["input", "languages"])
    if changes.capacity is not UNSET and changes.capacity is not None:
        values["capacity"] = v.capacity(problems, changes.capacity, ["input", "capacity"])
    if changes.on_vacation is not UNSET and changes.on_vacation is not None:
        values["on_vacation"] = bool(changes.on_vacation)
    problems.raise_if_any()
    now = rt.clock.now()
    async with rt.transaction() as tx:
        leaving = values.get("on_vacation") is True
        # Tickets before agents: the NEW tickets to hand back are locked first.
        unstarted = await lock_unstarted_tickets(tx, agent_id) if leaving else []
        locked = (
            await tx.conn.execute(
                select(a.c.id, a.c.on_vacation, a.c.capacity).where(a.c.id == agent_id).with_for_update()
            )
        ).first()
        if locked is None:
            raise NotFound("no such agent", ["id"])
        if changes.group_ids is not UNSET and changes.group_ids is not None:
            await _check_groups(tx.conn, changes.group_ids, ["input", "groupIds"])
            await _set_groups(tx.conn, agent_id, changes.group_ids)
        row = (
            await tx.conn.execute(
                update(a)
                .where(a.c.id == agent_id)
                .values(**values, updated_at=now)
                .returning(*columns_for(a, AgentRecord))
            )
        ).one()
        agent = AgentRecord(*row)
        if leaving and not locked.on_vacation:
            await hand_back(tx, unstarted, agent_id, now)
        elif not agent.on_vacation:
            # Back from vacation, more capacity or new groups: waiting tickets may fit now.
            await drain_queue_for(tx, agent_id, now)
    if "role" in values or changes.group_ids not in (UNSET, None):
        await rt.credentials_changed()  # the principal of every credential of theirs changed
    return agent


async def set_presence(rt: Runtime, principal: Principal, presence: AgentPresence) -> AgentRecord:
    """ONLINE makes the agent eligible for new tickets and hands them waiting ones at once;
    AWAY and OFFLINE keep their tickets but stop new ones."""
    now = rt.clock.now()
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(a)
                .where(a.c.id == principal.agent_id)
                .values(presence=presence.value, updated_at=now)
                .returning(*columns_for(a, AgentRecord))
            )
        ).one()
        if presence is AgentPresence.ONLINE:
            await drain_queue_for(tx, principal.agent_id, now)
    return AgentRecord(*row)


async def ensure_admin(rt: Runtime, email: str, password: str, name: str) -> tuple[AgentRecord, bool]:
    """Creates the admin, or resets the password and role of an existing agent with that email
    (the CLI's way back in). Returns the agent and whether it was created."""
    async with rt.engine.connect() as conn:
        existing = (await conn.execute(select(a.c.id).where(func.lower(a.c.email) == email.strip().lower()))).first()
    if existing is None:
        agent = await create_agent(rt, None, NewAgent(name=name, email=email, password=password, role=AgentRole.ADMIN))
        return agent, True
    problems = v.Problems()
    v.password(problems, password, ["password"])
    problems.raise_if_any()
    password_hash = await hash_password_async(password)
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(a)
                .where(a.c.id == existing.id)
                .values(
                    password_hash=password_hash,
                    role=AgentRole.ADMIN.value,
                    deactivated_at=None,
                    updated_at=rt.clock.now(),
                )
                .returning(*columns_for(a, AgentRecord))
            )
        ).one()
    await rt.credentials_changed()
    return AgentRecord(*row), False


@dataclass(frozen=True, slots=True)
class NewGroup:
    name: str
    description: str | None = None
    assignment_strategy: AssignmentStrategy = AssignmentStrategy.LEAST_LOADED
    escalation_group_id: int | None = None


async def create_group(rt: Runtime, principal: Principal | None, data: NewGroup) -> GroupRecord:
    if principal is not None:
        require(principal, Action.CREATE_GROUP)
    problems = v.Problems()
    name = v.required_text(problems, data.name, ["input", "name"], 200)
    description = v.optional_text(problems, data.description, ["input", "description"], 2000)
    problems.raise_if_any()
    now = rt.clock.now()
    try:
        async with rt.transaction() as tx:
            if data.escalation_group_id is not None:
                await _check_groups(tx.conn, [data.escalation_group_id], ["input", "escalationGroupId"])
            row = (
                await tx.conn.execute(
                    insert(g)
                    .values(
                        name=name,
                        description=description,
                        assignment_strategy=data.assignment_strategy.value,
                        escalation_group_id=data.escalation_group_id,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(*columns_for(g, GroupRecord))
                )
            ).one()
    except IntegrityError as exc:
        raise Duplicate("a group with this name already exists", ["input", "name"]) from exc
    return GroupRecord(*row)
