"""Agents' own notifications: the bell of the agent console."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain import cursors
from app.domain.records import NotificationRecord
from schema import ids
from schema.common import Node, PageInfo, Payload
from schema.context import Context
from schema.enums import NotificationKind
from schema.tickets import Ticket, load_ticket

Info = strawberry.Info[Context, None]


@strawberry.type(description="Something an agent is told: a mention, an assignment, an SLA warning...")
class Notification(Node):
    id: strawberry.ID
    kind: NotificationKind
    message: str
    created_at: datetime
    read_at: datetime | None
    record: strawberry.Private[NotificationRecord]

    @classmethod
    def of(cls, r: NotificationRecord) -> Notification:
        return cls(
            id=ids.encode("Notification", r.id),
            kind=NotificationKind(r.kind),
            message=r.message,
            created_at=r.created_at,
            read_at=r.read_at,
            record=r,
        )

    @strawberry.field(description="Null when there is none, or the agent may no longer see it.")
    async def ticket(self, info: Info) -> Ticket | None:
        return await load_ticket(info, self.record.ticket_id) if self.record.ticket_id is not None else None


def notification_cursor(pk: int) -> str:
    return cursors.encode(cursors.CursorKind.NOTIFICATIONS, [pk])


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class MarkReadPayload(Payload):
    count: int = strawberry.field(default=0, description="How many became read.")
