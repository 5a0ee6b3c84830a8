"""Outbound webhooks: what admins configure, and the delivery log they read."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.records import WebhookDeliveryRecord, WebhookRecord
from app.services import webhooks as webhook_service
from schema import errors, ids
from schema.common import Node, PageInfo, Payload, page_size
from schema.context import Context
from schema.enums import TicketEventType, WebhookDeliveryStatus
from schema.people import Group
from schema.tickets import TicketEvent

Info = strawberry.Info[Context, None]


@strawberry.type
class WebhookDelivery(Node):
    id: strawberry.ID
    status: WebhookDeliveryStatus
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    event_pk: strawberry.Private[int]

    @classmethod
    def of(cls, r: WebhookDeliveryRecord) -> WebhookDelivery:
        return cls(
            id=ids.encode("WebhookDelivery", r.id),
            status=WebhookDeliveryStatus(r.status),
            attempts=r.attempts,
            response_status=r.response_status,
            last_error=r.last_error,
            next_attempt_at=r.next_attempt_at,
            delivered_at=r.delivered_at,
            created_at=r.created_at,
            event_pk=r.event_id,
        )

    @strawberry.field
    async def event(self, info: Info) -> TicketEvent:
        record = await info.context.loaders.event.load(self.event_pk)
        if record is None:  # deliveries go with their event; only a race shows this
            raise errors.not_found("event not found")
        return TicketEvent.of(record)


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(
    description=(
        "Ticket events POSTed to a partner's URL: at least once, in order per ticket, signed "
        "(HMAC-SHA256 of the body with the webhook's secret), retried with backoff; many failures "
        "in a row disable the webhook."
    )
)
class Webhook(Node):
    id: strawberry.ID
    name: str
    url: str
    enabled: bool
    event_types: list[TicketEventType] = strawberry.field(description="Empty: every type.")
    consecutive_failures: int
    disabled_at: datetime | None
    created_at: datetime
    record: strawberry.Private[WebhookRecord]

    @classmethod
    def of(cls, r: WebhookRecord) -> Webhook:
        return cls(
            id=ids.encode("Webhook", r.id),
            name=r.name,
            url=r.url,
            enabled=r.enabled,
            event_types=[TicketEventType(t) for t in r.event_types],
            consecutive_failures=r.consecutive_failures,
            disabled_at=r.disabled_at,
            created_at=r.created_at,
            record=r,
        )

    @strawberry.field(description="Empty: every group.")
    async def groups(self, info: Info) -> list[Group]:
        found = await info.context.loaders.group.load_many(self.record.group_ids)
        return [Group.of(g) for g in found if g is not None]

    @strawberry.field(description="Newest first.")
    async def deliveries(
        self,
        info: Info,
        status: WebhookDeliveryStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        size = page_size(first, info.context.rt.settings.max_page_size)
        before_id = ids.decode_as(after, "WebhookDelivery") if after else None
        if after and before_id is None:
            raise errors.invalid_argument("`after` is not a valid webhook delivery cursor")
        records, total = await webhook_service.deliveries(info.context.rt, self.record.id, status, before_id, size + 1)
        edges = [
            WebhookDeliveryEdge(cursor=str(ids.encode("WebhookDelivery", r.id)), node=WebhookDelivery.of(r))
            for r in records[:size]
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], len(records) > size, after is not None),
            total_count=total,
        )


@strawberry.input
class WebhookInput:
    name: str
    url: str
    enabled: bool | None = True
    event_types: list[TicketEventType] | None = None
    group_ids: list[strawberry.ID] | None = None


@strawberry.type
class WebhookPayload(Payload):
    webhook: Webhook | None = None
    secret: str | None = strawberry.field(
        default=None, description="The signing secret, returned only at creation and on rotation."
    )


@strawberry.type
class WebhookDeliveryPayload(Payload):
    delivery: WebhookDelivery | None = None
