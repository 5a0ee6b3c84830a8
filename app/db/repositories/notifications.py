"""Reading and writing agents' notifications; every read is of one agent's own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, DateTime, Text, cast, func, insert, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.events import HORIZON
from app.db.repositories.rows import among, columns_for, to_records
from app.domain.enums import AgentRole, NotificationKind
from app.domain.principal import Principal
from app.domain.records import NotificationRecord
from app.events.cursors import START, EventPosition

n, a, gm, t = tables.notifications, tables.agents, tables.group_members, tables.tickets
# Longest message kept (app.services.notifications.MAX_MESSAGE).
MAX_MESSAGE = 1000
COLUMNS = columns_for(n, NotificationRecord)


async def insert_notifications(
    conn: AsyncConnection,
    agent_ids: Sequence[int],
    kind: NotificationKind,
    ticket_id: int | None,
    message: str,
    now: datetime,
) -> list[int]:
    if not agent_ids:
        return []
    rows = [
        {"agent_id": agent_id, "kind": kind.value, "ticket_id": ticket_id, "message": message, "created_at": now}
        for agent_id in sorted(set(agent_ids))
    ]
    return list((await conn.execute(insert(n).values(rows).returning(n.c.id))).scalars())


async def notify_assignee(
    conn: AsyncConnection, agent_id: int, ticket_id: int, kind: NotificationKind, prefix: str, now: datetime
) -> bool:
    """Tells the ticket's assignee `prefix` + "#number subject" (app.services.notification_triggers'
    form), in one statement; False, and nothing written, unless `agent_id` is the ticket's
    assignee and not deactivated."""
    about = func.left(literal(prefix) + "#" + cast(t.c.number, Text) + " " + t.c.subject, MAX_MESSAGE)
    source = (
        select(a.c.id, literal(kind.value), t.c.id, about, literal(now, DateTime(timezone=True)))
        .select_from(t.join(a, a.c.id == t.c.assignee_id))
        .where(t.c.id == ticket_id, a.c.id == agent_id, a.c.deactivated_at.is_(None))
    )
    written = await conn.execute(
        insert(n).from_select(["agent_id", "kind", "ticket_id", "message", "created_at"], source).returning(n.c.id)
    )
    return written.first() is not None


async def active_principals(conn: AsyncConnection, agent_ids: Sequence[int]) -> dict[int, Principal]:
    """The agents that are not deactivated, as principals (role and groups), to ask what they may see."""
    groups = select(func.coalesce(func.array_agg(gm.c.group_id), [])).where(gm.c.agent_id == a.c.id).scalar_subquery()
    rows = await conn.execute(
        select(a.c.id, a.c.role, groups).where(among(a.c.id, agent_ids), a.c.deactivated_at.is_(None))
    )
    return {row[0]: Principal(row[0], AgentRole(row[1]), frozenset(row[2] or ())) for row in rows}


def _mine(agent_id: int, unread_only: bool) -> list[ColumnElement[bool]]:
    conditions = [n.c.agent_id == agent_id]
    if unread_only:
        conditions.append(n.c.read_at.is_(None))
    return conditions


async def newest_first(
    conn: AsyncConnection, agent_id: int, unread_only: bool, before_id: int | None, limit: int
) -> list[NotificationRecord]:
    query = select(*COLUMNS).where(*_mine(agent_id, unread_only))
    if before_id is not None:
        query = query.where(n.c.id < before_id)
    rows = await conn.execute(query.order_by(n.c.id.desc()).limit(limit))
    return to_records(NotificationRecord, rows)


async def count(conn: AsyncConnection, agent_id: int, unread_only: bool) -> int:
    return (await conn.execute(select(func.count()).select_from(n).where(*_mine(agent_id, unread_only)))).scalar_one()


async def of_agent_by_ids(conn: AsyncConnection, agent_id: int, ids: Sequence[int]) -> dict[int, NotificationRecord]:
    rows = await conn.execute(select(*COLUMNS).where(among(n.c.id, ids), n.c.agent_id == agent_id))
    return {r.id: r for r in to_records(NotificationRecord, rows)}


async def mark_read(conn: AsyncConnection, agent_id: int, ids: Sequence[int] | None, now: datetime) -> int:
    """Marks the agent's unread notifications (all of them, or those of `ids`) read; how many changed."""
    query = update(n).where(n.c.agent_id == agent_id, n.c.read_at.is_(None)).values(read_at=now)
    if ids is not None:
        query = query.where(among(n.c.id, ids))
    return (await conn.execute(query)).rowcount


async def latest_position(conn: AsyncConnection, agent_id: int) -> EventPosition:
    """Where the agent's live stream starts: after their last notification below the horizon."""
    row = (
        await conn.execute(
            select(n.c.txid, n.c.id)
            .where(n.c.agent_id == agent_id, n.c.txid < HORIZON)
            .order_by(n.c.txid.desc(), n.c.id.desc())
            .limit(1)
        )
    ).first()
    return EventPosition(row[0], row[1]) if row else START


async def after_position(
    conn: AsyncConnection, agent_id: int, after: EventPosition, limit: int
) -> list[NotificationRecord]:
    """The agent's notifications after `after` in commit order, below the horizon (as events are
    read): one committed later can never turn up behind a position already handed out."""
    rows = await conn.execute(
        select(*COLUMNS)
        .where(
            n.c.agent_id == agent_id,
            tuple_(n.c.txid, n.c.id) > tuple_(after.txid, after.id),
            n.c.txid < HORIZON,
        )
        .order_by(n.c.txid, n.c.id)
        .limit(limit)
    )
    return to_records(NotificationRecord, rows)
