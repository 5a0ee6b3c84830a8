"""Input types, exactly as the contract names them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.common import JSON, Upload
from schema.enums import (
    AgentRole,
    AssignmentStrategy,
    Channel,
    CustomerTier,
    OrderDirection,
    TicketOrderField,
    TicketPriority,
    TicketStatus,
)


@strawberry.input
class TicketFilter:
    status: list[TicketStatus] | None = None
    priority: list[TicketPriority] | None = None
    channel: list[Channel] | None = None
    category: list[str] | None = None
    tags: list[str] | None = None
    assignee_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    unassigned: bool | None = strawberry.field(default=None, description="Only tickets with no assignee.")
    sla_at_risk: bool | None = strawberry.field(
        default=None, description="Only tickets whose running SLA clock has warned or breached."
    )
    search: str | None = strawberry.field(
        default=None, description="Full-text search over subject, description and comments."
    )
    created_after: datetime | None = None
    created_before: datetime | None = None
    custom_fields: JSON | None = strawberry.field(
        default=None, description="Equality on each given key of Ticket.customFields."
    )


@strawberry.input
class TicketOrder:
    field: TicketOrderField
    direction: OrderDirection = OrderDirection.DESC


@strawberry.input
class CreateCustomerInput:
    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tier: CustomerTier | None = CustomerTier.STANDARD
    language: str | None = None
    tags: list[str] | None = None
    external_refs: JSON | None = None


@strawberry.input
class UpdateCustomerInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    tier: CustomerTier | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    external_refs: JSON | None = strawberry.UNSET


@strawberry.input(description="Identify the customer by id, or by email/phone (found or created).")
class CustomerRef:
    id: strawberry.ID | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None


@strawberry.input
class CreateTicketInput:
    subject: str
    description: str
    channel: Channel
    customer: CustomerRef
    priority: TicketPriority | None = strawberry.field(
        default=None, description="Left empty, routing rules and customer tier decide."
    )
    category: str | None = None
    tags: list[str] | None = None
    custom_fields: JSON | None = None
    external_ref: str | None = None
    language: str | None = strawberry.field(
        default=None, description="Left empty, the customer's language, else detected from the text."
    )
    attachments: list[Upload] | None = None


@strawberry.input
class UpdateTicketInput:
    subject: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    priority: TicketPriority | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    custom_fields: JSON | None = strawberry.UNSET
    external_ref: str | None = strawberry.UNSET


@strawberry.input
class CreateAgentInput:
    name: str
    email: str
    password: str
    role: AgentRole = AgentRole.AGENT
    skills: list[str] | None = None
    languages: list[str] | None = None
    capacity: int | None = 10
    group_ids: list[strawberry.ID] | None = None


@strawberry.input
class UpdateAgentInput:
    name: str | None = strawberry.UNSET
    role: AgentRole | None = strawberry.UNSET
    skills: list[str] | None = strawberry.UNSET
    languages: list[str] | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET
    group_ids: list[strawberry.ID] | None = strawberry.UNSET
    on_vacation: bool | None = strawberry.UNSET


@strawberry.input
class CreateGroupInput:
    name: str
    description: str | None = None
    assignment_strategy: AssignmentStrategy = AssignmentStrategy.LEAST_LOADED
    escalation_group_id: strawberry.ID | None = None
