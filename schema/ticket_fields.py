"""Defined custom fields: what Ticket.customFields may hold and when it must."""

from __future__ import annotations

import strawberry

from app.domain import enums
from app.domain.ticket_fields import FieldDefinition
from schema import ids
from schema.common import Node, Payload
from schema.enums import FieldType, TicketStatus


@strawberry.type(description="A defined custom field: what Ticket.customFields may hold and when it must.")
class TicketFieldDefinition(Node):
    id: strawberry.ID
    key: str = strawberry.field(description="The key in Ticket.customFields, e.g. orderId.")
    label: str
    type: FieldType
    options: list[str] = strawberry.field(description="The choices of a DROPDOWN.")
    pattern: str | None = strawberry.field(
        description="A TEXT value must match this whole (a bounded regular expression, RE2 syntax)."
    )
    required_on_create: bool
    required_for_status: TicketStatus | None = strawberry.field(
        description="The field must hold a value before a ticket may move to this status."
    )
    categories: list[str] = strawberry.field(description="Empty: tickets of every category.")
    visible_to_customer: bool = strawberry.field(
        description="Shown to customers (portal, web form); otherwise agents only."
    )
    position: int

    @classmethod
    def of(cls, d: FieldDefinition) -> TicketFieldDefinition:
        return cls(
            id=ids.encode("TicketFieldDefinition", d.id),
            key=d.key,
            label=d.label,
            type=enums.FieldType(d.type),
            options=d.options,
            pattern=d.pattern,
            required_on_create=d.required_on_create,
            required_for_status=enums.TicketStatus(d.required_for_status) if d.required_for_status else None,
            categories=d.categories,
            visible_to_customer=d.visible_to_customer,
            position=d.position,
        )


@strawberry.input
class TicketFieldInput:
    key: str
    label: str
    type: FieldType
    options: list[str] | None = None
    pattern: str | None = None
    required_on_create: bool | None = False
    required_for_status: TicketStatus | None = None
    categories: list[str] | None = None
    visible_to_customer: bool | None = False
    position: int | None = None


@strawberry.type
class TicketFieldPayload(Payload):
    field: TicketFieldDefinition | None = None
