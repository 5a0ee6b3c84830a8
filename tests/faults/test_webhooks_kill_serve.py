"""Webhooks across real processes: two `helpdesk serve` processes deliver to a real receiver
(its own process, slow on purpose so deliveries are in flight); one server is killed with
SIGKILL in the middle and a new one started. Afterwards the receiver's dedupe (by event id) has
seen every event of the log, in the log's order for every ticket, none lost; no two requests of
one ticket were ever in flight at once from live clients (one deliverer per (webhook, ticket),
across processes). The killed server's request may still be in the receiver when the other
server sends that delivery again (its claim died with it): that is not two deliverers, and the
receiver tells it apart by the earlier request's connection having been closed.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.db.engine import create_engine
from app.domain.enums import AgentRole, Channel, TicketEventType
from app.domain.webhooks.settings import WebhookInput
from app.services import agents as agent_service
from app.services import auth, event_consumers, tickets, webhooks
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.webhook_fanout import CONSUMER
from app.settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY
from tests.integration.test_webhook_delivery import by_ticket, expected_by_ticket, log_events
from tests.processes import running_servers, start_server
from tests.support import free_port, own_test_database
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

ENV = {
    "HELPDESK_WEBHOOK_ALLOW_PRIVATE": "true",
    "HELPDESK_SECRET_KEY": TEST_SECRET_KEY,
    "HELPDESK_EVENT_POLL_SECONDS": "0.2",
}
TICKETS, UPDATES = 6, 5


@pytest.fixture
def own_database() -> Iterator[str]:
    yield from own_test_database()


@pytest.fixture
async def wrt(own_database: str) -> AsyncIterator[Runtime]:
    engine = create_engine(own_database, pool_size=4, max_overflow=2)
    settings = Settings(
        database_url=own_database, log_json=False, secret_key=TEST_SECRET_KEY, webhook_allow_private=True
    )
    yield Runtime(engine=engine, settings=settings)
    await engine.dispose()


async def burst(rt: Runtime, admin: object, start: int) -> None:
    made = []
    for n in range(start, start + TICKETS):
        ticket, _ = await tickets.create_ticket(
            rt,
            admin,
            tickets.NewTicket(f"order {n}", "text", Channel.API, CustomerRef(email=f"c{n}@example.cn")),  # type: ignore[arg-type]
        )
        made.append(ticket)
    for _ in range(UPDATES):
        for ticket in made:
            async with rt.transaction() as tx:
                await tx.append(
                    ticket_id=ticket.id, group_id=None, type=TicketEventType.UPDATED, occurred_at=rt.clock.now()
                )


async def test_a_killed_server_redelivers_and_the_receiver_sees_every_event_in_order(
    wrt: Runtime, own_database: str, tmp_path: Path
) -> None:
    email = "ada@example.com"
    await agent_service.create_agent(
        wrt, None, agent_service.NewAgent(name="Ada", email=email, password=PASSWORD, role=AgentRole.ADMIN)
    )
    admin = await auth.authenticate(wrt, (await auth.login(wrt, email, PASSWORD, None)).token)
    assert admin is not None
    async with wrt.engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, CONSUMER)
    receiver = Receiver(tmp_path, free_port(), secret="")
    created = await webhooks.create_webhook(wrt, admin, WebhookInput(name="partner", url=receiver.url))
    assert created.secret is not None
    receiver.secret = created.secret
    receiver.delay(0.05)  # deliveries stay in flight long enough to be cut off
    receiver.start()
    replacement = None
    try:
        with running_servers(own_database, count=2, extra_env=ENV, data_dir=Path(tempfile.mkdtemp())) as servers:
            await burst(wrt, admin, 0)
            deadline = time.monotonic() + 30
            while len(receiver.requests()) < 8:
                assert time.monotonic() < deadline, "no deliveries"
                await asyncio.sleep(0.05)
            servers[0].process.send_signal(signal.SIGKILL)
            servers[0].process.wait(timeout=10)
            await burst(wrt, admin, TICKETS)
            replacement = start_server(own_database, Path(tempfile.mkdtemp()), ENV)
            replacement.wait_healthy()
            expected = expected_by_ticket(await log_events(wrt))
            total = sum(len(v) for v in expected.values())
            deadline = time.monotonic() + 60
            while len(receiver.events()) < total:
                assert time.monotonic() < deadline, f"{len(receiver.events())} of {total} events delivered"
                await asyncio.sleep(0.1)
    finally:
        if replacement is not None:
            replacement.stop()
            replacement.log_path.unlink(missing_ok=True)
        receiver.stop()

    assert by_ticket(receiver.events()) == expected
    requests = receiver.requests()
    assert len(requests) >= total
    assert not any(r.get("overlap") for r in requests), "two requests of one ticket in flight at once"
