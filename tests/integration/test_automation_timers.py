"""TIME_IN_STATUS timers: due in business time on the ticket's SLA calendar (else wall clock),
fired once per stint, dropped when the stint ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.clock import ManualClock
from app.db import tables
from app.domain.automations import AutomationInput
from app.domain.business_time import add_business_seconds
from app.domain.enums import AgentRole, AutomationActionType, AutomationTrigger, Channel, TicketStatus
from app.domain.principal import Principal
from app.domain.records import BusinessCalendarRecord
from app.domain.sla import calendar_of
from app.domain.ticket_actions import ActionInput
from app.services import agents as agent_service
from app.services import automation_timers, automations, sla
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime

# A Monday evening in Shanghai: the calendar's day is over, so business time starts next morning.
MONDAY_EVENING = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 19:00 in Asia/Shanghai


async def _setup(rt: Runtime, with_calendar: bool) -> tuple[Principal, int]:
    agent = await agent_service.create_agent(
        rt, None, agent_service.NewAgent("a", "a@example.com", "pw-123456789", AgentRole.ADMIN)
    )
    admin = Principal(agent_id=agent.id, role=AgentRole.ADMIN)
    if with_calendar:
        hours = [sla.HoursInput(day, "09:00", "18:00") for day in range(5)]
        calendar = await sla.create_calendar(rt, admin, sla.CalendarInput("工作日", "Asia/Shanghai", hours))
        await sla.create_policy(
            rt, admin, sla.PolicyInput(name="all", first_response_seconds=3600, calendar_id=calendar.id)
        )
    ticket, _ = await ticket_service.create_ticket(
        rt, admin, ticket_service.NewTicket("order", "text", Channel.API, CustomerRef(email="c@example.cn"))
    )
    rule = AutomationInput(
        name="unhandled",
        trigger=AutomationTrigger.TIME_IN_STATUS,
        status=TicketStatus.NEW,
        after_seconds=2 * 3600,
        actions=[ActionInput(AutomationActionType.ADD_TAGS, {"tags": ["overdue"]})],
    )
    await automations.create_automation(rt, admin, rule)
    return admin, ticket.id


async def _due(rt: Runtime) -> list[datetime]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(select(tables.automation_timers.c.due_at))).scalars())


async def test_the_interval_is_business_time_on_the_tickets_sla_calendar(rt: Runtime) -> None:
    clocked = Runtime(engine=rt.engine, settings=rt.settings, clock=ManualClock(MONDAY_EVENING))
    await _setup(clocked, with_calendar=True)
    async with rt.engine.connect() as conn:
        record = (await conn.execute(select(tables.business_calendars))).one()
    calendar = calendar_of(
        BusinessCalendarRecord(record.id, record.name, record.timezone, record.hours, record.holidays)
    )
    # Tuesday 09:00 + 2 business hours = Tuesday 11:00 Shanghai.
    assert await _due(clocked) == [add_business_seconds(MONDAY_EVENING, 7200, calendar)]
    assert await _due(clocked) == [datetime(2026, 12, 8, 3, 0, tzinfo=UTC)]


async def test_without_a_calendar_it_is_wall_clock_and_fires_once_per_stint(rt: Runtime) -> None:
    clock = ManualClock(MONDAY_EVENING)
    clocked = Runtime(engine=rt.engine, settings=rt.settings, clock=clock)
    admin, ticket = await _setup(clocked, with_calendar=False)
    assert await _due(clocked) == [MONDAY_EVENING + timedelta(hours=2)]

    clock.advance(timedelta(hours=1, minutes=59))
    assert await automation_timers.fire_due(clocked) == 0
    clock.advance(timedelta(minutes=1))
    assert await automation_timers.fire_due(clocked) == 1
    assert await automation_timers.fire_due(clocked) == 0
    async with rt.engine.connect() as conn:
        tags = await conn.scalar(select(tables.tickets.c.tags).where(tables.tickets.c.id == ticket))
        fired = await conn.scalar(select(tables.automations.c.fired_count))
    assert (tags, fired) == (["overdue"], 1)

    # Saving it again schedules nothing for the stint it already fired on.
    await automations.update_automation(
        clocked,
        admin,
        (await automations.list_automations(clocked, admin))[0].id,
        AutomationInput(
            name="unhandled",
            trigger=AutomationTrigger.TIME_IN_STATUS,
            status=TicketStatus.NEW,
            after_seconds=60,
            actions=[ActionInput(AutomationActionType.ADD_TAGS, {"tags": ["overdue"]})],
        ),
    )
    assert await _due(clocked) == []
