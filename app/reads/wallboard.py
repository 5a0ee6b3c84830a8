"""The wallboard's numbers, computed in SQL in one round trip per snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.domain.enums import OPEN_STATUSES, AgentPresence, SlaClockState, TicketStatus

t, sc, a, gm = tables.tickets, tables.sla_clocks, tables.agents, tables.group_members
_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True, slots=True)
class WallboardNumbers:
    group_id: int | None
    generated_at: datetime
    counts_by_status: dict[str, int]
    unassigned: int
    at_risk: int
    breached_today: int
    agents_online: int
    oldest_unassigned_wait_seconds: int | None
    created_today: int
    resolved_today: int


def start_of_today(now: datetime, timezone: str) -> datetime:
    """Midnight of `now`'s day in the helpdesk's zone ("today" for wallboards and reports)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time.min, tzinfo=zone)


async def wallboard_numbers(
    engine: AsyncEngine, group_id: int | None, now: datetime, timezone: str
) -> WallboardNumbers:
    today = start_of_today(now, timezone)
    in_group = t.c.group_id == group_id if group_id is not None else literal(True)
    open_unassigned = and_(in_group, t.c.status.in_(_OPEN), t.c.assignee_id.is_(None))
    clock_in_group = select(t.c.id).where(t.c.id == sc.c.ticket_id, in_group).exists()
    online = a.c.presence == AgentPresence.ONLINE.value
    if group_id is not None:
        online = and_(online, a.c.id.in_(select(gm.c.agent_id).where(gm.c.group_id == group_id)))

    def metric(name: str, query: Select[Any]) -> Select[Any]:
        return select(literal(name).label("name"), query.scalar_subquery().label("value"))

    by_status = select(t.c.status, func.count()).where(in_group).group_by(t.c.status)
    figures = union_all(
        metric("unassigned", select(func.count()).where(open_unassigned)),
        metric(
            "at_risk",
            select(func.count()).where(
                sc.c.state == SlaClockState.RUNNING.value,
                sc.c.warned_at.isnot(None),
                sc.c.breached_at.is_(None),
                clock_in_group,
            ),
        ),
        metric("breached_today", select(func.count()).where(sc.c.breached_at >= today, clock_in_group)),
        metric("agents_online", select(func.count()).where(online, a.c.deactivated_at.is_(None))),
        metric(
            "oldest_wait",
            select(func.extract("epoch", literal(now) - func.min(func.coalesce(t.c.queued_at, t.c.created_at)))).where(
                open_unassigned
            ),
        ),
        metric("created_today", select(func.count()).where(in_group, t.c.created_at >= today)),
        metric("resolved_today", select(func.count()).where(in_group, t.c.resolved_at >= today)),
    )
    async with engine.connect() as conn:
        statuses = {status: n for status, n in await conn.execute(by_status)}
        values = {name: value for name, value in await conn.execute(figures)}
    oldest = values["oldest_wait"]
    return WallboardNumbers(
        group_id=group_id,
        generated_at=now,
        counts_by_status={s.value: int(statuses.get(s.value, 0)) for s in TicketStatus},
        unassigned=int(values["unassigned"]),
        at_risk=int(values["at_risk"]),
        breached_today=int(values["breached_today"]),
        agents_online=int(values["agents_online"]),
        oldest_unassigned_wait_seconds=max(0, int(oldest)) if oldest is not None else None,
        created_today=int(values["created_today"]),
        resolved_today=int(values["resolved_today"]),
    )
