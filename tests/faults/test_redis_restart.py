"""Redis (BROADCAST_URL) restarts, and freezes, under two `helpdesk serve` processes.

A subscriber on process A follows tickets changed through process B. Redis is stopped (its
messages are lost: no persistence) and started again: every event committed before, during and
after the outage reaches the subscriber once, in commit order, and both processes subscribe to
Redis again by themselves. Then Redis freezes (SIGSTOP: connections open, no answers): B's
mutations must not wait for it, and A still gets every event.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.events.hub import CHANNEL
from tests.faults.harness import (
    ASSIGNMENT_EVENTS,
    TICKET_EVENTS,
    Console,
    Feed,
    ResumingSubscriber,
    create_admin,
    cursors,
    database,
    log_after,
    login,
    serving,
)
from tests.faults.invariants import assert_invariants
from tests.private_servers import PrivatePostgres, PrivateRedis, private_postgres, private_redis
from tests.support import GraphQLClient

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        create_admin(server.url)
        yield server


@pytest.fixture
def broker() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


def subscribers_of_channel(broker: PrivateRedis) -> int:
    client = redis.Redis(host="127.0.0.1", port=broker.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    try:
        return int(dict(client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0))
    except redis.exceptions.RedisError:
        return 0
    finally:
        client.close()


async def wait_for_subscribers(broker: PrivateRedis, count: int, within: float) -> None:
    for _ in range(int(within / 0.1)):
        if await asyncio.to_thread(subscribers_of_channel, broker) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} processes subscribed to Redis within {within:.0f}s")


async def test_events_published_during_and_after_a_redis_restart_are_all_delivered_in_order(
    postgres: PrivatePostgres, broker: PrivateRedis
) -> None:
    with (
        tempfile.TemporaryDirectory() as data_dir,
        serving(postgres.url, Path(data_dir), {"BROADCAST_URL": broker.url}, count=2) as (a, b),
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            token, agent_id = await login(http, b.url)
            console = Console(GraphQLClient(b.url, http, token), agent_id)
            first = await console.work_on("Before anyone subscribed")
            start = await console.last_cursor(first)
            feeds = {
                "tickets": Feed("ticketEvents", TICKET_EVENTS, start),
                "assignments": Feed("assignmentEvents", ASSIGNMENT_EVENTS, start),
            }
            await wait_for_subscribers(broker, 2, 30)  # A and B listen on Redis
            async with ResumingSubscriber(a.url, token, feeds) as subscriber:
                for i in range(3):
                    await console.work_on(f"Before the restart {i}")

                await asyncio.to_thread(broker.stop)
                for i in range(3):  # committed while no message can cross between the processes
                    await console.work_on(f"While Redis is down {i}")
                await asyncio.to_thread(broker.start)
                await wait_for_subscribers(broker, 2, 60)  # both reconnected by themselves
                for i in range(3):
                    await console.work_on(f"After the restart {i}")

                broker.freeze()
                try:
                    # A mutation's answer does not wait on the broadcast (a wake-up call for
                    # other processes, which also poll the log): 4 s is far more than a mutation
                    # takes and less than Redis's client waits for a reply.
                    frozen = Console(GraphQLClient(b.url, httpx.AsyncClient(timeout=4), token), agent_id)
                    try:
                        for i in range(3):
                            await frozen.work_on(f"While Redis is frozen {i}")
                    except httpx.TimeoutException:
                        raise AssertionError("a mutation waited on a frozen Redis") from None
                    finally:
                        await frozen.client.http.aclose()
                finally:
                    broker.thaw()

                async with database(postgres.url) as engine:
                    expected = {
                        "tickets": await log_after(engine, start),
                        "assignments": await log_after(engine, start, {"ASSIGNED", "UNASSIGNED"}),
                    }
                    await subscriber.wait_for(expected, within=60)
                    for name, log in expected.items():
                        assert len(log) >= (36 if name == "tickets" else 12)
                        received = cursors(feeds[name].events)
                        assert len(set(received)) == len(received), f"{name}: an event arrived twice"
                        assert received == log, f"{name}: missing or out of order"
                    assert subscriber.interruptions == []  # Redis going away is no concern of clients
                    await assert_invariants(engine)
        assert "broadcast publish failed" in b.output()  # the outage was real for B
