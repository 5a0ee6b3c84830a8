"""Automations: a trigger, conditions and actions, checked when saved; which trigger an event is;
where a stint in a status begins (TIME_IN_STATUS); and the loop guard.

Loop guard: every event an automation's actions write carries `automationId` (its global id)
and `automationDepth` (how many automations led to it, 1 for the first). An automation never
fires on an event it caused itself, and an event at depth MAX_DEPTH fires nothing: the run that
wrote it says `"stopped": "depth"` in its AUTOMATION_APPLIED data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain import validation as v
from app.domain.automation_conditions import Condition, ConditionInput, clean_conditions
from app.domain.enums import AutomationTrigger, CommentVisibility, TicketEventType, TicketStatus
from app.domain.global_ids import decode_as
from app.domain.records import TicketEventRecord
from app.domain.ticket_actions import ActionInput, TicketAction, clean_actions

Trigger = AutomationTrigger
MAX_DEPTH = 5
# Time triggers wait at most a year.
MAX_AFTER_SECONDS = 366 * 24 * 3600
MAX_POSITION = 1_000_000

_TRIGGER_OF_TYPE: dict[str, AutomationTrigger] = {
    TicketEventType.CREATED.value: Trigger.TICKET_CREATED,
    TicketEventType.UPDATED.value: Trigger.TICKET_UPDATED,
    TicketEventType.PRIORITY_CHANGED.value: Trigger.TICKET_UPDATED,
    # FIELD_CHANGED (custom fields) counts as TICKET_UPDATED too once it exists.
    "FIELD_CHANGED": Trigger.TICKET_UPDATED,
    TicketEventType.STATUS_CHANGED.value: Trigger.STATUS_CHANGED,
    TicketEventType.SLA_WARNING.value: Trigger.SLA_WARNING,
    TicketEventType.SLA_BREACHED.value: Trigger.SLA_BREACHED,
}


@dataclass(frozen=True, slots=True)
class AutomationInput:
    name: str
    trigger: AutomationTrigger
    actions: Sequence[ActionInput]
    conditions: Sequence[ConditionInput] = ()
    enabled: bool = True
    position: int | None = None
    status: TicketStatus | None = None
    after_seconds: int | None = None
    stop_processing: bool = False


@dataclass(frozen=True, slots=True)
class CleanAutomation:
    name: str
    trigger: AutomationTrigger
    actions: list[TicketAction]
    conditions: list[Condition]
    enabled: bool
    position: int | None
    status: TicketStatus | None
    after_seconds: int | None
    stop_processing: bool


def clean_automation(data: AutomationInput, limits: v.TextLimits) -> CleanAutomation:
    """The automation with every problem at its input path; TIME_IN_STATUS needs `status` and
    `afterSeconds`, other triggers take neither."""
    problems = v.Problems()
    name = v.required_text(problems, data.name, ["input", "name"], 200)
    if data.position is not None and not 0 <= data.position <= MAX_POSITION:
        problems.add(f"must be between 0 and {MAX_POSITION}", ["input", "position"])
    if data.trigger is Trigger.TIME_IN_STATUS:
        if data.status is None:
            problems.add("TIME_IN_STATUS needs the status", ["input", "status"])
        elif data.status is TicketStatus.CLOSED:
            problems.add("a CLOSED ticket never changes again; choose another status", ["input", "status"])
        if data.after_seconds is None or not 1 <= data.after_seconds <= MAX_AFTER_SECONDS:
            problems.add(f"TIME_IN_STATUS needs afterSeconds from 1 to {MAX_AFTER_SECONDS}", ["input", "afterSeconds"])
    else:
        if data.status is not None:
            problems.add("only for TIME_IN_STATUS", ["input", "status"])
        if data.after_seconds is not None:
            problems.add("only for TIME_IN_STATUS", ["input", "afterSeconds"])
    conditions = clean_conditions(problems, data.conditions, ["input", "conditions"])
    if not data.actions:
        problems.add("give at least one action", ["input", "actions"])
    actions = clean_actions(problems, data.actions, ["input", "actions"], limits)
    problems.raise_if_any()
    return CleanAutomation(
        name,
        data.trigger,
        actions,
        conditions,
        data.enabled,
        data.position,
        data.status,
        data.after_seconds,
        data.stop_processing,
    )


def entered_status(event: TicketEventRecord) -> str | None:
    """The status a ticket entered with this event (a new stint in it), if any."""
    if event.type == TicketEventType.CREATED.value:
        return TicketStatus.NEW.value
    if event.type == TicketEventType.STATUS_CHANGED.value:
        moved_to = event.data.get("to")
        return moved_to if isinstance(moved_to, str) else None
    return None


def trigger_of(event: TicketEventRecord) -> AutomationTrigger | None:
    """The event trigger an event is, if any. A reply is a PUBLIC comment: by a customer
    (CUSTOMER_REPLIED) or by an agent (AGENT_REPLIED); internal notes and the system's comments
    are neither."""
    if event.type == TicketEventType.COMMENTED.value:
        if event.data.get("visibility") != CommentVisibility.PUBLIC.value:
            return None
        if event.actor_customer_id is not None:
            return Trigger.CUSTOMER_REPLIED
        if event.actor_agent_id is not None:
            return Trigger.AGENT_REPLIED
        return None
    return _TRIGGER_OF_TYPE.get(event.type)


@dataclass(frozen=True, slots=True)
class Cause:
    """Which automation wrote an event, and at what depth of a chain (0: no automation)."""

    automation_id: int | None
    depth: int


def cause_of(data: Mapping[str, Any]) -> Cause:
    raw = data.get("automationId")
    automation_id = decode_as(raw, "Automation") if isinstance(raw, str) else None
    depth = data.get("automationDepth")
    return Cause(automation_id, depth if isinstance(depth, int) and automation_id is not None else 0)


def may_fire(automation_id: int, cause: Cause) -> bool:
    """Never on an automation's own changes; never past the depth limit."""
    return automation_id != cause.automation_id and cause.depth < MAX_DEPTH
