"""Root fields of defined custom fields: everyone reads the definitions they may fill (agents all of
them), admins change them."""

from __future__ import annotations

import strawberry

from app.domain.ticket_fields import FieldDefinitionInput
from app.services import ticket_fields
from resolvers.access import Info, principal_of
from resolvers.payloads import decode_id, reports_user_errors
from schema import ids
from schema.payloads import DeletePayload
from schema.ticket_fields import TicketFieldDefinition, TicketFieldInput, TicketFieldPayload


def _field_input(input: TicketFieldInput) -> FieldDefinitionInput:
    return FieldDefinitionInput(
        key=input.key,
        label=input.label,
        type=input.type.value,
        options=input.options or [],
        pattern=input.pattern,
        required_on_create=bool(input.required_on_create),
        required_for_status=input.required_for_status.value if input.required_for_status else None,
        categories=input.categories or [],
        visible_to_customer=bool(input.visible_to_customer),
        position=input.position,
    )


@strawberry.type
class TicketFieldQuery:
    @strawberry.field(
        description=(
            "The defined custom fields, in position order: every one for agents; for anonymous callers "
            "and customer sessions, those visibleToCustomer (what the web form may carry)."
        )
    )
    async def ticket_fields(self, info: Info) -> list[TicketFieldDefinition]:
        found = await ticket_fields.definitions_for(info.context.rt, info.context.viewer)
        return [TicketFieldDefinition.of(d) for d in found]


@strawberry.type
class TicketFieldMutation:
    @strawberry.mutation
    @reports_user_errors(TicketFieldPayload)
    async def create_ticket_field(self, info: Info, input: TicketFieldInput) -> TicketFieldPayload:
        principal = principal_of(info)
        created = await ticket_fields.create_field(info.context.rt, principal, _field_input(input))
        return TicketFieldPayload(field=TicketFieldDefinition.of(created))

    @strawberry.mutation
    @reports_user_errors(TicketFieldPayload)
    async def update_ticket_field(self, info: Info, id: strawberry.ID, input: TicketFieldInput) -> TicketFieldPayload:
        principal = principal_of(info)
        pk = decode_id(id, "TicketFieldDefinition", ["id"])
        updated = await ticket_fields.update_field(info.context.rt, principal, pk, _field_input(input))
        return TicketFieldPayload(field=TicketFieldDefinition.of(updated))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_ticket_field(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "TicketFieldDefinition", ["id"])
        await ticket_fields.delete_field(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("TicketFieldDefinition", pk))
