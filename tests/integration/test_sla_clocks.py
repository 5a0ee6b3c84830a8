"""SLA clocks follow their tickets (services + real PostgreSQL, time from a ManualClock).

The seeds' scenario: VIP technical faults are answered within one business hour in Shanghai
(Mon-Fri 09:00-12:00 and 13:00-18:00, lunch excluded); everything else within four hours,
around the clock. Times are in 2031, so a test server's real-time scheduler, should one run
against this database, never sees these clocks due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.db.repositories import sla as sla_reads
from app.db.repositories.tickets import list_tickets
from app.domain.enums import (
    Channel,
    CommentVisibility,
    CustomerTier,
    OrderDirection,
    TicketOrderField,
    TicketPriority,
)
from app.domain.lifecycle import Action
from app.domain.sla import TicketSlaView
from app.domain.ticket_query import TicketFilter, TicketOrder
from app.services import sla
from app.services.conversation import add_comment, add_customer_reply
from app.services.customers import CustomerInput, CustomerRef, create_customer, update_customer
from app.services.lifecycle import transition
from app.services.runtime import Runtime
from app.services.tickets import NewTicket, TicketChanges, create_ticket, update_ticket
from app.settings import Settings
from tests.conftest import Actor

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_1730 = datetime(2031, 1, 3, 17, 30, tzinfo=SHANGHAI)
t, c = tables.tickets, tables.sla_clocks
HOUR = 3600


def shanghai(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY_1730)


@pytest.fixture
def manual_rt(engine: AsyncEngine, settings: Settings, clock: ManualClock) -> Runtime:
    return Runtime(engine=engine, settings=settings, clock=clock)


async def seed_policies(rt: Runtime, admin: Actor, **vip: Any) -> tuple[int, int]:
    """The seeds' calendar and two policies; returns (VIP policy id, standard policy id)."""
    calendar = await sla.create_calendar(
        rt,
        admin.principal,
        sla.CalendarInput(
            name="Shanghai office",
            timezone="Asia/Shanghai",
            hours=[sla.HoursInput(d, "09:00", "12:00") for d in range(5)]
            + [sla.HoursInput(d, "13:00", "18:00") for d in range(5)],
            holidays=["2031-01-01"],
        ),
    )
    vip_policy = await sla.create_policy(
        rt,
        admin.principal,
        sla.PolicyInput(
            name="VIP technical faults",
            match_tiers=["VIP"],
            match_categories=["technical"],
            first_response_seconds=HOUR,
            resolution_seconds=8 * HOUR,
            warning_at_percent=80,
            calendar_id=calendar.id,
            **vip,
        ),
    )
    standard = await sla.create_policy(
        rt,
        admin.principal,
        sla.PolicyInput(name="Everyone else", first_response_seconds=4 * HOUR, resolution_seconds=48 * HOUR),
    )
    return vip_policy.id, standard.id


async def vip_customer(rt: Runtime, admin: Actor, email: str = "wang.fang@example.cn") -> int:
    customer = await create_customer(
        rt, admin.principal, CustomerInput(name="王芳", email=email, tier=CustomerTier.VIP.value)
    )
    return customer.id


async def new_ticket(rt: Runtime, admin: Actor, customer_id: int, category: str | None = "technical") -> int:
    ticket, _ = await create_ticket(
        rt,
        admin.principal,
        NewTicket(
            subject="路由器无法连接",
            description="The router drops the connection every few minutes.",
            channel=Channel.PHONE,
            customer=CustomerRef(id=customer_id),
            category=category,
        ),
    )
    return ticket.id


async def clocks_of(rt: Runtime, ticket_id: int) -> dict[tuple[str, int], Any]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(select(c).where(c.c.ticket_id == ticket_id))
        return {(row.target, row.cycle): row for row in rows}


async def sla_view(rt: Runtime, ticket_id: int) -> TicketSlaView | None:
    async with rt.engine.connect() as conn:
        return (await sla_reads.ticket_slas(conn, [ticket_id], rt.clock.now())).get(ticket_id)


async def ticket_row(rt: Runtime, ticket_id: int) -> Any:
    async with rt.engine.connect() as conn:
        return (await conn.execute(select(t).where(t.c.id == ticket_id))).one()


async def test_vip_fault_on_friday_evening_is_due_monday_morning(manual_rt: Runtime, admin: Actor) -> None:
    vip_policy, _ = await seed_policies(manual_rt, admin)
    ticket_id = await new_ticket(manual_rt, admin, await vip_customer(manual_rt, admin))
    clocks = await clocks_of(manual_rt, ticket_id)
    first = clocks[("FIRST_RESPONSE", 1)]
    assert (first.policy_id, first.state, first.target_seconds) == (vip_policy, "RUNNING", HOUR)
    # 30 minutes on Friday, 30 on Monday morning.
    assert first.due_at == shanghai(2031, 1, 6, 9, 30)
    # Warning at 80% = 48 minutes: 30 on Friday, 18 on Monday.
    assert first.warn_at == shanghai(2031, 1, 6, 9, 18)
    assert first.next_check_at == first.warn_at
    # Eight business hours: Friday 30 min, Monday 09:00-12:00 and 13:00-17:30.
    assert clocks[("RESOLUTION", 1)].due_at == shanghai(2031, 1, 6, 17, 30)
    row = await ticket_row(manual_rt, ticket_id)
    assert (row.sla_due_at, row.sla_at_risk) == (first.due_at, False)
    view = await sla_view(manual_rt, ticket_id)
    assert view is not None and view.policy.name == "VIP technical faults"
    assert view.first_response is not None and view.first_response.remaining_seconds == HOUR
    assert view.calendar is not None and view.calendar.timezone == "Asia/Shanghai"


async def test_a_ticket_no_policy_matches_has_no_clocks(manual_rt: Runtime, admin: Actor) -> None:
    await sla.create_policy(
        manual_rt, admin.principal, sla.PolicyInput(name="VIP", match_tiers=["VIP"], first_response_seconds=HOUR)
    )
    standard_customer = (await create_customer(manual_rt, admin.principal, CustomerInput(name="Li Lei"))).id
    ticket_id = await new_ticket(manual_rt, admin, standard_customer)
    assert await clocks_of(manual_rt, ticket_id) == {}
    assert await sla_view(manual_rt, ticket_id) is None
    assert (await ticket_row(manual_rt, ticket_id)).sla_due_at is None


async def test_the_first_public_agent_reply_meets_first_response(
    manual_rt: Runtime, clock: ManualClock, admin: Actor
) -> None:
    await seed_policies(manual_rt, admin)
    ticket_id = await new_ticket(manual_rt, admin, await vip_customer(manual_rt, admin))
    clock.set(shanghai(2031, 1, 6, 9, 10))
    await add_comment(manual_rt, admin.principal, ticket_id, "Checking the logs.", CommentVisibility.INTERNAL)
    assert (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)].state == "RUNNING"
    await add_customer_reply(manual_rt, admin.principal, ticket_id, "Any news?")
    assert (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)].state == "RUNNING"
    clock.set(shanghai(2031, 1, 6, 9, 20))
    await add_comment(manual_rt, admin.principal, ticket_id, "Please restart it.", CommentVisibility.PUBLIC)
    first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
    assert (first.state, first.met_at, first.elapsed_seconds, first.next_check_at) == (
        "MET",
        shanghai(2031, 1, 6, 9, 20),
        50 * 60,
        None,
    )
    view = await sla_view(manual_rt, ticket_id)
    assert view is not None and view.first_response is not None
    assert view.first_response.remaining_seconds == 10 * 60
    # The ticket is now due by its resolution clock.
    row = await ticket_row(manual_rt, ticket_id)
    assert row.sla_due_at == shanghai(2031, 1, 6, 17, 30)


async def test_pending_pauses_resolution_and_the_due_time_moves_by_the_paused_business_time(
    manual_rt: Runtime, clock: ManualClock, admin: Actor
) -> None:
    await seed_policies(manual_rt, admin)
    ticket_id = await new_ticket(manual_rt, admin, await vip_customer(manual_rt, admin))
    clock.set(shanghai(2031, 1, 6, 10, 0))
    await transition(manual_rt, admin.principal, ticket_id, Action.START)
    await transition(manual_rt, admin.principal, ticket_id, Action.SET_PENDING, reason="waiting for the model number")
    resolution = (await clocks_of(manual_rt, ticket_id))[("RESOLUTION", 1)]
    # 30 minutes on Friday + one hour on Monday.
    assert (resolution.state, resolution.elapsed_seconds, resolution.due_at) == ("PAUSED", 90 * 60, None)
    view = await sla_view(manual_rt, ticket_id)
    assert view is not None and view.resolution is not None
    assert (view.resolution.state, view.resolution.remaining_seconds) == ("PAUSED", 8 * HOUR - 90 * 60)
    # The customer answers after lunch: paused 10:00-14:00 is three business hours.
    clock.set(shanghai(2031, 1, 6, 14, 0))
    await add_customer_reply(manual_rt, admin.principal, ticket_id, "It is the AX-3000.")
    resolution = (await clocks_of(manual_rt, ticket_id))[("RESOLUTION", 1)]
    assert resolution.state == "RUNNING"
    assert resolution.due_at == shanghai(2031, 1, 7, 11, 30)  # was Monday 17:30, now three business hours later
    assert (await ticket_row(manual_rt, ticket_id)).sla_due_at == shanghai(2031, 1, 6, 9, 30)  # first response


async def test_a_reopen_starts_a_new_resolution_cycle(manual_rt: Runtime, clock: ManualClock, admin: Actor) -> None:
    await seed_policies(manual_rt, admin)
    ticket_id = await new_ticket(manual_rt, admin, await vip_customer(manual_rt, admin))
    clock.set(shanghai(2031, 1, 6, 9, 15))
    await add_comment(manual_rt, admin.principal, ticket_id, "Fixed remotely.", CommentVisibility.PUBLIC)
    await transition(manual_rt, admin.principal, ticket_id, Action.RESOLVE, resolution="Firmware updated")
    clocks = await clocks_of(manual_rt, ticket_id)
    assert clocks[("RESOLUTION", 1)].state == "MET"
    assert (await ticket_row(manual_rt, ticket_id)).sla_due_at is None
    clock.set(shanghai(2031, 1, 7, 10, 0))
    await transition(manual_rt, admin.principal, ticket_id, Action.REOPEN, reason="It happened again")
    clocks = await clocks_of(manual_rt, ticket_id)
    assert set(clocks) == {("FIRST_RESPONSE", 1), ("RESOLUTION", 1), ("RESOLUTION", 2)}
    second = clocks[("RESOLUTION", 2)]
    assert (second.state, second.elapsed_seconds, second.target_seconds) == ("RUNNING", 0, 8 * HOUR)
    # Tuesday 10:00-12:00 and 13:00-18:00 are seven hours; the eighth is Wednesday 09:00-10:00.
    assert second.due_at == shanghai(2031, 1, 8, 10, 0)
    assert clocks[("RESOLUTION", 1)].state == "MET"
    view = await sla_view(manual_rt, ticket_id)
    assert view is not None and view.resolution is not None and view.resolution.state == "RUNNING"
    assert view.first_response is not None and view.first_response.state == "MET"


async def test_a_priority_change_re_evaluates_and_keeps_the_elapsed_time(
    manual_rt: Runtime, clock: ManualClock, admin: Actor
) -> None:
    await seed_policies(manual_rt, admin)
    urgent = await sla.create_policy(
        manual_rt,
        admin.principal,
        sla.PolicyInput(name="Urgent", position=-10, match_priorities=["URGENT"], first_response_seconds=HOUR // 2),
    )
    standard_customer = (await create_customer(manual_rt, admin.principal, CustomerInput(name="Li Lei"))).id
    ticket_id = await new_ticket(manual_rt, admin, standard_customer, category="billing")
    first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
    assert (first.target_seconds, first.due_at) == (4 * HOUR, FRIDAY_1730 + timedelta(hours=4))
    clock.advance(timedelta(minutes=20))
    await update_ticket(
        manual_rt, admin.principal, ticket_id, TicketChanges(priority=TicketPriority.URGENT.value), None
    )
    clocks = await clocks_of(manual_rt, ticket_id)
    first = clocks[("FIRST_RESPONSE", 1)]
    assert (first.policy_id, first.target_seconds, first.elapsed_seconds) == (urgent.id, HOUR // 2, 20 * 60)
    assert first.due_at == FRIDAY_1730 + timedelta(minutes=30)
    # The urgent policy has no resolution target: that clock stops and keeps its time.
    resolution = clocks[("RESOLUTION", 1)]
    assert (resolution.policy_id, resolution.state, resolution.elapsed_seconds) == (None, "PAUSED", 20 * 60)
    view = await sla_view(manual_rt, ticket_id)
    assert view is not None and view.policy.name == "Urgent" and view.resolution is None


async def test_a_tier_change_re_evaluates_the_customers_open_tickets(
    manual_rt: Runtime, clock: ManualClock, admin: Actor
) -> None:
    vip_policy, standard = await seed_policies(manual_rt, admin)
    customer_id = (await create_customer(manual_rt, admin.principal, CustomerInput(name="Zhao Lei"))).id
    ticket_id = await new_ticket(manual_rt, admin, customer_id)
    assert (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)].policy_id == standard
    version = (await ticket_row(manual_rt, ticket_id)).version
    clock.advance(timedelta(minutes=10))
    await update_customer(manual_rt, admin.principal, customer_id, CustomerInput(tier=CustomerTier.VIP.value))
    first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
    assert (first.policy_id, first.elapsed_seconds) == (vip_policy, 600)
    # 10 minutes used on Friday, 20 left of Friday, the last 30 on Monday.
    assert first.due_at == shanghai(2031, 1, 6, 9, 30)
    row = await ticket_row(manual_rt, ticket_id)
    assert (row.sla_due_at, row.version) == (first.due_at, version)  # part of the customer change: no new version


async def test_policy_changes_re_evaluate_open_tickets(manual_rt: Runtime, clock: ManualClock, admin: Actor) -> None:
    vip_policy, standard = await seed_policies(manual_rt, admin)
    customer_id = (await create_customer(manual_rt, admin.principal, CustomerInput(name="Chen Jing"))).id
    ticket_ids = [await new_ticket(manual_rt, admin, customer_id, category=None) for _ in range(3)]
    clock.advance(timedelta(minutes=30))
    await sla.update_policy(
        manual_rt,
        admin.principal,
        standard,
        sla.PolicyInput(name="Everyone else", first_response_seconds=2 * HOUR, resolution_seconds=48 * HOUR),
    )
    for ticket_id in ticket_ids:
        first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
        assert (first.target_seconds, first.elapsed_seconds) == (2 * HOUR, 1800)
        assert first.due_at == FRIDAY_1730 + timedelta(hours=2)
    await sla.delete_policy(manual_rt, admin.principal, standard)
    for ticket_id in ticket_ids:
        first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
        assert (first.policy_id, first.state, first.next_check_at) == (None, "PAUSED", None)
        assert await sla_view(manual_rt, ticket_id) is None
        assert (await ticket_row(manual_rt, ticket_id)).sla_due_at is None
    async with manual_rt.engine.connect() as conn:
        assert (await conn.execute(select(tables.sla_reevaluations))).all() == []
        assert (await conn.execute(select(c.c.policy_id).where(c.c.policy_id == vip_policy))).all() == []


async def test_a_large_re_evaluation_is_handed_to_the_scheduler(
    manual_rt: Runtime, clock: ManualClock, admin: Actor, settings: Settings
) -> None:
    customer_id = (await create_customer(manual_rt, admin.principal, CustomerInput(name="Sun Li"))).id
    async with manual_rt.transaction() as tx:
        rows = await tx.conn.execute(
            insert(t)
            .values(
                [
                    {"subject": f"#{i}", "description": "d", "channel": "EMAIL", "customer_id": customer_id}
                    for i in range(sla.REEVALUATION_BATCH + 20)
                ]
            )
            .returning(t.c.id)
        )
        ticket_ids = sorted(rows.scalars())
    small = Runtime(
        engine=manual_rt.engine,
        settings=settings.model_copy(update={"sla_reevaluate_inline": 10}),
        clock=clock,
    )
    await sla.create_policy(small, admin.principal, sla.PolicyInput(name="All", first_response_seconds=HOUR))
    # The request did one batch, then handed the rest over.
    async with manual_rt.engine.connect() as conn:
        job = (await conn.execute(select(tables.sla_reevaluations))).one()
        counted = (await conn.execute(select(c.c.ticket_id))).scalars().all()
    assert job.after_ticket_id == ticket_ids[sla.REEVALUATION_BATCH - 1]
    assert job.scheduler_from <= clock.now()
    assert len(counted) == sla.REEVALUATION_BATCH
    # A scheduler picks it up.
    assert await sla.reevaluate_step(manual_rt) == 20
    assert await sla.reevaluate_step(manual_rt) is None
    async with manual_rt.engine.connect() as conn:
        assert len((await conn.execute(select(c.c.ticket_id))).scalars().all()) == len(ticket_ids)


async def test_calendar_and_policy_input_is_validated(manual_rt: Runtime, admin: Actor) -> None:
    from app.domain.errors import NotFound, ValidationErrors

    with pytest.raises(ValidationErrors) as caught:
        await sla.create_calendar(
            manual_rt,
            admin.principal,
            sla.CalendarInput(
                name=" ",
                timezone="Mars/Olympus",
                hours=[
                    sla.HoursInput(7, "09:00", "18:00"),
                    sla.HoursInput(0, "9:00", "18:00"),
                    sla.HoursInput(1, "18:00", "09:00"),
                    sla.HoursInput(2, "09:00", "12:00"),
                    sla.HoursInput(2, "11:00", "14:00"),
                ],
                holidays=["2031-13-01", "01/01/2031"],
            ),
        )
    assert [e.field for e in caught.value.errors] == [
        ["input", "name"],
        ["input", "timezone"],
        ["input", "hours", "0", "weekday"],
        ["input", "hours", "1", "start"],
        ["input", "hours", "2", "end"],
        ["input", "hours", "4"],
        ["input", "holidays", "0"],
        ["input", "holidays", "1"],
    ]
    with pytest.raises(ValidationErrors) as caught:
        await sla.create_policy(manual_rt, admin.principal, sla.PolicyInput(name="x", warning_at_percent=100))
    assert [e.field for e in caught.value.errors] == [["input"], ["input", "warningAtPercent"]]
    with pytest.raises(NotFound):
        await sla.create_policy(
            manual_rt, admin.principal, sla.PolicyInput(name="x", first_response_seconds=60, calendar_id=999)
        )
    with pytest.raises(NotFound):
        await sla.create_policy(
            manual_rt, admin.principal, sla.PolicyInput(name="x", first_response_seconds=60, match_group_ids=[999])
        )
    async with manual_rt.engine.connect() as conn:
        assert (await conn.execute(select(tables.sla_policies))).all() == []


async def _plan_of_ticket_list(rt: Runtime, admin: Actor, f: TicketFilter, order: TicketOrder) -> str:
    """EXPLAIN of the very statement `list_tickets` sends (captured, then explained with its parameters)."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, parameters))

    async with rt.engine.connect() as conn:
        await conn.execute(text("ANALYZE tickets"))
        event.listen(conn.sync_connection, "before_cursor_execute", capture)
        try:
            await list_tickets(conn, admin.principal, f, order, 20, None)
        finally:
            event.remove(conn.sync_connection, "before_cursor_execute", capture)
        (statement, parameters), *_ = sent
        await conn.execute(text("SET enable_seqscan = off"))
        plan = (await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)).scalars().all()
        await conn.execute(text("RESET enable_seqscan"))
    return "\n".join(plan)


async def test_the_at_risk_filter_and_the_due_order_use_their_indexes(manual_rt: Runtime, admin: Actor) -> None:
    await seed_policies(manual_rt, admin)
    customer_id = await vip_customer(manual_rt, admin)
    for _ in range(3):
        await new_ticket(manual_rt, admin, customer_id)
    at_risk = await _plan_of_ticket_list(manual_rt, admin, TicketFilter(sla_at_risk=True), TicketOrder())
    assert "ix_tickets_sla_at_risk" in at_risk, at_risk
    indexes = {OrderDirection.ASC: "ix_tickets_sla_order_asc", OrderDirection.DESC: "ix_tickets_sla_order_desc"}
    for direction, index in indexes.items():
        plan = await _plan_of_ticket_list(
            manual_rt, admin, TicketFilter(), TicketOrder(TicketOrderField.SLA_DUE_AT, direction)
        )
        assert index in plan, plan
        assert "Sort" not in plan, plan  # the index gives the order: a page reads only its rows
