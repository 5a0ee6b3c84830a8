"""Automations: rules that act by themselves on their trigger (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.domain.records import AutomationRecord
from schema import ids
from schema.common import JSON, Node, Payload
from schema.enums import AutomationTrigger, ConditionOperator, TicketStatus
from schema.ticket_actions import AutomationAction, AutomationActionInput

if TYPE_CHECKING:
    from schema.tickets import Ticket

TicketRef = Annotated["Ticket", strawberry.lazy("schema.tickets")]


@strawberry.type
class AutomationCondition:
    field: str = strawberry.field(
        description=(
            "status, priority, channel, category, tags, groupId, assigneeId, customer.tier, language, sentiment, "
            "subject, description, customFields.<key>"
        )
    )
    operator: ConditionOperator
    value: JSON | None

    @classmethod
    def of(cls, stored: dict[str, Any]) -> AutomationCondition:
        return cls(field=stored["field"], operator=ConditionOperator(stored["operator"]), value=stored.get("value"))


@strawberry.type(
    description=(
        "A rule that acts by itself: when its trigger happens and every condition holds, its actions run, "
        "once per triggering event."
    )
)
class Automation(Node):
    id: strawberry.ID
    name: str
    enabled: bool
    position: int
    trigger: AutomationTrigger
    status: TicketStatus | None = strawberry.field(description="TIME_IN_STATUS only.")
    after_seconds: int | None = strawberry.field(
        description="TIME_IN_STATUS only: business seconds where the ticket's SLA calendar applies, else wall-clock."
    )
    conditions: list[AutomationCondition]
    actions: list[AutomationAction]
    stop_processing: bool
    fired_count: int
    last_fired_at: datetime | None

    @classmethod
    def of(cls, r: AutomationRecord) -> Automation:
        return cls(
            id=ids.encode("Automation", r.id),
            name=r.name,
            enabled=r.enabled,
            position=r.position,
            trigger=AutomationTrigger(r.trigger),
            status=TicketStatus(r.status) if r.status else None,
            after_seconds=r.after_seconds,
            conditions=[AutomationCondition.of(c) for c in r.conditions],
            actions=[AutomationAction.of(a) for a in r.actions],
            stop_processing=r.stop_processing,
            fired_count=r.fired_count,
            last_fired_at=r.last_fired_at,
        )


@strawberry.input
class AutomationConditionInput:
    field: str
    operator: ConditionOperator
    value: JSON | None = None


@strawberry.input
class AutomationInput:
    name: str
    enabled: bool | None = True
    position: int | None = None
    trigger: AutomationTrigger
    status: TicketStatus | None = None
    after_seconds: int | None = None
    conditions: list[AutomationConditionInput] | None = None
    actions: list[AutomationActionInput]
    stop_processing: bool | None = False


@strawberry.type
class AutomationPayload(Payload):
    automation: Automation | None = None


@strawberry.type
class AutomationPreview:
    matching_open_tickets: int = strawberry.field(description="Open tickets the conditions match now.")
    sample: list[TicketRef]
