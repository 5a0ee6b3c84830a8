"""Root fields of automations (admins)."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action, allows
from app.domain.automation_conditions import ConditionInput
from app.domain.automations import AutomationInput as AutomationData
from app.domain.enums import ConditionOperator, TicketStatus
from app.domain.errors import DomainError
from app.domain.principal import Principal
from app.domain.ticket_actions import ActionInput
from app.services import automations
from resolvers.access import Info, may_read, principal_of
from resolvers.payloads import decode_id, reports_user_errors
from schema import errors, ids
from schema.automations import Automation, AutomationInput, AutomationPayload, AutomationPreview
from schema.common import Node
from schema.payloads import DeletePayload
from schema.tickets import Ticket


def _automation_input(input: AutomationInput) -> AutomationData:
    return AutomationData(
        name=input.name,
        trigger=input.trigger,
        actions=[ActionInput(a.type, a.value) for a in input.actions],
        conditions=[ConditionInput(c.field, ConditionOperator(c.operator), c.value) for c in input.conditions or []],
        enabled=True if input.enabled is None else input.enabled,
        position=input.position,
        status=TicketStatus(input.status) if input.status else None,
        after_seconds=input.after_seconds,
        stop_processing=bool(input.stop_processing),
    )


async def automation_node(info: Info, principal: Principal, pk: int) -> Node | None:
    """node(id) for an Automation: admins only; to others it looks like a missing one."""
    if not allows(principal, Action.MANAGE_AUTOMATIONS):
        return None
    record = await automations.find_automation(info.context.rt, principal, pk)
    return Automation.of(record) if record else None


@strawberry.type
class AutomationQuery:
    @strawberry.field(description="Every automation, in the order they fire.")
    async def automations(self, info: Info) -> list[Automation]:
        principal = may_read(info, Action.MANAGE_AUTOMATIONS)
        return [Automation.of(r) for r in await automations.list_automations(info.context.rt, principal)]

    @strawberry.field(description="Open tickets the conditions match now, and a sample; nothing is saved.")
    async def preview_automation(self, info: Info, input: AutomationInput) -> AutomationPreview:
        principal = may_read(info, Action.MANAGE_AUTOMATIONS)
        try:
            preview = await automations.preview_automation(info.context.rt, principal, _automation_input(input))
        except DomainError as error:
            raise errors.from_domain(error, field=error.field) from None
        return AutomationPreview(
            matching_open_tickets=preview.matching_open_tickets, sample=[Ticket.of(r) for r in preview.sample]
        )


@strawberry.type
class AutomationMutation:
    @strawberry.mutation
    @reports_user_errors(AutomationPayload)
    async def create_automation(self, info: Info, input: AutomationInput) -> AutomationPayload:
        principal = principal_of(info)
        record = await automations.create_automation(info.context.rt, principal, _automation_input(input))
        return AutomationPayload(automation=Automation.of(record))

    @strawberry.mutation
    @reports_user_errors(AutomationPayload)
    async def update_automation(self, info: Info, id: strawberry.ID, input: AutomationInput) -> AutomationPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Automation", ["id"])
        record = await automations.update_automation(info.context.rt, principal, pk, _automation_input(input))
        return AutomationPayload(automation=Automation.of(record))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_automation(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "Automation", ["id"])
        await automations.delete_automation(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("Automation", pk))
