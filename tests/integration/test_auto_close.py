"""Auto-close: RESOLVED tickets close once HELPDESK_AUTO_CLOSE_AFTER has passed, by the system,
exactly once even with several sweepers at the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.background import auto_close_loop
from app.clock import ManualClock
from app.db import tables
from app.domain.enums import Channel, TicketEventType, TicketStatus
from app.domain.lifecycle import Action
from app.services.customers import CustomerRef
from app.services.lifecycle import close_resolved_tickets, transition
from app.services.runtime import Runtime
from app.services.tickets import NewTicket, create_ticket
from app.settings import Settings
from tests.conftest import Actor

t, te = tables.tickets, tables.ticket_events

# Tickets are resolved at the real "now" and the sweep runs in the clock's future, so the test
# server's own auto-close loop (real clock), if running against this database, never sees them due.
START = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def manual_rt(engine: AsyncEngine, settings: Settings, clock: ManualClock) -> Runtime:
    return Runtime(engine=engine, settings=settings, clock=clock)


def limit(settings: Settings) -> timedelta:
    return timedelta(hours=settings.auto_close_after_hours)


async def new_ticket(rt: Runtime, admin: Actor, subject: str = "Refund not received") -> int:
    ticket, _ = await create_ticket(
        rt,
        admin.principal,
        NewTicket(
            subject=subject,
            description="I returned the parcel two weeks ago.",
            channel=Channel.EMAIL,
            customer=CustomerRef(email="amara@example.com", name="Amara"),
        ),
    )
    return ticket.id


async def resolved_ticket(rt: Runtime, admin: Actor, subject: str = "Refund not received") -> int:
    ticket_id = await new_ticket(rt, admin, subject)
    await transition(rt, admin.principal, ticket_id, Action.START)
    await transition(rt, admin.principal, ticket_id, Action.RESOLVE, resolution="Refund issued.")
    return ticket_id


async def ticket_row(rt: Runtime, ticket_id: int) -> Any:
    async with rt.engine.connect() as conn:
        return (await conn.execute(select(t).where(t.c.id == ticket_id))).one()


async def close_events(rt: Runtime, ticket_id: int) -> list[Any]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            select(te)
            .where(
                te.c.ticket_id == ticket_id,
                te.c.type == TicketEventType.STATUS_CHANGED.value,
                te.c.data["to"].astext == TicketStatus.CLOSED.value,
            )
            .order_by(te.c.id)
        )
        return list(rows)


async def test_only_tickets_resolved_longer_ago_than_the_limit_close(
    manual_rt: Runtime, clock: ManualClock, admin: Actor, settings: Settings
) -> None:
    assert settings.auto_close_after_hours == 72
    due = await resolved_ticket(manual_rt, admin, "due")
    reopened = await resolved_ticket(manual_rt, admin, "reopened")
    clock.advance(timedelta(hours=1))
    await transition(manual_rt, admin.principal, reopened, Action.REOPEN, reason="still no refund")
    working = await new_ticket(manual_rt, admin, "never resolved")
    await transition(manual_rt, admin.principal, working, Action.START)
    clock.advance(timedelta(hours=2))
    young = await resolved_ticket(manual_rt, admin, "young")

    # 73 hours after the first resolution, 71 after the young one's.
    clock.set(START + limit(settings) + timedelta(hours=1))
    closed = await close_resolved_tickets(manual_rt, limit(settings))

    assert closed == 1
    due_row = await ticket_row(manual_rt, due)
    assert due_row.status == "CLOSED"
    assert due_row.closed_at == clock.now()
    assert due_row.version == 4  # created, started, resolved, closed
    assert (await ticket_row(manual_rt, young)).status == "RESOLVED"
    reopened_row = await ticket_row(manual_rt, reopened)
    assert (reopened_row.status, reopened_row.resolved_at, reopened_row.closed_at) == ("OPEN", None, None)
    assert (await ticket_row(manual_rt, working)).status == "OPEN"

    (event,) = await close_events(manual_rt, due)
    assert event.data == {"from": "RESOLVED", "to": "CLOSED", "reason": "AUTO_CLOSE", "version": 4}
    assert event.actor_agent_id is None and event.actor_customer_id is None  # the system did it
    assert event.occurred_at == clock.now()
    assert await close_events(manual_rt, young) == []

    # Later the young one is due too; a closed ticket is never closed again.
    clock.advance(timedelta(hours=3))
    assert await close_resolved_tickets(manual_rt, limit(settings)) == 1
    assert (await ticket_row(manual_rt, young)).status == "CLOSED"
    assert await close_resolved_tickets(manual_rt, limit(settings)) == 0
    assert len(await close_events(manual_rt, due)) == 1


async def test_a_ticket_resolved_again_after_reopening_waits_from_its_new_resolution(
    manual_rt: Runtime, clock: ManualClock, admin: Actor, settings: Settings
) -> None:
    ticket_id = await resolved_ticket(manual_rt, admin)
    clock.advance(limit(settings) - timedelta(hours=1))
    await transition(manual_rt, admin.principal, ticket_id, Action.REOPEN)
    await transition(manual_rt, admin.principal, ticket_id, Action.RESOLVE, resolution="Refund issued again.")
    clock.advance(timedelta(hours=2))  # 73h after the first resolution, 2h after the second
    assert await close_resolved_tickets(manual_rt, limit(settings)) == 0
    assert (await ticket_row(manual_rt, ticket_id)).status == "RESOLVED"


async def test_background_loop_uses_helpdesk_auto_close_after(
    engine: AsyncEngine, database_url: str, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_AUTO_CLOSE_AFTER", "5")
    configured = Settings(database_url=database_url, log_json=False)
    assert configured.auto_close_after_hours == 5
    clock = ManualClock(START)
    rt = Runtime(engine=engine, settings=configured, clock=clock)
    due = await resolved_ticket(rt, admin, "due after 5h")
    clock.advance(timedelta(hours=4))
    young = await resolved_ticket(rt, admin, "resolved 1h before the sweep")
    clock.advance(timedelta(hours=1, minutes=1))

    loop = asyncio.create_task(auto_close_loop(rt, every=0.05))
    try:
        for _ in range(200):
            if (await ticket_row(rt, due)).status == "CLOSED":
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a few more sweeps: the young ticket must stay resolved
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert (await ticket_row(rt, due)).status == "CLOSED"
    assert (await ticket_row(rt, young)).status == "RESOLVED"
    assert len(await close_events(rt, due)) == 1


@pytest.mark.parametrize("batch", [100, 7])
async def test_concurrent_sweeps_close_each_ticket_exactly_once(
    engine: AsyncEngine, settings: Settings, clock: ManualClock, manual_rt: Runtime, admin: Actor, batch: int
) -> None:
    ticket_ids: list[int] = []
    for first in range(0, 60, 15):
        ticket_ids += await asyncio.gather(
            *(resolved_ticket(manual_rt, admin, f"due #{i}") for i in range(first, first + 15))
        )
    assert len(set(ticket_ids)) == 60
    clock.set(START + limit(settings) + timedelta(minutes=1))
    # Three sweepers, as if in three processes: separate runtimes over the one database.
    sweepers = [Runtime(engine=engine, settings=settings, clock=ManualClock(clock.now())) for _ in range(3)]

    counts = await asyncio.gather(*(close_resolved_tickets(rt, limit(settings), batch) for rt in sweepers))

    assert sum(counts) == 60, counts
    async with engine.connect() as conn:
        statuses = (
            await conn.execute(select(t.c.status, func.count()).where(t.c.id.in_(ticket_ids)).group_by(t.c.status))
        ).all()
        per_ticket = (
            await conn.execute(
                select(te.c.ticket_id, func.count())
                .where(
                    te.c.ticket_id.in_(ticket_ids),
                    te.c.type == TicketEventType.STATUS_CHANGED.value,
                    te.c.data["to"].astext == "CLOSED",
                )
                .group_by(te.c.ticket_id)
            )
        ).all()
        versions = (await conn.execute(select(t.c.version).where(t.c.id.in_(ticket_ids)).distinct())).scalars().all()
    assert [tuple(row) for row in statuses] == [("CLOSED", 60)]
    assert dict(per_ticket) == dict.fromkeys(ticket_ids, 1)
    assert versions == [4]
