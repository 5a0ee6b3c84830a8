"""Root fields of outbound webhooks (admins)."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action
from app.domain.enums import TicketEventType
from app.domain.webhooks.settings import WebhookInput as WebhookData
from app.services import webhooks
from resolvers.access import Info, may_read, principal_of
from resolvers.payloads import decode_id, decode_ids, reports_user_errors
from schema import ids
from schema.payloads import DeletePayload
from schema.webhooks import Webhook, WebhookDelivery, WebhookDeliveryPayload, WebhookInput, WebhookPayload


def _webhook_input(input: WebhookInput) -> WebhookData:
    return WebhookData(
        name=input.name,
        url=input.url,
        enabled=True if input.enabled is None else input.enabled,
        event_types=[TicketEventType(t) for t in input.event_types or []],
        group_ids=decode_ids([str(g) for g in input.group_ids or []], "Group", ["input", "groupIds"]),
    )


@strawberry.type
class WebhookQuery:
    @strawberry.field
    async def webhooks(self, info: Info) -> list[Webhook]:
        principal = may_read(info, Action.MANAGE_WEBHOOKS)
        return [Webhook.of(r) for r in await webhooks.list_webhooks(info.context.rt, principal)]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation
    @reports_user_errors(WebhookPayload)
    async def create_webhook(self, info: Info, input: WebhookInput) -> WebhookPayload:
        principal = principal_of(info)
        created = await webhooks.create_webhook(info.context.rt, principal, _webhook_input(input))
        return WebhookPayload(webhook=Webhook.of(created.webhook), secret=created.secret)

    @strawberry.mutation
    @reports_user_errors(WebhookPayload)
    async def update_webhook(self, info: Info, id: strawberry.ID, input: WebhookInput) -> WebhookPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Webhook", ["id"])
        record = await webhooks.update_webhook(info.context.rt, principal, pk, _webhook_input(input))
        return WebhookPayload(webhook=Webhook.of(record))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "Webhook", ["id"])
        await webhooks.delete_webhook(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("Webhook", pk))

    @strawberry.mutation
    @reports_user_errors(WebhookPayload)
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Webhook", ["id"])
        rotated = await webhooks.rotate_webhook_secret(info.context.rt, principal, pk)
        return WebhookPayload(webhook=Webhook.of(rotated.webhook), secret=rotated.secret)

    @strawberry.mutation
    @reports_user_errors(WebhookDeliveryPayload)
    async def redeliver_webhook_delivery(self, info: Info, id: strawberry.ID) -> WebhookDeliveryPayload:
        principal = principal_of(info)
        pk = decode_id(id, "WebhookDelivery", ["id"])
        record = await webhooks.redeliver(info.context.rt, principal, pk)
        return WebhookDeliveryPayload(delivery=WebhookDelivery.of(record))
