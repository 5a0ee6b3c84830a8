"""Two real `helpdesk serve` processes on one database: a subscriber on process A receives the
events caused by mutations sent to process B, in commit order and exactly once.

* under the default PostgreSQL LISTEN/NOTIFY backend and under Redis (BROADCAST_URL), with a
  check that process A really listens on that transport and that B publishes each commit on it;
* resuming with `after` on A after dropping the connection mid-stream gets the rest once;
* with BROADCAST_URL=memory:// (no message ever crosses between the processes, as if every
  process crashed between commit and publish) A still gets everything, by polling the log.

Waits are generous: the log is read below the oldest transaction still running anywhere in the
PostgreSQL cluster, and the test cluster is shared with other runs (a long bulk load in another
database holds every event back until it commits).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import psutil
import pytest
import redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.domain.enums import AgentRole
from app.events.broadcast import libpq_url
from app.events.credential_changes import CHANNEL as CREDENTIALS_CHANNEL
from app.events.cursors import START, EventPosition
from app.events.hub import CHANNEL
from app.services import agents as agent_service
from app.services import auth as auth_service
from app.services.runtime import Runtime
from tests.conftest import PASSWORD
from tests.private_servers import redis_answers
from tests.processes import ServerProcess, running_servers
from tests.support import GraphQLClient, GraphQLWebSocket, load_document

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TICKET_EVENTS = load_document("console/TicketEventsSubscription.graphql")
EVENT_WAIT = 60.0  # seconds for one event (see the module docstring)
TICKETS = 10  # 10 creates + 10 starts + 5 pendings + 5 resolutions = 30 mutations


@pytest.fixture
async def admin_token(rt: Runtime) -> str:
    """An admin's token, made in the database directly (no in-process server needed)."""
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    await agent_service.create_agent(
        rt,
        None,
        agent_service.NewAgent(name="Ada Admin", email=email, password=PASSWORD, role=AgentRole.ADMIN, group_ids=[]),
    )
    return (await auth_service.login(rt, email, PASSWORD, None)).token


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


@contextlib.contextmanager
def two_servers(database_url: str, broadcast_url: str | None) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    # Empty means the default (NOTIFY on the database), whatever the caller's environment says.
    env = {"BROADCAST_URL": broadcast_url or ""}
    with running_servers(database_url, 2, env) as (a, b):
        yield a, b


async def drive(client: GraphQLClient, tickets: int = TICKETS) -> None:
    """Creates and transitions, several in flight at once so that transactions interleave."""
    created = await asyncio.gather(
        *(
            client.mutate(
                "console/CreateTicket.graphql",
                {
                    "input": {
                        "subject": f"工单 {i}: the app crashes",
                        "description": "It crashes when I open the settings page.",
                        "channel": "WEB_FORM",
                        "customer": {"email": f"customer{i}-{uuid.uuid4().hex[:6]}@example.cn"},
                    }
                },
            )
            for i in range(tickets)
        )
    )
    ids = [payload["ticket"]["id"] for payload in created]
    await asyncio.gather(*(client.mutate("console/StartTicket.graphql", {"id": t}) for t in ids))
    half = len(ids) // 2
    await asyncio.gather(
        *(
            client.mutate("console/SetTicketPending.graphql", {"id": t, "reason": "waiting for logs"})
            for t in ids[:half]
        ),
        *(client.mutate("console/ResolveTicket.graphql", {"id": t, "resolution": "fixed in 2.1"}) for t in ids[half:]),
    )


async def log_cursors(engine: AsyncEngine) -> list[str]:
    """Every event of the log, in cursor (commit) order."""
    te = tables.ticket_events
    async with engine.connect() as conn:
        rows = (await conn.execute(select(te.c.txid, te.c.id).order_by(te.c.txid, te.c.id))).all()
    return [EventPosition(txid, event_id).encode() for txid, event_id in rows]


async def read_until(ws: GraphQLWebSocket, op: str, received: list[dict[str, Any]], count: int) -> None:
    while len(received) < count:
        received.append((await ws.next_data(op, EVENT_WAIT))["ticketEvents"])


def cursors_of(events: list[dict[str, Any]]) -> list[str]:
    return [e["cursor"] for e in events]


def assert_in_commit_order_once(received: list[str], expected: list[str]) -> None:
    assert len(set(received)) == len(received), "an event arrived twice"
    assert received == expected
    positions = [EventPosition.decode(c) for c in received]
    assert positions == sorted(positions)


def ports_to(pid: int, port: int) -> set[int]:
    """Local ports of the process's TCP connections to `port` on this machine."""
    return {
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


async def assert_listens_on_postgres(server: ServerProcess, database_url: str) -> None:
    """The process has a connection of its own LISTENing on the hub's channel (the broadcast's one
    listening connection: its last statement is the LISTEN of the hub's channel or of the channel
    of credential changes, whichever subscribed last)."""
    url = urlparse(libpq_url(database_url))
    if not url.hostname:
        pytest.skip("the database is on a unix socket: no client port to match")
    conn = await asyncpg.connect(libpq_url(database_url))
    try:
        listening = {
            r["client_port"]
            for r in await conn.fetch(
                "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND query = ANY($1)",
                [f'LISTEN "{CHANNEL}"', f'LISTEN "{CREDENTIALS_CHANNEL}"'],
            )
        }
    finally:
        await conn.close()
    assert ports_to(server.process.pid, url.port or 5432) & listening, "process A does not LISTEN"


def assert_subscribed_on_redis(server: ServerProcess) -> None:
    """The process has a Redis connection subscribed to the hub's channel."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        subscribed = {int(c["addr"].rsplit(":", 1)[1]) for c in client.client_list() if int(c.get("sub", 0)) > 0}
    finally:
        client.close()
    ports = ports_to(server.process.pid, urlparse(REDIS_URL).port or 6379)
    assert ports & subscribed, "process A has no subscribed Redis connection"


@contextlib.asynccontextmanager
async def published_references(database_url: str, broadcast_url: str | None) -> AsyncIterator[list[str]]:
    """What processes publish on the transport, watched from outside."""
    messages: list[str] = []
    if broadcast_url and broadcast_url.startswith("redis"):
        client = redis.asyncio.Redis.from_url(broadcast_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)

        async def read() -> None:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message:
                    messages.append(message["data"].decode())

        reader = asyncio.create_task(read())
        try:
            yield messages
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await pubsub.aclose()
            await client.aclose()
    else:
        conn = await asyncpg.connect(libpq_url(database_url))
        await conn.add_listener(CHANNEL, lambda *args: messages.append(args[3]))
        try:
            yield messages
        finally:
            await conn.close()


@pytest.mark.parametrize("broadcast_url", [None, REDIS_URL], ids=["postgres", "redis"])
async def test_subscriber_on_a_gets_bs_events_in_order_once(
    broadcast_url: str | None, database_url: str, engine: AsyncEngine, admin_token: str, http: httpx.AsyncClient
) -> None:
    if broadcast_url and not redis_answers(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL}")
    with two_servers(database_url, broadcast_url) as (a, b):
        if broadcast_url:
            assert_subscribed_on_redis(a)
        else:
            await assert_listens_on_postgres(a, database_url)
        async with (
            published_references(database_url, broadcast_url) as published,
            GraphQLWebSocket(a.url, admin_token) as ws,
        ):
            # From the start of the (empty) log: nothing can slip between subscribing and the
            # first mutation, and nothing may come twice.
            op = await ws.subscribe(TICKET_EVENTS, {"after": START.encode()})
            await drive(GraphQLClient(b.url, http, admin_token))
            expected = await log_cursors(engine)
            received: list[dict[str, Any]] = []
            await read_until(ws, op, received, len(expected))
            await ws.nothing_for(op, 1.5)
    assert len(expected) >= 3 * TICKETS
    assert_in_commit_order_once(cursors_of(received), expected)
    assert {e["type"] for e in received} >= {"CREATED", "STATUS_CHANGED"}
    # B announced its commits on the transport, as references (cursors), never as events.
    announced = {json.loads(m)["cursor"] for m in published if m.startswith("{")}
    assert announced & set(expected), published
    assert all(len(m.encode()) < 200 for m in published)


async def test_resume_on_a_after_a_dropped_connection_gets_the_rest_once(
    database_url: str, engine: AsyncEngine, admin_token: str, http: httpx.AsyncClient
) -> None:
    with two_servers(database_url, None) as (a, b):
        driver = asyncio.create_task(drive(GraphQLClient(b.url, http, admin_token), tickets=12))
        try:
            first: list[dict[str, Any]] = []
            async with GraphQLWebSocket(a.url, admin_token) as ws:
                op = await ws.subscribe(TICKET_EVENTS, {"after": START.encode()})
                await read_until(ws, op, first, 15)
                ws.ws.transport.abort()  # dropped mid-stream, no goodbye
            await asyncio.sleep(0.5)  # B goes on committing meanwhile
            rest: list[dict[str, Any]] = []
            async with GraphQLWebSocket(a.url, admin_token) as ws:
                op = await ws.subscribe(TICKET_EVENTS, {"after": first[-1]["cursor"]})
                await asyncio.wait_for(driver, 120)
                expected = await log_cursors(engine)
                await read_until(ws, op, rest, len(expected) - len(first))
                await ws.nothing_for(op, 1.5)
        finally:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await driver
    assert len(expected) >= 3 * 12
    assert_in_commit_order_once(cursors_of(first) + cursors_of(rest), expected)


async def test_without_any_cross_process_message_a_still_gets_everything_by_polling(
    database_url: str, engine: AsyncEngine, admin_token: str, http: httpx.AsyncClient
) -> None:
    """memory:// carries nothing between processes: as if B crashed after each commit, before
    publishing. A's hub finds B's events in the log on its periodic poll."""
    with two_servers(database_url, "memory://") as (a, b):
        async with GraphQLWebSocket(a.url, admin_token) as ws:
            op = await ws.subscribe(TICKET_EVENTS, {"after": START.encode()})
            await drive(GraphQLClient(b.url, http, admin_token))
            expected = await log_cursors(engine)
            received: list[dict[str, Any]] = []
            await read_until(ws, op, received, len(expected))
            await ws.nothing_for(op, 1.5)
    assert len(expected) >= 3 * TICKETS
    assert_in_commit_order_once(cursors_of(received), expected)
