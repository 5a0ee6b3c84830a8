"""Durable event-log consumers (app/services/event_consumers.py): each event handled once, in
log order, by one process at a time; a failed batch is handled again; a new consumer starts at
the end of the log. Several real processes race for one consumer."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import text

from app.domain.enums import Channel, TicketEventType
from app.domain.principal import Principal
from app.domain.records import TicketEventRecord
from app.events.outbox import Outbox
from app.services import event_consumers, tickets
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from tests.conftest import Actor

PROBE = "consumer_probe"


@pytest.fixture
async def probe(rt: Runtime) -> AsyncIterator[str]:
    """A table the handlers write what they handled to (not part of the app's schema)."""
    async with rt.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE IF EXISTS {PROBE}"))
        await conn.execute(
            text(f"CREATE TABLE {PROBE} (seq bigserial, consumer text, event_id bigint, ticket_id bigint, pid int)")
        )
    yield PROBE
    async with rt.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {PROBE}"))
        await conn.execute(text("DELETE FROM event_consumers"))


async def record(tx: Outbox, events: Sequence[TicketEventRecord]) -> None:
    for event in events:
        await tx.conn.execute(
            text(f"INSERT INTO {PROBE} (consumer, event_id, ticket_id, pid) VALUES ('t', :e, :t, pg_backend_pid())"),
            {"e": event.id, "t": event.ticket_id},
        )


async def make_events(rt: Runtime, principal: Principal, tickets_count: int, per_ticket: int) -> list[int]:
    """Tickets with a run of events each, written in interleaved transactions; their ids in log order."""
    made = []
    for n in range(tickets_count):
        ticket, _ = await tickets.create_ticket(
            rt,
            principal,
            tickets.NewTicket(f"consumer {n}", "text", Channel.API, CustomerRef(email=f"c{n}@example.cn")),
        )
        made.append(ticket)
    for _ in range(per_ticket):
        for ticket in made:
            async with rt.transaction() as tx:
                await tx.append(
                    ticket_id=ticket.id, group_id=None, type=TicketEventType.UPDATED, occurred_at=rt.clock.now()
                )
    async with rt.reader.connect() as conn:
        ids = (
            await conn.execute(
                text("SELECT id FROM ticket_events WHERE ticket_id = ANY(:t) ORDER BY txid, id"),
                {"t": [t.id for t in made]},
            )
        ).scalars()
        return list(ids)


async def handled(rt: Runtime) -> list[tuple[int, int]]:
    async with rt.reader.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(f"SELECT event_id, ticket_id FROM {PROBE} ORDER BY seq"))]


async def test_a_new_consumer_starts_at_the_end_and_handles_what_follows_in_order(
    rt: Runtime, admin: Actor, probe: str
) -> None:
    before = await make_events(rt, admin.principal, 1, 2)
    async with rt.engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, "t")
    after = await make_events(rt, admin.principal, 2, 3)

    while await event_consumers.consume_batch(rt, "t", record, limit=4):
        pass

    got = [event_id for event_id, _ in await handled(rt)]
    assert got == after and not set(before) & set(got)


async def test_a_failed_batch_moves_nothing_and_is_handled_again(rt: Runtime, admin: Actor, probe: str) -> None:
    async with rt.engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, "t")
    made = await make_events(rt, admin.principal, 1, 3)

    async def fail_after_writing(tx: Outbox, events: Sequence[TicketEventRecord]) -> None:
        await record(tx, events)
        raise RuntimeError("the handler broke")

    with pytest.raises(RuntimeError):
        await event_consumers.consume_batch(rt, "t", fail_after_writing)
    assert await handled(rt) == []
    assert await event_consumers.consume_batch(rt, "t", record) == len(made)
    assert [e for e, _ in await handled(rt)] == made


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from sqlalchemy import text
    from app.db.engine import create_engine
    from app.services import event_consumers
    from app.services.runtime import Runtime
    from app.settings import Settings
    from tests.integration.test_event_consumers import record

    async def main(url: str, total: int) -> None:
        engine = create_engine(url, pool_size=2, max_overflow=0)
        rt = Runtime(engine=engine, settings=Settings(database_url=url))
        while True:
            await event_consumers.consume_batch(rt, "t", record, limit=3)
            async with rt.reader.connect() as conn:
                if await conn.scalar(text("SELECT count(DISTINCT event_id) FROM consumer_probe")) >= total:
                    break
        await engine.dispose()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


async def test_several_processes_handle_each_event_once_in_order(
    rt: Runtime, admin: Actor, probe: str, database_url: str
) -> None:
    async with rt.engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, "t")
    total = 3 + 3 * 30  # three tickets' CREATED events and thirty updates each
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, database_url, str(total), stderr=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    # Events arrive while the processes race for the consumer.
    made = await make_events(rt, admin.principal, 3, 30)
    assert len(made) == total
    for worker in workers:
        _, errors = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, errors.decode()

    got = await handled(rt)
    # Every event once, in log order, though several processes took turns.
    assert [e for e, _ in got] == made


async def test_a_consumer_whose_row_is_gone_starts_again_at_the_end(rt: Runtime, admin: Actor, probe: str) -> None:
    async with rt.engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, "t")
        await conn.execute(text("DELETE FROM event_consumers"))
    before = await make_events(rt, admin.principal, 1, 2)
    assert await event_consumers.consume_batch(rt, "t", record) == 0  # recreated here, at the end
    after = await make_events(rt, admin.principal, 1, 2)
    while await event_consumers.consume_batch(rt, "t", record):
        pass
    got = [event_id for event_id, _ in await handled(rt)]
    assert got == after and not set(before) & set(got)
