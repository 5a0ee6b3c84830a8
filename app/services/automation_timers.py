"""TIME_IN_STATUS: "the ticket has been in `status` for `afterSeconds`", like the SLA scheduler.

A stint in a status is named by the event that began it (CREATED for NEW, STATUS_CHANGED
otherwise). For each enabled TIME_IN_STATUS automation of that status, `automation_timers`
holds the stint's due time: `afterSeconds` of business time on the ticket's SLA calendar when
it has one (app.domain.business_time), else wall-clock seconds. Timers are written by the
automations consumer as it reads the log (`schedule_from_events`, which also drops the timers
of a stint a status change ended) and, for tickets already in the status, when an automation is
saved (`reschedule`).

`fire_due` claims due timers with SKIP LOCKED (any number of processes), deletes each, and fires
the automation if the ticket is still in that very stint and the conditions hold; the run row
(automation, stint's event) makes it once per stint whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.automations import AUTOMATION_COLUMNS, automation_by_id
from app.db.repositories.rows import columns_for, to_records
from app.domain import automation_conditions as conditions
from app.domain.automations import entered_status
from app.domain.business_time import BusinessCalendar, add_business_seconds
from app.domain.enums import AutomationTrigger, TicketEventType, TicketStatus
from app.domain.errors import NotFound
from app.domain.records import AutomationRecord, BusinessCalendarRecord, TicketEventRecord
from app.domain.sla import calendar_of
from app.events.outbox import Outbox
from app.services.automation_firing import claim_run, customer_tier, fire_automation
from app.services.lifecycle import lock_with_parent
from app.services.runtime import Runtime

log = logging.getLogger("helpdesk.automations.timers")
at_, au, te, t = tables.automation_timers, tables.automations, tables.ticket_events, tables.tickets
sc, sp, bc = tables.sla_clocks, tables.sla_policies, tables.business_calendars
BATCH = 100
TIME_IN_STATUS = AutomationTrigger.TIME_IN_STATUS.value


async def _calendar(conn: AsyncConnection, ticket_id: int) -> BusinessCalendar | None:
    """The business calendar of the ticket's SLA policy, if it has one."""
    row = (
        await conn.execute(
            select(bc.c.id, bc.c.name, bc.c.timezone, bc.c.hours, bc.c.holidays)
            .select_from(sc.join(sp, sp.c.id == sc.c.policy_id).join(bc, bc.c.id == sp.c.calendar_id))
            .where(sc.c.ticket_id == ticket_id)
            .order_by(sc.c.id.desc())
            .limit(1)
        )
    ).first()
    return calendar_of(BusinessCalendarRecord(*row)) if row else None


async def _time_automations(conn: AsyncConnection) -> list[AutomationRecord]:
    query = select(*AUTOMATION_COLUMNS).where(au.c.enabled, au.c.trigger == TIME_IN_STATUS)
    return to_records(AutomationRecord, await conn.execute(query))


async def _add_timers(
    conn: AsyncConnection, automations: Sequence[AutomationRecord], ticket_id: int, event_id: int, began: datetime
) -> None:
    calendar = await _calendar(conn, ticket_id)
    rows = [
        {
            "automation_id": a.id,
            "event_id": event_id,
            "ticket_id": ticket_id,
            "due_at": add_business_seconds(began, a.after_seconds or 0, calendar),
        }
        for a in automations
    ]
    if rows:
        await conn.execute(pg_insert(at_).values(rows).on_conflict_do_nothing())


async def schedule_from_events(tx: Outbox, events: Sequence[TicketEventRecord]) -> None:
    """For the consumer's batch, in log order: a status change ends the ticket's earlier stints
    (their timers go); entering a status starts timers for the automations of that status."""
    entering = [(e, status) for e in events if (status := entered_status(e)) is not None]
    if not entering:
        return
    by_status: dict[str, list[AutomationRecord]] = {}
    for automation in await _time_automations(tx.conn):
        by_status.setdefault(str(automation.status), []).append(automation)
    for event, status in entering:
        if event.type == TicketEventType.STATUS_CHANGED.value:
            await tx.conn.execute(delete(at_).where(at_.c.ticket_id == event.ticket_id, at_.c.event_id < event.id))
        if by_status.get(status):
            await _add_timers(tx.conn, by_status[status], event.ticket_id, event.id, event.occurred_at)


async def reschedule(tx: Outbox, automation: AutomationRecord) -> None:
    """After an automation is saved: its timers, anew, for the tickets in its status now (their
    stints began at the event that brought them there)."""
    await tx.conn.execute(delete(at_).where(at_.c.automation_id == automation.id))
    if automation.trigger != TIME_IN_STATUS or not automation.enabled or automation.status is None:
        return
    began = and_(te.c.type == TicketEventType.STATUS_CHANGED.value, te.c.data["to"].astext == automation.status)
    if automation.status == TicketStatus.NEW.value:
        began = or_(began, te.c.type == TicketEventType.CREATED.value)
    stints = await tx.conn.execute(
        select(te.c.ticket_id, te.c.id, te.c.occurred_at)
        .select_from(te.join(t, t.c.id == te.c.ticket_id))
        .where(t.c.status == automation.status, began)
        .ext(distinct_on(te.c.ticket_id))
        .order_by(te.c.ticket_id, te.c.id.desc())
    )
    ar = tables.automation_runs
    for stint in stints.all():
        ran = await tx.conn.scalar(
            select(exists().where(ar.c.automation_id == automation.id, ar.c.event_id == stint.id))
        )
        if not ran:
            await _add_timers(tx.conn, [automation], stint.ticket_id, stint.id, stint.occurred_at)


async def _still_in_stint(tx: Outbox, ticket_id: int, event_id: int) -> bool:
    """No status change since the event that began the stint (the ticket is locked)."""
    later = await tx.conn.scalar(
        select(
            exists().where(
                te.c.ticket_id == ticket_id, te.c.id > event_id, te.c.type == TicketEventType.STATUS_CHANGED.value
            )
        )
    )
    return not later


async def fire_due(rt: Runtime, limit: int = BATCH) -> int:
    """Fires the timers due now (SKIP LOCKED: another process's are left to it); returns how many
    were claimed."""
    now = rt.clock.now()
    async with rt.transaction() as tx:
        due = (
            await tx.conn.execute(
                select(at_.c.automation_id, at_.c.event_id, at_.c.ticket_id)
                .where(at_.c.due_at <= now)
                .order_by(at_.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for timer in due:
            await tx.conn.execute(
                delete(at_).where(at_.c.automation_id == timer.automation_id, at_.c.event_id == timer.event_id)
            )
            written = len(tx.events)
            try:
                async with tx.conn.begin_nested():
                    await _fire_timer(rt, tx, timer.automation_id, timer.event_id, timer.ticket_id)
            except Exception:  # one timer's failure must not keep the others
                del tx.events[written:]
                log.exception("automation %s failed on the stint of event %s", timer.automation_id, timer.event_id)
    return len(due)


async def _fire_timer(rt: Runtime, tx: Outbox, automation_id: int, event_id: int, ticket_id: int) -> None:
    automation = await automation_by_id(tx.conn, automation_id)
    if automation is None or not automation.enabled or automation.trigger != TIME_IN_STATUS:
        return
    try:
        ticket, parent = await lock_with_parent(tx, None, ticket_id)
    except NotFound:
        return
    if ticket.status != automation.status or not await _still_in_stint(tx, ticket_id, event_id):
        return
    facts = conditions.TicketFacts(ticket, await customer_tier(tx, ticket))
    if not conditions.all_hold(conditions.from_stored(automation.conditions), facts):
        return
    if not await claim_run(tx, automation.id, event_id):
        return
    stint = await tx.conn.execute(select(*columns_for(te, TicketEventRecord)).where(te.c.id == event_id))
    await fire_automation(rt, tx, TicketEventRecord(*stint.one()), automation, ticket, parent, 1)


async def timers_loop(rt: Runtime) -> None:
    """Fires due timers until cancelled: batch after batch while there are some, else a look
    every HELPDESK_EVENT_POLL_SECONDS."""
    while True:
        try:
            if await fire_due(rt):
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("automation timers: a batch failed")
        await asyncio.sleep(rt.settings.event_poll_seconds)
