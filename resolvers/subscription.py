"""Root Subscription and the wallboard query: live events with replay, and wallboard snapshots.

Permissions are checked when subscribing and again for every event delivered: the caller's
credential and group memberships are re-read every few seconds, so a revoked token or an
agent removed from a group stops receiving that group's tickets.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from app.auth.policy import may_watch_wallboard
from app.db.repositories.tickets import visible_ticket_ids
from app.domain.errors import InvalidInput
from app.domain.principal import Principal
from app.domain.records import TicketEventRecord
from app.events.cursors import EventPosition
from app.events.hub import EventHub, ListenerOverflow
from app.services import auth as auth_service
from app.services.runtime import Runtime
from app.services.wallboard import wallboard_numbers
from resolvers.access import Info, principal_of, unauthenticated
from schema import ids
from schema.enums import TicketEventType
from schema.realtime import AssignmentEvent, SlaEvent, WallboardSnapshot
from schema.tickets import TicketEvent

RECHECK_SECONDS = 5.0
T = TypeVar("T")


class CredentialCache:
    """One re-check per credential every few seconds, however many subscriptions use it: with
    thousands of subscribers on one token, an event costs one query, not one per subscriber."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, asyncio.Future[Principal | None]]] = {}

    async def principal(self, rt: Runtime, token: str) -> Principal | None:
        now = time.monotonic()
        entry = self._entries.get(token)
        if entry is None or now - entry[0] >= RECHECK_SECONDS:
            future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
            self._entries[token] = (now, future)
            try:
                future.set_result(await auth_service.authenticate(rt, token))
            except Exception as exc:  # every waiter sees the same failure; the next call retries
                future.set_exception(exc)
                del self._entries[token]
                raise
            if len(self._entries) > 10_000:  # forget the oldest credentials
                for stale in sorted(self._entries, key=lambda k: self._entries[k][0])[:1000]:
                    del self._entries[stale]
            return future.result()
        return await asyncio.shield(entry[1])


CREDENTIALS = CredentialCache()


@dataclass
class EventAccess:
    """Whether the subscriber may see each event's ticket, re-checked as time goes by."""

    info: Info
    principal: Principal
    checked_at: float = field(default_factory=time.monotonic)
    _verdicts: dict[int, tuple[bool, float]] = field(default_factory=dict)

    async def _refresh(self) -> None:
        if time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return
        token = self.info.context.token
        fresh = await CREDENTIALS.principal(self.info.context.rt, token) if token else None
        if fresh is None:
            raise unauthenticated()
        self.principal = fresh
        self.info.context.principal = fresh
        self.checked_at = time.monotonic()
        self._verdicts.clear()

    async def allows(self, event: TicketEventRecord) -> bool:
        await self._refresh()
        p = self.principal
        if p.sees_all_tickets or (event.group_id is not None and event.group_id in p.group_ids):
            return True
        cached = self._verdicts.get(event.ticket_id)
        if cached is not None and time.monotonic() - cached[1] < RECHECK_SECONDS:
            return cached[0]
        async with self.info.context.rt.engine.connect() as conn:
            verdict = bool(await visible_ticket_ids(conn, p, [event.ticket_id]))
        self._verdicts[event.ticket_id] = (verdict, time.monotonic())
        return verdict


def _claim_slot(info: Info) -> Callable[[], None]:
    """Takes one of the connection's subscription slots, or refuses the subscription. Called by
    the resolvers themselves, before they return their stream: a refusal is then an error of
    the operation (an `error` message), not a result of it. Returns the release (idempotent)."""
    context = info.context
    if context.hub is None:
        raise GraphQLError("subscriptions are not available on this endpoint", extensions={"code": "UNAVAILABLE"})
    limit = context.rt.settings.max_subscriptions_per_connection
    if context.active_subscriptions >= limit:
        raise GraphQLError(
            f"at most {limit} subscriptions per connection",
            extensions={"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit},
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
        raise GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT"}) from exc


def _id_filter(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        raise GraphQLError(f"not a valid {type_name} id", extensions={"code": "BAD_USER_INPUT"})
    return pk


async def _visible_events(
    info: Info, access: EventAccess, prefilter: Callable[[TicketEventRecord], bool], position: EventPosition | None
) -> AsyncIterator[TicketEventRecord]:
    hub: EventHub = info.context.hub
    try:
        async for event in hub.stream(prefilter, position):
            if await access.allows(event):
                # Each delivery resolves its selection with fresh loaders: nothing stale.
                info.context.fresh_loaders()
                yield event
    except ListenerOverflow as exc:
        raise GraphQLError(str(exc), extensions={"code": "SUBSCRIBER_TOO_SLOW"}) from exc


def _event_stream(
    info: Info,
    prefilter: Callable[[TicketEventRecord], bool],
    after: str | None,
    shape: Callable[[TicketEventRecord], T],
) -> AsyncGenerator[T, None]:
    """Checks the caller, the cursor and the slot now; the events come when iterated."""
    access = EventAccess(info, principal_of(info))
    position = _after(after)
    release = _claim_slot(info)

    async def shaped() -> AsyncGenerator[T, None]:
        async for event in _visible_events(info, access, prefilter, position):
            yield shape(event)

    return _holding_slot(release, shaped())


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

        return _event_stream(info, wanted, after, TicketEvent.of)

    @strawberry.subscription(description="A fresh snapshot whenever the numbers change, at most once per second.")
    async def wallboard(
        self, info: Info, group_id: strawberry.ID | None = None
    ) -> AsyncGenerator[WallboardSnapshot, None]:
        group = _wallboard_access(info, group_id)
        feed = info.context.wallboard
        if feed is None:
            raise GraphQLError("subscriptions are not available on this endpoint", extensions={"code": "UNAVAILABLE"})
        release = _claim_slot(info)

        async def snapshots() -> AsyncGenerator[WallboardSnapshot, None]:
            async for numbers in feed.watch(group):
                yield WallboardSnapshot.of(numbers)

        return _holding_slot(release, snapshots())


def _wallboard_access(info: Info, group_id: str | None) -> int | None:
    group = _id_filter(group_id, "Group")
    if may_watch_wallboard(principal_of(info), group):
        return group
    raise GraphQLError("your role may not watch this wallboard", extensions={"code": "FORBIDDEN"})


@strawberry.type
class RealtimeQuery:
    @strawberry.field
    async def wallboard(self, info: Info, group_id: strawberry.ID | None = None) -> WallboardSnapshot:
        group = _wallboard_access(info, group_id)
        rt = info.context.rt
        return WallboardSnapshot.of(await wallboard_numbers(rt.engine, group, rt.clock.now(), rt.settings.timezone))
