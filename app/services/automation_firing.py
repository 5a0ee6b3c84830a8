"""Firing one automation on one ticket: the run row that makes it once per (automation,
triggering event), the actions as the system with a savepoint each, AUTOMATION_APPLIED with every
outcome, and the counters. Used by the event consumer (app.services.automation_runner) and the
TIME_IN_STATUS timers (app.services.automation_timers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import tables
from app.domain.automations import MAX_DEPTH
from app.domain.enums import TicketEventType
from app.domain.global_ids import encode
from app.domain.records import AutomationRecord, TicketEventRecord, TicketRecord
from app.domain.ticket_actions import from_stored
from app.events.outbox import Outbox
from app.services.runtime import Runtime
from app.services.ticket_actions import ActionRun, action_limits, run_actions
from app.services.ticket_changes import SYSTEM, record

au, ar, cu = tables.automations, tables.automation_runs, tables.customers


async def claim_run(tx: Outbox, automation_id: int, event_id: int) -> bool:
    """The (automation, event) row; False when it exists already (the run happened)."""
    inserted = await tx.conn.scalar(
        pg_insert(ar)
        .values(automation_id=automation_id, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(ar.c.automation_id)
    )
    return inserted is not None


async def customer_tier(tx: Outbox, ticket: TicketRecord) -> str:
    return str(await tx.conn.scalar(select(cu.c.tier).where(cu.c.id == ticket.customer_id)))


async def fire_automation(
    rt: Runtime,
    tx: Outbox,
    event: TicketEventRecord,
    automation: AutomationRecord,
    ticket: TicketRecord,
    parent: TicketRecord | None,
    depth: int,
) -> TicketRecord:
    """Runs one automation's actions on the locked ticket and records AUTOMATION_APPLIED."""
    now = rt.clock.now()
    limits = action_limits(rt.settings)
    gid = encode("Automation", automation.id)
    run = ActionRun(None, SYSTEM, "AUTOMATION", f"Automation: {automation.name}", limits)
    tx.stamp = {"automationId": gid, "automationDepth": depth}
    try:
        result = await run_actions(tx, ticket, parent, from_stored(automation.actions, limits), run, now, isolate=True)
        data: dict[str, Any] = {
            "name": automation.name,
            "trigger": automation.trigger,
            "triggerEventId": encode("TicketEvent", event.id),
            "actions": [
                {"type": o.type.value, "applied": o.applied}
                | ({"code": o.code.value if o.code else None, "reason": o.reason} if not o.applied else {})
                for o in result.outcomes
            ],
        }
        if depth >= MAX_DEPTH:
            data["stopped"] = "depth"  # the events of this run fire no automation
        await record(tx, result.ticket, TicketEventType.AUTOMATION_APPLIED, SYSTEM, now, data)
    finally:
        tx.stamp = {}
    await tx.conn.execute(
        update(au).where(au.c.id == automation.id).values(fired_count=au.c.fired_count + 1, last_fired_at=now)
    )
    return result.ticket
