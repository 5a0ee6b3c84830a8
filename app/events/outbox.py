"""Writing events: only here, and only in the transaction of the change they describe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

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


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to write (Outbox.append_all)."""

    ticket_id: int
    group_id: int | None
    type: TicketEventType
    occurred_at: datetime
    actor_agent_id: int | None = None
    actor_customer_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


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
    # The From address of system mail (HELPDESK_MAIL_FROM), for the mail a change causes on a
    # ticket that came by no mailbox (an agent's reply on a web-form ticket); None: no such mail.
    system_address: str | None = None

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
        new = NewEvent(ticket_id, group_id, type, occurred_at, actor_agent_id, actor_customer_id, data or {})
        (event,) = await self.append_all([new])
        return event

    async def append_all(self, events: Sequence[NewEvent], *also: UpdateBase) -> list[PendingEvent]:
        """Writes the events, in order, in one statement; `also` are other writes of the same
        change that ride in it (data-modifying CTEs: they see the statement's snapshot, not one
        another's writes, so none may depend on another). Observers then see each event."""
        te = tables.ticket_events
        stamped = [{**e.data, **self.stamp} for e in events]
        rows = [
            {
                "ticket_id": e.ticket_id,
                "group_id": e.group_id,
                "type": e.type.value,
                "actor_agent_id": e.actor_agent_id,
                "actor_customer_id": e.actor_customer_id,
                "data": data,
                "occurred_at": e.occurred_at,
            }
            for e, data in zip(events, stamped, strict=True)
        ]
        statement = insert(te).values(rows).returning(te.c.id, te.c.txid)
        for index, write in enumerate(also):
            statement = statement.add_cte(write.cte(f"also_{index}"))
        # Ids come from the sequence in the order of the rows.
        written = sorted((await self.conn.execute(statement)).all())
        appended: list[PendingEvent] = []
        for (event_id, txid), e, data in zip(written, events, stamped, strict=True):
            event = PendingEvent(event_id, txid, e.ticket_id, e.group_id, e.type, e.occurred_at, e.actor_agent_id, data)
            self.events.append(event)
            appended.append(event)
        for event in appended:
            if self.observer is not None and event.type in self.observer.types:
                await self.observer.observe(self, event)
        return appended


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
