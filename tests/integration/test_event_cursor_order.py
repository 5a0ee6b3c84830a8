"""Event cursors follow commit order: a transaction that took its id early but commits late is
never skipped by a reader that already passed a later-committed event."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert

from app.db import tables
from app.db.repositories.events import events_after, position_of
from app.domain.enums import Channel, TicketEventType
from app.events.cursors import START
from app.events.outbox import Outbox
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.tickets import NewTicket, create_ticket
from tests.conftest import Actor


async def _ticket(rt: Runtime, admin: Actor) -> int:
    ticket, _ = await create_ticket(
        rt,
        admin.principal,
        NewTicket(subject="s", description="d", channel=Channel.EMAIL, customer=CustomerRef(email="c@example.com")),
    )
    return ticket.id


async def _read_all(rt: Runtime, after=START) -> list:  # type: ignore[no-untyped-def]
    async with rt.engine.connect() as conn:
        return await events_after(conn, after, 1000)


async def _read_at_least(rt: Runtime, count: int, after=START) -> list:  # type: ignore[no-untyped-def]
    """The horizon is the oldest running transaction of the whole PostgreSQL cluster, so another
    session's open transaction may delay (never drop) delivery: poll for a while."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        events = await _read_all(rt, after)
        if len(events) >= count or asyncio.get_running_loop().time() > deadline:
            return events
        await asyncio.sleep(0.05)


async def test_late_committing_lower_transaction_is_delivered_after_resume(rt: Runtime, admin: Actor) -> None:
    ticket_id = await _ticket(rt, admin)
    seen = await _read_at_least(rt, 1)
    cursor = position_of(seen[-1])

    now = rt.clock.now()
    early = await rt.engine.connect()
    late = await rt.engine.connect()
    try:
        # `early` gets the lower transaction id (it writes first) but commits last.
        early_tx = await early.begin()
        await Outbox(early).append(ticket_id=ticket_id, group_id=None, type=TicketEventType.UPDATED, occurred_at=now)
        late_tx = await late.begin()
        await Outbox(late).append(ticket_id=ticket_id, group_id=None, type=TicketEventType.UPDATED, occurred_at=now)
        await late_tx.commit()

        # While `early` is open, the committed later event is held back: handing it out now
        # would let a reader's cursor pass `early`'s event before it exists.
        assert await _read_all(rt, cursor) == []

        await early_tx.commit()
        after_both = await _read_at_least(rt, 2, cursor)
        assert len(after_both) == 2
        assert after_both[0].txid < after_both[1].txid
        # Resuming from the first delivers the second exactly once; from the second, nothing.
        assert [e.id for e in await _read_all(rt, position_of(after_both[0]))] == [after_both[1].id]
        assert await _read_all(rt, position_of(after_both[1])) == []
    finally:
        await early.close()
        await late.close()


async def test_rolled_back_events_never_appear(rt: Runtime, admin: Actor) -> None:
    ticket_id = await _ticket(rt, admin)
    before = await _read_at_least(rt, 1)
    async with rt.engine.connect() as conn:
        tx = await conn.begin()
        await conn.execute(insert(tables.ticket_events).values(ticket_id=ticket_id, type="UPDATED"))
        await tx.rollback()
    assert await _read_all(rt) == before


async def test_concurrent_writers_each_event_once_in_a_stable_order(rt: Runtime, admin: Actor) -> None:
    ticket_id = await _ticket(rt, admin)
    cursor = position_of((await _read_at_least(rt, 1))[-1])

    async def write(n: int) -> None:
        async with rt.transaction() as tx:
            for _ in range(n):
                await tx.append(
                    ticket_id=ticket_id, group_id=None, type=TicketEventType.UPDATED, occurred_at=rt.clock.now()
                )

    received: list[int] = []

    async def reader() -> None:
        nonlocal cursor
        for _ in range(200):
            batch = await _read_all(rt, cursor)
            if batch:
                received.extend(e.id for e in batch)
                cursor = position_of(batch[-1])
            await asyncio.sleep(0.005)

    await asyncio.gather(reader(), *(write(3) for _ in range(30)))
    received.extend(e.id for e in await _read_at_least(rt, 90 - len(received), cursor))
    assert len(received) == 90
    assert len(set(received)) == 90


async def test_an_open_transaction_in_another_database_does_not_hold_back_delivery(
    rt: Runtime, admin: Actor, database_url: str
) -> None:
    """Only our own database's writers can add events; a long write transaction elsewhere on the
    same PostgreSQL cluster must not stall the stream."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    other_url = make_url(database_url).set(database="postgres")
    other = create_async_engine(other_url)
    try:
        async with other.connect() as conn:
            await conn.execute(text("CREATE TEMP TABLE hold (x int)"))
            await conn.execute(text("INSERT INTO hold VALUES (1)"))  # takes an xid and keeps it
            ticket_id = await _ticket(rt, admin)
            events = await _read_all(rt)
            assert [e.ticket_id for e in events] == [ticket_id]
            await conn.rollback()
    finally:
        await other.dispose()
