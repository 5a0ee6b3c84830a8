"""Root Subscription and the wallboard query: live events with replay, and wallboard snapshots.

Permissions are checked when subscribing and again for every item delivered, in one place
every subscription goes through (`_live`): the caller is re-read (at most
HELPDESK_CREDENTIAL_RECHECK_SECONDS late, app.services.live_access), so a revoked token ends the
subscription with UNAUTHENTICATED and a lost permission (an agent removed from the group of a
wallboard) with FORBIDDEN. Each event is shown only to callers who may see its ticket, by the
rule of `ticket(id)`.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

import strawberry

from app.auth.policy import customer_may_see_event, may_watch_wallboard
from app.domain.errors import InvalidInput
from app.domain.principal import CustomerPrincipal, Principal
from app.domain.records import TicketEventRecord
from app.events.cursors import EventPosition
from app.events.hub import EventHub, ListenerOverflow
from app.reads.wallboard import wallboard_numbers
from app.services import notifications
from app.services.notification_triggers import may_have_notified
from resolvers.access import Info, principal_of
from schema import errors, ids
from schema.enums import TicketEventType
from schema.notifications import Notification
from schema.realtime import AssignmentEvent, SlaEvent, WallboardSnapshot
from schema.tickets import TicketEvent

T = TypeVar("T")
# Raises a GraphQLError (FORBIDDEN) when the caller may not have the subscription.
Permission = Callable[[Principal], None]


@dataclass
class Subscriber:
    """The caller of one subscription, as they are now."""

    info: Info
    principal: Principal

    async def current(self) -> Principal:
        """Re-reads the caller through the process's shared cache; UNAUTHENTICATED once the
        credential is revoked or expired or its agent deactivated."""
        context = self.info.context
        if context.token is None or context.access is None:
            return self.principal
        fresh = await context.access.principal(context.token)
        if fresh is None:
            raise errors.unauthenticated()
        # Deliveries resolve their fields with loaders built for the caller as they are now.
        self.principal = context.principal = fresh
        return fresh

    async def may_see(self, event: TicketEventRecord) -> bool:
        """The rule of `ticket(id)`, whatever group the event is addressed to."""
        principal = await self.current()
        access = self.info.context.access
        if access is None or principal.sees_all_tickets:
            return principal.sees_all_tickets
        return await access.may_see_ticket(principal, event.ticket_id, (event.data or {}).get("version"))


def anyone_signed_in(principal: Principal) -> None:
    """Event streams: the caller only needs to be signed in; each event is checked on its own."""


def _live(
    info: Info, permitted: Permission, items: Callable[[Subscriber], AsyncGenerator[T, None]]
) -> AsyncGenerator[T, None]:
    """Every subscription goes through here. Now: the caller must be signed in and `permitted`,
    and gets one of the connection's slots. Then, before every item delivered, the caller is
    re-read and `permitted` asked again, so a subscription ends (UNAUTHENTICATED or FORBIDDEN)
    as soon as the caller may no longer have it."""
    subscriber = Subscriber(info, principal_of(info))
    permitted(subscriber.principal)
    release = _claim_slot(info)

    async def checked() -> AsyncGenerator[T, None]:
        async with aclosing(items(subscriber)) as stream:
            async for item in stream:
                permitted(await subscriber.current())
                # Each delivery resolves its selection with fresh loaders: nothing stale.
                info.context.fresh_loaders()
                yield item

    return _holding_slot(release, checked())


def _claim_slot(info: Info) -> Callable[[], None]:
    """Takes one of the connection's subscription slots, or refuses the subscription. Called by
    the resolvers themselves, before they return their stream: a refusal is then an error of
    the operation (an `error` message), not a result of it. Returns the release (idempotent)."""
    context = info.context
    if context.hub is None:
        raise errors.unavailable("subscriptions are not available on this endpoint")
    limit = context.rt.settings.max_subscriptions_per_connection
    if context.active_subscriptions >= limit:
        raise errors.limit_reached(
            "TOO_MANY_SUBSCRIPTIONS", f"at most {limit} subscriptions per connection", limit=limit
        )
    context.active_subscriptions += 1
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            context.active_subscriptions -= 1

    return release


def _holding_slot(release: Callable[[], None], stream: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """`stream`, giving the slot back when it ends, or when it is dropped without ever starting."""

    async def run() -> AsyncGenerator[T, None]:
        try:
            async with aclosing(stream):
                async for item in stream:
                    yield item
        finally:
            release()

    generator = run()
    weakref.finalize(generator, release)
    return generator


def _after(after: str | None) -> EventPosition | None:
    try:
        return EventPosition.decode(after) if after else None
    except InvalidInput as exc:
        raise errors.from_domain(exc) from exc


def _id_filter(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        raise errors.invalid_argument(f"not a valid {type_name} id")
    return pk


def _event_stream(
    info: Info,
    prefilter: Callable[[TicketEventRecord], bool],
    after: str | None,
    shape: Callable[[TicketEventRecord], T],
) -> AsyncGenerator[T, None]:
    """Checks the caller, the cursor and the slot now; the events come when iterated."""
    position = _after(after)
    hub: EventHub = info.context.hub

    async def visible(subscriber: Subscriber) -> AsyncGenerator[T, None]:
        try:
            async for event in hub.stream(prefilter, position):
                if await subscriber.may_see(event):
                    yield shape(event)
        except ListenerOverflow as exc:
            raise errors.limit_reached("SUBSCRIBER_TOO_SLOW", str(exc)) from exc

    return _live(info, anyone_signed_in, visible)


async def _current_customer(info: Info, customer: CustomerPrincipal) -> CustomerPrincipal:
    """The customer session re-read (shared cache); UNAUTHENTICATED once revoked or expired."""
    context = info.context
    if context.token is None or context.access is None:
        return customer
    fresh = await context.access.customer(context.token)
    if fresh is None:
        raise errors.unauthenticated()
    context.customer = fresh
    return fresh


def _customer_event_stream(
    info: Info, ticket: int | None, prefilter: Callable[[TicketEventRecord], bool], after: str | None
) -> AsyncGenerator[TicketEvent, None]:
    """ticketEvents for a customer session: one of their own tickets, its status changes and
    PUBLIC comments only. The session and the ticket's owner are re-checked for every event."""
    customer = info.context.customer
    assert customer is not None
    if ticket is None:
        raise errors.forbidden("a customer session follows one of its own tickets: give ticketId")
    position = _after(after)
    hub: EventHub = info.context.hub
    release = _claim_slot(info)

    def wanted(e: TicketEventRecord) -> bool:
        return prefilter(e) and customer_may_see_event(e.type, e.data)

    async def own() -> AsyncGenerator[TicketEvent, None]:
        current = customer
        try:
            async for event in hub.stream(wanted, position):
                current = await _current_customer(info, current)
                access = info.context.access
                if access is None or not await access.customer_owns_ticket(current, event.ticket_id):
                    continue
                info.context.fresh_loaders()
                yield TicketEvent.of(event)
        except ListenerOverflow as exc:
            raise errors.limit_reached("SUBSCRIBER_TOO_SLOW", str(exc)) from exc

    return _holding_slot(release, own())


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Tickets assigned, reassigned or unassigned; filter by agent or group.")
    async def assignment_events(
        self,
        info: Info,
        agent_id: strawberry.ID | None = None,
        group_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[AssignmentEvent, None]:
        agent = _id_filter(agent_id, "Agent")
        group = _id_filter(group_id, "Group")

        def wanted(e: TicketEventRecord) -> bool:
            if e.type not in ("ASSIGNED", "UNASSIGNED"):
                return False
            data = e.data or {}
            if agent is not None and agent not in (data.get("assigneeId"), data.get("previousAssigneeId")):
                return False
            return group is None or group in (e.group_id, data.get("groupId"))

        return _event_stream(info, wanted, after, AssignmentEvent.of)

    @strawberry.subscription(description="SLA warnings and breaches; filter by group.")
    async def sla_events(
        self, info: Info, group_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[SlaEvent, None]:
        group = _id_filter(group_id, "Group")

        def wanted(e: TicketEventRecord) -> bool:
            return e.type in ("SLA_WARNING", "SLA_BREACHED") and (group is None or e.group_id == group)

        return _event_stream(info, wanted, after, SlaEvent.of)

    @strawberry.subscription(description="Every change to tickets, the same events as Ticket.history.")
    async def ticket_events(
        self,
        info: Info,
        ticket_id: strawberry.ID | None = None,
        group_id: strawberry.ID | None = None,
        types: list[TicketEventType] | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[TicketEvent, None]:
        ticket = _id_filter(ticket_id, "Ticket")
        group = _id_filter(group_id, "Group")
        kinds = {t.value for t in types} if types else None

        def wanted(e: TicketEventRecord) -> bool:
            return (
                (ticket is None or e.ticket_id == ticket)
                and (group is None or e.group_id == group)
                and (kinds is None or e.type in kinds)
            )

        if info.context.customer is not None:
            return _customer_event_stream(info, ticket, wanted, after)
        return _event_stream(info, wanted, after, TicketEvent.of)

    @strawberry.subscription(description="The caller's own notifications as they are created.")
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        rt, hub = info.context.rt, info.context.hub

        async def mine(subscriber: Subscriber) -> AsyncGenerator[Notification, None]:
            async for record in notifications.watch(rt, hub, subscriber.principal.agent_id, may_have_notified):
                yield Notification.of(record)

        return _live(info, anyone_signed_in, mine)

    @strawberry.subscription(description="A fresh snapshot whenever the numbers change, at most once per second.")
    async def wallboard(
        self, info: Info, group_id: strawberry.ID | None = None
    ) -> AsyncGenerator[WallboardSnapshot, None]:
        group = _id_filter(group_id, "Group")

        async def snapshots(subscriber: Subscriber) -> AsyncGenerator[WallboardSnapshot, None]:
            # The feed exists wherever the hub does (_claim_slot refuses the rest).
            async for numbers in info.context.wallboard.watch(group):
                yield WallboardSnapshot.of(numbers)

        return _live(info, _watching(group), snapshots)


def _watching(group: int | None) -> Permission:
    def permitted(principal: Principal) -> None:
        if not may_watch_wallboard(principal, group):
            raise errors.forbidden("your role may not watch this wallboard")

    return permitted


@strawberry.type
class RealtimeQuery:
    @strawberry.field
    async def wallboard(self, info: Info, group_id: strawberry.ID | None = None) -> WallboardSnapshot:
        group = _id_filter(group_id, "Group")
        _watching(group)(principal_of(info))
        rt = info.context.rt
        return WallboardSnapshot.of(await wallboard_numbers(rt.engine, group, rt.clock.now(), rt.settings.timezone))
