"""SLA policies and business calendars as the configuration reads them."""

from __future__ import annotations

from collections.abc import Sequence

from app.db.repositories import sla
from app.domain.records import BusinessCalendarRecord, SlaPolicyRecord
from app.services.runtime import Runtime


async def all_policies(rt: Runtime) -> list[SlaPolicyRecord]:
    """Every policy, in the order they are tried."""
    async with rt.engine.connect() as conn:
        return await sla.all_policies(conn)


async def all_calendars(rt: Runtime) -> list[BusinessCalendarRecord]:
    async with rt.engine.connect() as conn:
        return await sla.all_calendars(conn)


async def policy_by_id(rt: Runtime, pk: int) -> SlaPolicyRecord | None:
    async with rt.engine.connect() as conn:
        return (await sla.policies_by_ids(conn, [pk])).get(pk)


async def calendar_by_id(rt: Runtime, pk: int) -> BusinessCalendarRecord | None:
    async with rt.engine.connect() as conn:
        return (await sla.calendars_by_ids(conn, [pk])).get(pk)


async def with_calendars(
    rt: Runtime, policies: Sequence[SlaPolicyRecord]
) -> list[tuple[SlaPolicyRecord, BusinessCalendarRecord | None]]:
    """Each policy with its business calendar (None: around the clock), in one statement."""
    wanted = {p.calendar_id for p in policies if p.calendar_id is not None}
    if not wanted:
        return [(p, None) for p in policies]
    async with rt.engine.connect() as conn:
        found = await sla.calendars_by_ids(conn, list(wanted))
    return [(p, found.get(p.calendar_id) if p.calendar_id is not None else None) for p in policies]
