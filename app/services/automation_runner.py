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

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from app.db import tables
from app.db.repositories.automations import enabled_automations
from app.domain import automation_conditions as conditions
from app.domain.automations import cause_of, may_fire, trigger_of
from app.domain.enums import AutomationTrigger, TicketEventType
from app.domain.enums import AutomationTrigger as Trigger
from app.domain.errors import NotFound
from app.domain.records import AutomationRecord, TicketEventRecord
from app.events.outbox import Outbox
from app.services.automation_firing import claim_run, customer_tier, fire_automation
from app.services.automation_timers import schedule_from_events, timers_loop
from app.services.event_consumers import Handler, consumer_loop
from app.services.lifecycle import lock_with_parent
from app.services.runtime import Runtime

log = logging.getLogger("helpdesk.automations")
CONSUMER = "automations"
EVENT_TRIGGERS = tuple(t.value for t in AutomationTrigger if t is not AutomationTrigger.TIME_IN_STATUS)
au, ar, cu, te = tables.automations, tables.automation_runs, tables.customers, tables.ticket_events


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


@dataclass(frozen=True, slots=True)
class _Rule:
    automation: AutomationRecord
    conditions: list[conditions.Condition]

    @property
    def reads_tier(self) -> bool:
        return any(c.field == "customer.tier" for c in self.conditions)


async def _handle_event(rt: Runtime, tx: Outbox, event: TicketEventRecord, rules: Sequence[_Rule]) -> None:
    cause = cause_of(event.data)
    candidates = [r for r in rules if may_fire(r.automation.id, cause)]
    if not candidates:
        return
    try:
        ticket, parent = await lock_with_parent(tx, None, event.ticket_id)
    except NotFound:
        return  # the ticket is gone (merged away or erased): nothing to act on
    # Read only when a condition asks for it.
    tier = await customer_tier(tx, ticket) if any(r.reads_tier for r in candidates) else ""
    status = await _status_at(tx, event)
    for rule in candidates:
        automation = rule.automation
        seen = replace(ticket, status=status) if status else ticket
        if not conditions.all_hold(rule.conditions, conditions.TicketFacts(seen, tier)):
            continue
        if not await claim_run(tx, automation.id, event.id):
            continue
        written = len(tx.events)
        try:
            async with tx.conn.begin_nested():
                ticket = await fire_automation(rt, tx, event, automation, ticket, parent, cause.depth + 1)
        except Exception:  # one automation's failure must not stop the others, nor the log
            del tx.events[written:]
            log.exception("automation %s failed on event %s", automation.id, event.id)
            continue
        if automation.stop_processing:
            break


def automations_handler(rt: Runtime) -> Handler:
    """The consumer's handler: the batch's trigger events, each with the automations of its trigger."""

    # Decoded conditions by automation, kept while the automation is unchanged.
    decoded: dict[int, tuple[datetime, list[conditions.Condition]]] = {}

    def rule_of(automation: AutomationRecord) -> _Rule:
        known = decoded.get(automation.id)
        if known is None or known[0] != automation.updated_at:
            known = decoded[automation.id] = (automation.updated_at, conditions.from_stored(automation.conditions))
        return _Rule(automation, known[1])

    async def handle(tx: Outbox, events: Sequence[TicketEventRecord]) -> None:
        await schedule_from_events(tx, events)
        triggered = [(e, trigger) for e in events if (trigger := trigger_of(e)) is not None]
        if not triggered:
            return
        by_trigger: dict[str, list[_Rule]] = {}
        enabled = await enabled_automations(tx.conn, EVENT_TRIGGERS)
        for automation in enabled:
            by_trigger.setdefault(automation.trigger, []).append(rule_of(automation))
        for gone in decoded.keys() - {a.id for a in enabled}:
            del decoded[gone]
        for event, trigger in triggered:
            if by_trigger.get(trigger.value):
                await _handle_event(rt, tx, event, by_trigger[trigger.value])

    return handle


async def automations_loop(rt: Runtime) -> None:
    """The automations consumer and the TIME_IN_STATUS timers, until cancelled."""
    await asyncio.gather(consumer_loop(rt, CONSUMER, automations_handler(rt)), timers_loop(rt))
