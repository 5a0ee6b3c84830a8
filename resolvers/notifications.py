"""Root fields of agents' notifications: my list and marking mine read (the live stream is
Subscription.notifications, in resolvers.subscription)."""

from __future__ import annotations

import strawberry

from app.domain import cursors
from app.domain.errors import DomainError
from app.domain.global_ids import is_row_id
from app.services import notifications
from resolvers.access import Info, principal_of
from resolvers.payloads import decode_id, reports_user_errors
from schema import errors
from schema.common import PageInfo, page_size
from schema.notifications import (
    MarkReadPayload,
    Notification,
    NotificationConnection,
    NotificationEdge,
    notification_cursor,
)


def _before(after: str | None) -> int | None:
    """The id a page continues below (newest first), from the previous page's end cursor."""
    if after is None:
        return None
    try:
        body = cursors.decode(cursors.CursorKind.NOTIFICATIONS, after)
    except DomainError as exc:
        raise errors.from_domain(exc) from exc
    if len(body) != 1 or not is_row_id(body[0]):
        raise errors.invalid_argument("not a valid notification list cursor")
    pk: int = body[0]
    return pk


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="The caller's own notifications, newest first.")
    async def notifications(
        self, info: Info, unread_only: bool | None = False, first: int | None = 20, after: str | None = None
    ) -> NotificationConnection:
        principal = principal_of(info)
        rt = info.context.rt
        size = page_size(first, rt.settings.max_page_size)
        page = await notifications.my_notifications(rt, principal, bool(unread_only), size, _before(after))
        edges = [NotificationEdge(cursor=notification_cursor(r.id), node=Notification.of(r)) for r in page.items]
        return NotificationConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], page.has_next, after is not None),
            total_count=page.total,
        )


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Null ids: all of the caller's.")
    @reports_user_errors(MarkReadPayload)
    async def mark_notifications_read(self, info: Info, ids: list[strawberry.ID] | None = None) -> MarkReadPayload:
        principal = principal_of(info)
        pks = None if ids is None else [decode_id(g, "Notification", ["ids", str(i)]) for i, g in enumerate(ids)]
        count = await notifications.mark_read(info.context.rt, principal, pks)
        return MarkReadPayload(count=count)
