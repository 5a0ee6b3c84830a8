"""Writing events: only here, and only in the transaction of the change they describe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.domain.enums import TicketEventType


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event written in the current transaction, published after it commits."""

    id: int
    txid: int
    ticket_id: int
    group_id: int | None
    type: TicketEventType
    occurred_at: datetime
    actor_agent_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


class EventObserver(Protocol):
    """Acts on some types of event inside the transaction that writes them (notifications are
    written with the change that causes them). Events of other types cost nothing."""

    @property
    def types(self) -> frozenset[TicketEventType]: ...

    async def observe(self, tx: Outbox, event: PendingEvent) -> None: ...


@dataclass(slots=True)
class Outbox:
    """Collects a transaction's events; `Runtime.transaction` publishes them after commit."""

    conn: AsyncConnection
    events: list[PendingEvent] = field(default_factory=list)
    observer: EventObserver | None = None
    # Merged into the data of every event appended while set: an automation's run stamps the
    # events its actions write with its id (app.domain.automations, the loop guard).
    stamp: dict[str, Any] = field(default_factory=dict)

    async def append(
        self,
        *,
        ticket_id: int,
        group_id: int | None,
        type: TicketEventType,
        occurred_at: datetime,
        actor_agent_id: int | None = None,
        actor_customer_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> PendingEvent:
        if self.stamp:
            data = {**(data or {}), **self.stamp}
        te = tables.ticket_events
        row = (
            await self.conn.execute(
                insert(te)
                .values(
                    ticket_id=ticket_id,
                    group_id=group_id,
                    type=type.value,
                    actor_agent_id=actor_agent_id,
                    actor_customer_id=actor_customer_id,
                    data=data or {},
                    occurred_at=occurred_at,
                )
                .returning(te.c.id, te.c.txid)
            )
        ).one()
        event = PendingEvent(row.id, row.txid, ticket_id, group_id, type, occurred_at, actor_agent_id, data or {})
        self.events.append(event)
        if self.observer is not None and type in self.observer.types:
            await self.observer.observe(self, event)
        return event


@dataclass(frozen=True, slots=True)
class EventObservers:
    """Several observers as one (notifications, satisfaction surveys): each sees the events of
    its own types, in the order given."""

    observers: tuple[EventObserver, ...]

    @property
    def types(self) -> frozenset[TicketEventType]:
        return frozenset().union(*(observer.types for observer in self.observers))

    async def observe(self, tx: Outbox, event: PendingEvent) -> None:
        for observer in self.observers:
            if event.type in observer.types:
                await observer.observe(tx, event)
