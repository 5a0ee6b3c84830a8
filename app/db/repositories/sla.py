"""SLA reads: policies, calendars, and tickets' clocks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import among, any_of_ids, columns_for, to_records
from app.domain.enums import SlaTarget
from app.domain.records import BusinessCalendarRecord, SlaClockRecord, SlaPolicyRecord
from app.domain.sla import SlaConfig, TicketSlaView, ticket_sla_view

sc, p, cal = tables.sla_clocks, tables.sla_policies, tables.business_calendars
CLOCK_COLUMNS = columns_for(sc, SlaClockRecord)
POLICY_COLUMNS = columns_for(p, SlaPolicyRecord)
CALENDAR_COLUMNS = columns_for(cal, BusinessCalendarRecord)
_LATEST_CLOCKS = (
    select(*CLOCK_COLUMNS)
    .where(any_of_ids(sc.c.ticket_id))
    .ext(distinct_on(sc.c.ticket_id, sc.c.target))
    .order_by(sc.c.ticket_id, sc.c.target, sc.c.cycle.desc())
)
_POLICIES_WITH_CALENDARS = (
    select(*POLICY_COLUMNS, *CALENDAR_COLUMNS)
    .select_from(p.outerjoin(cal, cal.c.id == p.c.calendar_id))
    .where(any_of_ids(p.c.id))
)


async def all_policies(conn: AsyncConnection) -> list[SlaPolicyRecord]:
    return to_records(SlaPolicyRecord, await conn.execute(select(*POLICY_COLUMNS).order_by(p.c.position, p.c.id)))


async def policies_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, SlaPolicyRecord]:
    rows = await conn.execute(select(*POLICY_COLUMNS).where(among(p.c.id, list(ids))))
    return {r.id: r for r in to_records(SlaPolicyRecord, rows)}


async def all_calendars(conn: AsyncConnection) -> list[BusinessCalendarRecord]:
    return to_records(BusinessCalendarRecord, await conn.execute(select(*CALENDAR_COLUMNS).order_by(cal.c.id)))


async def calendars_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, BusinessCalendarRecord]:
    rows = await conn.execute(select(*CALENDAR_COLUMNS).where(among(cal.c.id, list(ids))))
    return {r.id: r for r in to_records(BusinessCalendarRecord, rows)}


async def next_check_at(conn: AsyncConnection) -> datetime | None:
    """When the SLA scheduler next has a clock to check (None: no clock waits for one)."""
    return (await conn.execute(select(func.min(sc.c.next_check_at)))).scalar_one()


async def sla_config(conn: AsyncConnection) -> SlaConfig:
    """Every policy and the calendars they use (no second statement when none uses one)."""
    policies = await all_policies(conn)
    wanted = {policy.calendar_id for policy in policies if policy.calendar_id is not None}
    calendars = (await calendars_by_ids(conn, list(wanted))).values() if wanted else []
    return SlaConfig.of(policies, calendars)


async def latest_clocks(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, dict[SlaTarget, SlaClockRecord]]:
    """Each ticket's clock of the highest cycle, per target."""
    rows = await conn.execute(_LATEST_CLOCKS, {"ids": list(ticket_ids)})
    result: dict[int, dict[SlaTarget, SlaClockRecord]] = {}
    for clock in to_records(SlaClockRecord, rows):
        result.setdefault(clock.ticket_id, {})[SlaTarget(clock.target)] = clock
    return result


async def ticket_slas(conn: AsyncConnection, ticket_ids: Sequence[int], now: datetime) -> dict[int, TicketSlaView]:
    """`Ticket.sla` for many tickets: each ticket's current clocks, then the few policies they
    name with their calendars (joined per clock row, every policy's lists and hours were decoded
    again for every clock: most of a ticket page's SLA cost); tickets no policy applies to are
    left out."""
    clocks = await latest_clocks(conn, ticket_ids)
    policy_ids = {k.policy_id for per in clocks.values() for k in per.values() if k.policy_id is not None}
    policies: dict[int, tuple[SlaPolicyRecord, BusinessCalendarRecord | None]] = {}
    if policy_ids:
        n_policy = len(POLICY_COLUMNS)
        rows = await conn.execute(_POLICIES_WITH_CALENDARS, {"ids": list(policy_ids)})
        for row in rows:
            policy = SlaPolicyRecord(*row[:n_policy])
            calendar_row = row[n_policy:]
            calendar = BusinessCalendarRecord(*calendar_row) if calendar_row[0] is not None else None
            policies[policy.id] = (policy, calendar)
    result: dict[int, TicketSlaView] = {}
    for ticket_id, per_target in clocks.items():
        entries: list[tuple[SlaClockRecord, SlaPolicyRecord | None, BusinessCalendarRecord | None]] = []
        for clock in per_target.values():
            found = policies.get(clock.policy_id) if clock.policy_id is not None else None
            entries.append((clock, found[0], found[1]) if found else (clock, None, None))
        view = ticket_sla_view(entries, now)
        if view is not None:
            result[ticket_id] = view
    return result
