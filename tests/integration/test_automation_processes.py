"""Automations across processes: a `helpdesk serve` and two `helpdesk worker` processes all run
the automations consumer and the TIME_IN_STATUS timers on one database; every automation fires
exactly once per triggering event (and once per stint), whoever got there first.

The processes run against a database of their own, so no other test's server joins in.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from app.db import tables
from app.domain.automation_conditions import ConditionInput
from app.domain.automations import AutomationInput
from app.domain.enums import AutomationActionType, AutomationTrigger, Channel, ConditionOperator, TicketStatus
from app.domain.ticket_actions import ActionInput
from app.services import automations, event_consumers
from app.services import tickets as ticket_service
from app.services.automation_runner import CONSUMER
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from tests.integration.test_mail_sender_processes import BOUND, admin, own_database, runtime, workers
from tests.processes import running_servers

__all__ = ["own_database"]
TICKETS = 12


async def _settled(rt: Runtime) -> None:
    """The consumer is at the end of the log and no timer is left."""
    te, timers = tables.ticket_events, tables.automation_timers
    async with asyncio.timeout(BOUND):
        while True:
            async with rt.engine.connect() as conn:
                last = (
                    await conn.execute(select(te.c.txid, te.c.id).order_by(te.c.txid.desc(), te.c.id.desc()).limit(1))
                ).one()
                at = await event_consumers.position(conn, CONSUMER)
                waiting = await conn.scalar(select(func.count()).select_from(timers))
            if at is not None and (at.txid, at.id) >= (last.txid, last.id) and waiting == 0:
                return
            await asyncio.sleep(0.2)


def _rule(name: str, trigger: AutomationTrigger, actions: list[ActionInput], **extra: object) -> AutomationInput:
    return AutomationInput(name=name, trigger=trigger, actions=actions, **extra)  # type: ignore[arg-type]


async def test_each_automation_fires_once_per_event_with_two_workers_and_the_server(own_database: str) -> None:
    with running_servers(own_database, count=1, extra_env={"HELPDESK_EVENT_POLL_SECONDS": "0.2"}):
        async with runtime(own_database) as rt:
            who = await admin(rt)
            with workers(own_database, 2):
                tag = ActionInput(AutomationActionType.ADD_TAGS, {"tags": ["seen"]})
                await automations.create_automation(rt, who, _rule("created", AutomationTrigger.TICKET_CREATED, [tag]))
                seen = ConditionInput("tags", ConditionOperator.CONTAINS, "seen")
                category = ActionInput(AutomationActionType.SET_CATEGORY, {"category": "triaged"})
                await automations.create_automation(
                    rt, who, _rule("updated", AutomationTrigger.TICKET_UPDATED, [category], conditions=[seen])
                )
                late = ActionInput(AutomationActionType.ADD_INTERNAL_NOTE, {"body": "#{{ticket.number}} is late"})
                await automations.create_automation(
                    rt,
                    who,
                    _rule("timed", AutomationTrigger.TIME_IN_STATUS, [late], status=TicketStatus.NEW, after_seconds=1),
                )
                for n in range(TICKETS):
                    await ticket_service.create_ticket(
                        rt,
                        who,
                        ticket_service.NewTicket(
                            f"order {n}", "text", Channel.API, CustomerRef(email=f"c{n}@example.cn")
                        ),
                    )
                await _settled(rt)

        te = tables.ticket_events
        async with rt.engine.connect() as conn:
            rows = (await conn.execute(select(te.c.data).where(te.c.type == "AUTOMATION_APPLIED"))).scalars().all()
            fired = dict(
                (await conn.execute(select(tables.automations.c.name, tables.automations.c.fired_count))).all()
            )
    runs = Counter((d["name"], d["triggerEventId"]) for d in rows)
    assert runs and max(runs.values()) == 1
    by_name = Counter(d["name"] for d in rows)
    # created: each CREATED; timed: each ticket's NEW stint; updated: the first UPDATED that
    # brought the tag (its own category change never triggers it again).
    assert by_name == {"created": TICKETS, "timed": TICKETS, "updated": TICKETS}
    assert fired == {"created": TICKETS, "timed": TICKETS, "updated": TICKETS}
