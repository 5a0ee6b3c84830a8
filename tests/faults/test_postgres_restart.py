"""PostgreSQL restarts under a running `helpdesk serve` and a live subscriber.

While the database is down every request fails cleanly and promptly (503 or a GraphQL error,
never a 500 or an exception's text). When it is back the service recovers by itself (no
restart of ours), and the subscriber, resuming from its last cursor if the server ended its
stream, has received every event of the log exactly once, in commit order.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from app.events.cursors import EventPosition
from tests.faults.harness import (
    ASSIGNMENT_EVENTS,
    TICKET_EVENTS,
    Console,
    Feed,
    ResumingSubscriber,
    assert_clean_failure,
    create_admin,
    cursors,
    database,
    log_after,
    login,
    scrape,
    serving,
    wait_until_healthy,
)
from tests.faults.invariants import assert_invariants
from tests.private_servers import PrivatePostgres, private_postgres
from tests.support import GraphQLClient, GraphQLWebSocket, load_document

pytestmark = pytest.mark.slow

REQUEST_BOUND = 30.0  # seconds: no request may hang longer than this while the database is down
RECOVERY_BOUND = 60.0


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        create_admin(server.url)
        yield server


async def requests_during_outage(base_url: str, token: str, ticket_id: str) -> list[httpx.Response]:
    """What a console sends while the database is down; each must answer within the bound."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_BOUND) as client:

        def graphql(document: str, variables: dict[str, object], auth: bool = True) -> object:
            body = {"query": load_document(document), "variables": variables}
            return client.post("/graphql", json=body, headers=headers if auth else {})

        return list(
            await asyncio.gather(
                client.get("/healthz"),
                graphql("console/TicketList.graphql", {"first": 5}),  # type: ignore[arg-type]
                graphql("console/TicketDetail.graphql", {"id": ticket_id}),  # type: ignore[arg-type]
                graphql(  # type: ignore[arg-type]
                    "console/CreateTicket.graphql",
                    {
                        "input": {
                            "subject": "During the outage",
                            "description": "x",
                            "channel": "PHONE",
                            "customer": {"email": "outage@example.cn"},
                        }
                    },
                ),
                graphql(  # type: ignore[arg-type]
                    "console/Login.graphql", {"email": "fault.admin@example.com", "password": "wrong"}, auth=False
                ),
            )
        )


async def websocket_during_outage(base_url: str, token: str) -> str:
    """A new subscriber while the database is down is told so: an error for its subscription,
    or the socket closed with a close frame (not dropped); never left hanging."""
    try:
        async with asyncio.timeout(REQUEST_BOUND), GraphQLWebSocket(base_url, token) as ws:
            # Replaying from a cursor needs the database.
            op = await ws.subscribe(TICKET_EVENTS, {"after": EventPosition(1, 1).encode()})
            while True:
                message = await ws.receive(REQUEST_BOUND)
                if message.get("id") == op:
                    assert message["type"] == "error" or message["payload"].get("errors"), message
                    return json.dumps(message)
    except TimeoutError:
        raise AssertionError("a websocket subscriber was left hanging while the database was down") from None
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None, f"the socket was dropped without a close frame: {closed}"
        return f"closed with {closed.rcvd.code} {closed.rcvd.reason}"


async def keep_creating(console: Console, stop: asyncio.Event, outcomes: list[str]) -> None:
    """Tickets, one after another, while the database goes down and comes back: each attempt
    succeeds or fails cleanly, and a failed one leaves nothing behind (checked by the invariants)."""
    i = 0
    while not (stop.is_set() and outcomes and outcomes[-1] == "ok"):  # until one works after the restart
        i += 1
        variables = {
            "input": {
                "subject": f"Through the restart {i}",
                "description": "x",
                "channel": "PHONE",
                "customer": {"email": f"through-{i}@example.cn"},
            }
        }
        body = {"query": load_document("console/CreateTicket.graphql"), "variables": variables}
        headers = {"Authorization": f"Bearer {console.client.token}"}
        try:
            response = await console.client.http.post(f"{console.client.base_url}/graphql", json=body, headers=headers)
        except httpx.TimeoutException:
            raise AssertionError("a request hung while the database restarted") from None
        if response.status_code == 200 and not response.json().get("errors"):
            outcomes.append("ok")
        else:
            assert_clean_failure(response)
            outcomes.append(str(response.status_code))
        await asyncio.sleep(0.05)


async def test_service_and_subscriber_survive_a_postgres_restart(postgres: PrivatePostgres) -> None:
    with tempfile.TemporaryDirectory() as data_dir, serving(postgres.url, Path(data_dir)) as (server,):
        async with httpx.AsyncClient(timeout=REQUEST_BOUND) as http:
            token, agent_id = await login(http, server.url)
            console = Console(GraphQLClient(server.url, http, token), agent_id)
            first = await console.work_on("Before anyone subscribed")
            start = await console.last_cursor(first)
            feeds = {
                "tickets": Feed("ticketEvents", TICKET_EVENTS, start),
                "assignments": Feed("assignmentEvents", ASSIGNMENT_EVENTS, start),
            }
            async with ResumingSubscriber(server.url, token, feeds) as subscriber:
                for i in range(5):
                    await console.work_on(f"Before the restart {i}")

                stop, outcomes = asyncio.Event(), []
                writer = asyncio.create_task(keep_creating(console, stop, outcomes))
                await asyncio.sleep(0.5)
                await asyncio.to_thread(postgres.stop, "fast")
                refused = []
                for _ in range(2):  # at once, and after the service has had time to notice
                    responses = await requests_during_outage(server.url, token, first)
                    for response in responses:
                        assert_clean_failure(response)
                    assert responses[0].status_code == 503  # healthz says so
                    refused.append(await websocket_during_outage(server.url, token))
                    await asyncio.sleep(3)
                await asyncio.to_thread(postgres.start)

                # Recovery by itself: healthy again, and mutations succeed at the first attempt.
                await wait_until_healthy(http, server.url, RECOVERY_BOUND)
                stop.set()
                async with asyncio.timeout(RECOVERY_BOUND):
                    await writer
                for i in range(5):
                    await console.work_on(f"After the restart {i}")

                async with database(postgres.url) as engine:
                    expected = {
                        "tickets": await log_after(engine, start),
                        "assignments": await log_after(engine, start, {"ASSIGNED", "UNASSIGNED"}),
                    }
                    await subscriber.wait_for(expected, within=60)
                    print(f"\nwebsockets during the outage: {refused}\ninterruptions: {subscriber.interruptions}")
                    print(f"creates through the restart: {Counter(outcomes)}")
                    # It worked before, failed cleanly during, and worked again after the outage.
                    assert outcomes[0] == "ok" and outcomes[-1] == "ok" and set(outcomes) - {"ok"}, outcomes
                    for name, log in expected.items():
                        assert len(log) >= (30 if name == "tickets" else 10)
                        received = cursors(feeds[name].events)
                        assert len(set(received)) == len(received), f"{name}: an event arrived twice"
                        assert received == log, f"{name}: missing or out of order"
                    await assert_invariants(engine)
                # Nothing leaked through the outage: only the subscriber's two streams registered
                # (the refused ones let go), and the pool's connections all come back (background
                # work holds one for a moment now and then; a leaked one would never return).
                gauges = await scrape(http, server.url)
                assert gauges["helpdesk_event_listeners"] == 2, gauges
                for _ in range(100):
                    if gauges["helpdesk_db_pool_checked_out"] == 0:
                        break
                    await asyncio.sleep(0.1)
                    gauges = await scrape(http, server.url)
                assert gauges["helpdesk_db_pool_checked_out"] == 0, gauges
