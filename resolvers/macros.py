"""Root fields of macros: any agent's personal ones, the supervisors' shared ones, applying them."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action
from app.domain.enums import CommentVisibility
from app.domain.errors import DomainError, NotFound
from app.domain.macros import MacroInput as MacroData
from app.domain.ticket_actions import ActionInput
from app.services import macros
from resolvers.access import Info, may_read, principal_of
from resolvers.payloads import decode_id, reports_user_errors, ticket_payload
from schema import errors, ids
from schema.common import Node
from schema.macros import Macro, MacroInput, MacroPayload, MacroPreview
from schema.payloads import DeletePayload, TicketPayload


def _macro_input(input: MacroInput) -> MacroData:
    return MacroData(
        name=input.name,
        body=input.body,
        visibility=CommentVisibility(input.visibility or CommentVisibility.PUBLIC),
        actions=[ActionInput(a.type, a.value) for a in input.actions or []],
        shared=True if input.shared is None else input.shared,
    )


async def macro_node(info: Info, principal: object, pk: int) -> Node | None:
    """node(id) for a Macro: shared ones and the caller's own."""
    record = await macros.find_macro(info.context.rt, principal_of(info), pk)
    return Macro.of(record) if record else None


@strawberry.type
class MacroQuery:
    @strawberry.field(description="Shared macros and the caller's own, by name; search matches name or reply.")
    async def macros(self, info: Info, search: str | None = None) -> list[Macro]:
        principal = may_read(info, Action.USE_MACROS)
        try:
            records = await macros.list_macros(info.context.rt, principal, search)
        except DomainError as error:
            raise errors.from_domain(error, field=error.field) from None
        return [Macro.of(r) for r in records]

    @strawberry.field(description="The macro's reply as it would read on the ticket; nothing is written.")
    async def render_macro(self, info: Info, ticket_id: strawberry.ID, macro_id: strawberry.ID) -> MacroPreview:
        principal = may_read(info, Action.USE_MACROS)
        try:
            preview = await macros.render_macro(
                info.context.rt,
                principal,
                decode_id(ticket_id, "Ticket", ["ticketId"]),
                decode_id(macro_id, "Macro", ["macroId"]),
            )
        except NotFound as missing:
            raise errors.not_found(missing.message) from None
        return MacroPreview(body=preview.body, missing_placeholders=list(preview.missing))


@strawberry.type
class MacroMutation:
    @strawberry.mutation
    @reports_user_errors(MacroPayload)
    async def create_macro(self, info: Info, input: MacroInput) -> MacroPayload:
        principal = principal_of(info)
        record = await macros.create_macro(info.context.rt, principal, _macro_input(input))
        return MacroPayload(macro=Macro.of(record))

    @strawberry.mutation
    @reports_user_errors(MacroPayload)
    async def update_macro(self, info: Info, id: strawberry.ID, input: MacroInput) -> MacroPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Macro", ["id"])
        record = await macros.update_macro(info.context.rt, principal, pk, _macro_input(input))
        return MacroPayload(macro=Macro.of(record))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_macro(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "Macro", ["id"])
        await macros.delete_macro(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("Macro", pk))

    @strawberry.mutation(
        description="The reply and the actions in one transaction: all or nothing, within the agent's own permissions."
    )
    @reports_user_errors(TicketPayload)
    async def apply_macro(
        self, info: Info, ticket_id: strawberry.ID, macro_id: strawberry.ID, expected_version: int | None = None
    ) -> TicketPayload:
        principal = principal_of(info)
        ticket = await macros.apply_macro(
            info.context.rt,
            principal,
            decode_id(ticket_id, "Ticket", ["ticketId"]),
            decode_id(macro_id, "Macro", ["macroId"]),
            expected_version,
        )
        return await ticket_payload(info, ticket)
