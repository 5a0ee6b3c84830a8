"""Firing automations on events: the "automations" event-log consumer
(app.services.event_consumers), one reader at a time across processes, in log order, after the
triggering change committed.

For each event that is a trigger (app.domain.automations.trigger_of), the enabled automations
of that trigger run in position order against the ticket as it is now: conditions checked,
then a row in automation_runs (primary key (automation, event): never twice, whatever happens),
then the actions as the system through app.services.ticket_actions with a savepoint each (a
refused action is an outcome with its reason; the others still run), then AUTOMATION_APPLIED
with every outcome. The events the actions write carry the automation's id and depth (the loop
guard). `stopProcessing` ends the run for that event. Everything commits with the consumer's
position: a crash before leaves the event to be handled again, a crash after leaves it done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import tables
from app.db.repositories.automations import enabled_automations
from app.domain import automation_conditions as conditions
from app.domain.automations import MAX_DEPTH, cause_of, may_fire, trigger_of
from app.domain.enums import AutomationTrigger, TicketEventType
from app.domain.enums import AutomationTrigger as Trigger
from app.domain.errors import NotFound
from app.domain.global_ids import encode
from app.domain.records import AutomationRecord, TicketEventRecord, TicketRecord
from app.domain.ticket_actions import from_stored
from app.events.outbox import Outbox
from app.services.event_consumers import Handler, consumer_loop
from app.services.lifecycle import lock_with_parent
from app.services.runtime import Runtime
from app.services.ticket_actions import ActionRun, action_limits, run_actions
from app.services.ticket_changes import SYSTEM, record

log = logging.getLogger("helpdesk.automations")
CONSUMER = "automations"
EVENT_TRIGGERS = tuple(t.value for t in AutomationTrigger if t is not AutomationTrigger.TIME_IN_STATUS)
au, ar, cu, te = tables.automations, tables.automation_runs, tables.customers, tables.ticket_events


async def _claim(tx: Outbox, automation_id: int, event_id: int) -> bool:
    """The (automation, event) row; False when it exists already (the run happened)."""
    inserted = await tx.conn.scalar(
        pg_insert(ar)
        .values(automation_id=automation_id, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(ar.c.automation_id)
    )
    return inserted is not None


async def _status_at(tx: Outbox, event: TicketEventRecord) -> str | None:
    """The status conditions read when the event is about one; else None (the ticket's status
    now). STATUS_CHANGED: the status it moved to (a later change must not hide it). A customer's
    reply: the status replied to, since the reply itself moves PENDING to OPEN (and reopens a
    RESOLVED ticket) in its transaction: "customer replied on a PENDING ticket"."""
    trigger = trigger_of(event)
    if trigger is Trigger.STATUS_CHANGED:
        moved_to = event.data.get("to")
        return moved_to if isinstance(moved_to, str) else None
    if trigger is not Trigger.CUSTOMER_REPLIED:
        return None
    moved = await tx.conn.scalar(
        select(te.c.data["from"].astext).where(
            te.c.txid == event.txid,
            te.c.ticket_id == event.ticket_id,
            te.c.type == TicketEventType.STATUS_CHANGED.value,
            te.c.data["reason"].astext == "CUSTOMER_REPLY",
            te.c.id < event.id,
        )
    )
    return str(moved) if moved else None


async def _tier(tx: Outbox, ticket: TicketRecord) -> str:
    return str(await tx.conn.scalar(select(cu.c.tier).where(cu.c.id == ticket.customer_id)))


async def _fire(
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


@dataclass(frozen=True, slots=True)
class _Rule:
    automation: AutomationRecord
    conditions: list[conditions.Condition]


async def _handle_event(rt: Runtime, tx: Outbox, event: TicketEventRecord, rules: Sequence[_Rule]) -> None:
    cause = cause_of(event.data)
    candidates = [r for r in rules if may_fire(r.automation.id, cause)]
    if not candidates:
        return
    try:
        ticket, parent = await lock_with_parent(tx, None, event.ticket_id)
    except NotFound:
        return  # the ticket is gone (merged away or erased): nothing to act on
    tier = await _tier(tx, ticket)
    status = await _status_at(tx, event)
    for rule in candidates:
        automation = rule.automation
        seen = replace(ticket, status=status) if status else ticket
        if not conditions.all_hold(rule.conditions, conditions.TicketFacts(seen, tier)):
            continue
        if not await _claim(tx, automation.id, event.id):
            continue
        written = len(tx.events)
        try:
            async with tx.conn.begin_nested():
                ticket = await _fire(rt, tx, event, automation, ticket, parent, cause.depth + 1)
        except Exception:  # one automation's failure must not stop the others, nor the log
            del tx.events[written:]
            log.exception("automation %s failed on event %s", automation.id, event.id)
            continue
        if automation.stop_processing:
            break


def automations_handler(rt: Runtime) -> Handler:
    """The consumer's handler: the batch's trigger events, each with the automations of its trigger."""

    async def handle(tx: Outbox, events: Sequence[TicketEventRecord]) -> None:
        triggered = [(e, trigger) for e in events if (trigger := trigger_of(e)) is not None]
        if not triggered:
            return
        by_trigger: dict[str, list[_Rule]] = {}
        for automation in await enabled_automations(tx.conn, EVENT_TRIGGERS):
            rule = _Rule(automation, conditions.from_stored(automation.conditions))
            by_trigger.setdefault(automation.trigger, []).append(rule)
        for event, trigger in triggered:
            if by_trigger.get(trigger.value):
                await _handle_event(rt, tx, event, by_trigger[trigger.value])

    return handle


async def automations_loop(rt: Runtime) -> None:
    """Runs the automations consumer until cancelled."""
    await consumer_loop(rt, CONSUMER, automations_handler(rt))
