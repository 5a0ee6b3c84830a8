"""Our broadcaster backends against each broadcaster 0.3.1 defect named in DESIGN.md.

One test per defect shows our class fixes it; where it is cheap, a companion test shows the stock
class fails the same way, so each test is known to be able to fail:

(a) the stock PostgreSQL backend shares its LISTEN connection with NOTIFY, so concurrent publishes
    fail with "another operation is in progress";
(b) the stock Redis backend with redis-py 8 never delivers anything (its reader starts listening
    before redis-py has recorded the subscription, sees no channel and waits forever);
(c) two concurrent first `subscribe` calls on one channel: stock Broadcast keeps only one queue;
(d) nothing reconnects after Redis or PostgreSQL restarts (private servers of the test, from
    tests/private_servers.py; the machine's servers are shared and never restarted);
(e) NOTIFY payloads are capped below 8000 bytes: PostgresBackend refuses bigger ones with
    PayloadTooLarge, and through real servers a 30 KB event still reaches a subscriber on another
    server process, because the hub only publishes a cursor reference.

Redis tests use the machine's Redis (127.0.0.1:6379, HELPDESK_TEST_REDIS_URL to change) and are
skipped when it does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from broadcaster import Broadcast, Event
from broadcaster._backends.memory import MemoryBackend
from broadcaster._backends.postgres import PostgresBackend as StockPostgresBackend

from app.events.backends import NOTIFY_LIMIT, RECONNECTED, PayloadTooLarge, PostgresBackend, RedisBackend
from app.events.broadcast import HelpdeskBroadcast, libpq_url
from app.events.cursors import EventPosition
from app.events.hub import CHANNEL
from app.settings import Settings
from tests.conftest import Actor
from tests.private_servers import PrivatePostgres, private_postgres, private_redis, redis_answers
from tests.support import GraphQLClient, GraphQLWebSocket, ServerThread, load_document

REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def channel_name(prefix: str) -> str:
    """A channel of this test only (the Redis server is shared with other runs)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def receive(source: Any, within: float = 10.0) -> Event:
    """The next event of a backend (next_published) or of a Subscriber (get)."""
    getter = source.next_published if hasattr(source, "next_published") else source.get
    return await asyncio.wait_for(getter(), within)  # type: ignore[no-any-return]


async def receive_all(source: Any, count: int, within: float = 10.0) -> list[str]:
    return [(await receive(source, within)).message for _ in range(count)]


async def nothing_within(source: Any, seconds: float) -> bool:
    try:
        await receive(source, seconds)
    except TimeoutError:
        return True
    return False


@pytest.fixture(scope="module")
def pg_url(database_url: str) -> str:
    """The run's database as asyncpg wants it."""
    return libpq_url(database_url)


needs_redis = pytest.mark.skipif(not redis_answers(REDIS_URL), reason=f"no Redis at {REDIS_URL}")


# --------------------------------------------------------------------------------------------
# (a) concurrent publishes while listening


async def test_postgres_backend_takes_50_concurrent_publishes_while_listening(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    await backend.connect()
    try:
        channel = channel_name("hd_a")
        await backend.subscribe(channel)
        sent = [f"message {i}" for i in range(50)]
        await asyncio.wait_for(asyncio.gather(*(backend.publish(channel, m) for m in sent)), 30)
        received = await receive_all(backend, len(sent))
        assert sorted(received) == sorted(sent)
        assert await nothing_within(backend, 0.3)  # each exactly once
    finally:
        await backend.disconnect()


async def test_stock_postgres_backend_fails_concurrent_publishes(pg_url: str) -> None:
    """The defect (a) guards against: one connection for LISTEN and every NOTIFY."""
    stock = StockPostgresBackend(pg_url)
    await stock.connect()
    try:
        channel = channel_name("hd_a_stock")
        await stock.subscribe(channel)
        with pytest.raises(asyncpg.InterfaceError, match="another operation is in progress"):
            await asyncio.gather(*(stock.publish(channel, str(i)) for i in range(50)))
    finally:
        with contextlib.suppress(Exception):
            await stock.disconnect()


# --------------------------------------------------------------------------------------------
# (b) redis-py 8


@needs_redis
async def test_redis_backend_round_trip_with_redis_py_8() -> None:
    assert int(redis.__version__.split(".")[0]) >= 8, redis.__version__  # the version the fix is for
    channel = channel_name("hd_b")
    async with HelpdeskBroadcast(REDIS_URL) as broadcast, broadcast.subscribe(channel) as subscriber:
        assert isinstance(broadcast._backend, RedisBackend)
        await asyncio.sleep(0.3)  # the reader subscribes in the background
        await broadcast.publish(channel, "你好, wallboard")
        event = await receive(subscriber)
        assert (event.channel, event.message) == (channel, "你好, wallboard")
        # And many at once, through one client: each arrives once.
        await asyncio.gather(*(broadcast.publish(channel, str(i)) for i in range(50)))
        assert sorted(await receive_all(subscriber, 50), key=int) == [str(i) for i in range(50)]
        assert await nothing_within(subscriber, 0.3)


@needs_redis
async def test_stock_redis_backend_delivers_nothing_with_redis_py_8() -> None:
    """broadcaster 0.3.1's RedisBackend wakes its reader before redis-py 8 records the
    subscription; the reader sees no channel, stops listening and waits forever."""
    if int(redis.__version__.split(".")[0]) < 8:
        pytest.skip(f"the stock backend's defect is specific to redis-py 8 (installed: {redis.__version__})")
    channel = channel_name("hd_b_stock")
    stock = Broadcast(REDIS_URL)
    await stock.connect()
    try:
        async with stock.subscribe(channel) as subscriber:
            await asyncio.sleep(0.3)
            await stock.publish(channel, "hello")
            assert await nothing_within(subscriber, 2.0), "the stock Redis backend delivered a message"
            backend: Any = stock._backend
            assert backend._pubsub.subscribed and not backend._ready.is_set()  # the reader gave up
    finally:
        with contextlib.suppress(Exception):
            await stock.disconnect()


# --------------------------------------------------------------------------------------------
# (c) concurrent first subscriptions


class RoundTripSubscribeBackend(MemoryBackend):
    """The memory backend with a subscribe that waits, as a network round trip does."""

    async def subscribe(self, channel: str) -> None:
        await asyncio.sleep(0.05)
        await super().subscribe(channel)


class RoundTripHelpdeskBroadcast(HelpdeskBroadcast):
    def _create_backend(self, url: str) -> Any:
        return RoundTripSubscribeBackend(url)


async def two_first_subscribers(broadcast: Broadcast, channel: str, count: int, settle: float) -> list[list[str]]:
    """Two tasks subscribe to a new channel at the same moment; then `count` messages are
    published. Returns what each subscriber received (a subscriber that raised, as stock
    Broadcast's does on leaving, keeps what it got)."""
    received: list[list[str]] = [[], []]
    subscribed = [asyncio.Event(), asyncio.Event()]

    async def subscriber(i: int) -> None:
        async with broadcast.subscribe(channel) as sub:
            subscribed[i].set()
            while len(received[i]) < count:
                try:
                    received[i].append((await receive(sub, 2.0)).message)
                except TimeoutError:
                    return

    tasks = [asyncio.create_task(subscriber(i)) for i in range(2)]
    await asyncio.wait_for(asyncio.gather(*(s.wait() for s in subscribed)), 10)
    await asyncio.sleep(settle)
    for i in range(count):
        await broadcast.publish(channel, f"m{i}")
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    return received


@pytest.mark.parametrize("backend", ["round-trip memory", "postgres", "redis"])
async def test_concurrent_first_subscribers_both_receive_every_message(backend: str, pg_url: str) -> None:
    if backend == "redis" and not redis_answers(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL}")
    broadcast = {
        "round-trip memory": lambda: RoundTripHelpdeskBroadcast("memory://"),
        "postgres": lambda: HelpdeskBroadcast(pg_url),
        "redis": lambda: HelpdeskBroadcast(REDIS_URL),
    }[backend]()
    channel = channel_name("hd_c")
    expected = [f"m{i}" for i in range(5)]
    async with broadcast:
        settle = 0.5 if backend == "redis" else 0.0  # our Redis reader subscribes in the background
        received = await two_first_subscribers(broadcast, channel, len(expected), settle)
        assert received == [expected, expected]
        assert channel not in broadcast._subscribers  # both left: the channel is released


async def test_stock_broadcast_loses_one_of_two_concurrent_first_subscribers() -> None:
    """broadcaster 0.3.1: both subscribers find no queue for the channel, both await the
    backend's subscribe, and the second overwrites the first one's queue."""
    stock = Broadcast(backend=RoundTripSubscribeBackend("memory://"))
    async with stock:
        received = await two_first_subscribers(stock, channel_name("hd_c_stock"), 5, 0.0)
    assert sorted(received) == [[], ["m0", "m1", "m2", "m3", "m4"]]


# --------------------------------------------------------------------------------------------
# (d) reconnection


@pytest.mark.slow
async def test_redis_backend_reconnects_after_redis_restarts() -> None:
    channel = channel_name("hd_d")
    with private_redis() as server:
        async with HelpdeskBroadcast(server.url) as broadcast, broadcast.subscribe(channel) as subscriber:
            await asyncio.sleep(0.3)
            await broadcast.publish(channel, "before")
            assert (await receive(subscriber)).message == "before"

            await asyncio.to_thread(server.stop)
            await asyncio.sleep(1.0)  # long enough for subscribers to notice and retry
            await asyncio.to_thread(server.start)

            assert (await receive(subscriber, 30)).message == RECONNECTED
            # The first publish after the restart, with no retry of our own: it must go through.
            await broadcast.publish(channel, "after")
            assert (await receive(subscriber)).message == "after"
            assert await nothing_within(subscriber, 0.5)


@pytest.mark.slow
async def test_postgres_backend_reconnects_after_postgres_restarts() -> None:
    with private_postgres() as server:
        await _postgres_restart(server)


async def _postgres_restart(server: PrivatePostgres) -> None:
    url = server.url
    channel = channel_name("hd_d")
    stock = StockPostgresBackend(libpq_url(url))
    await stock.connect()
    try:
        async with HelpdeskBroadcast(url) as broadcast, broadcast.subscribe(channel) as subscriber:
            await stock.subscribe(channel)
            await broadcast.publish(channel, "before")
            assert (await receive(subscriber)).message == "before"
            assert (await receive(stock)).message == "before"

            await asyncio.to_thread(server.stop, "fast")
            await asyncio.to_thread(server.start)

            assert (await receive(subscriber, 30)).message == RECONNECTED
            await broadcast.publish(channel, "after")  # first publish after the restart, no retry
            assert (await receive(subscriber)).message == "after"
            assert await nothing_within(subscriber, 0.5)
            # The stock backend stays deaf, and cannot publish either.
            assert await nothing_within(stock, 1.0)
            with pytest.raises(asyncpg.InterfaceError):
                await stock.publish(channel, "stock")
    finally:
        with contextlib.suppress(Exception):
            await stock.disconnect()


class ListenerDiesOnceBackend(PostgresBackend):
    """Our backend, where the first re-opening of the LISTEN connection fails the way asyncpg
    fails when the server closes a connection between connect and LISTEN."""

    fail_next_reopen = False

    async def _open_listener(self) -> None:
        if self.fail_next_reopen:
            self.fail_next_reopen = False
            raise asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed")
        await super()._open_listener()


async def test_postgres_backend_keeps_reconnecting_when_a_reconnect_attempt_fails(pg_url: str) -> None:
    """The LISTEN connection is killed on the shared server (pg_terminate_backend of our own
    backend process only) and the first attempt to reopen it fails: the backend must keep
    trying, then announce RECONNECTED and deliver again."""
    backend = ListenerDiesOnceBackend(pg_url, retry_delay=0.05)
    await backend.connect()
    admin = await asyncpg.connect(pg_url)
    try:
        channel = channel_name("hd_d_kill")
        await backend.subscribe(channel)
        listener_pid = backend._listen_conn.get_server_pid()  # type: ignore[union-attr]
        backend.fail_next_reopen = True
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", listener_pid)

        assert (await receive(backend, 15)).message == RECONNECTED
        assert not backend.fail_next_reopen  # the failing attempt did happen
        await backend.publish(channel, "after")
        assert (await receive(backend)).message == "after"
    finally:
        await admin.close()
        await backend.disconnect()


# --------------------------------------------------------------------------------------------
# (e) NOTIFY's 8000-byte limit


async def test_postgres_backend_refuses_payloads_notify_cannot_carry(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    await backend.connect()
    stock = StockPostgresBackend(pg_url)
    await stock.connect()
    try:
        channel = channel_name("hd_e")
        await backend.subscribe(channel)
        biggest = "x" * NOTIFY_LIMIT  # 7999 bytes: the most NOTIFY takes
        await backend.publish(channel, biggest)
        assert (await receive(backend)).message == biggest
        with pytest.raises(PayloadTooLarge):
            await backend.publish(channel, "x" * (NOTIFY_LIMIT + 1))
        with pytest.raises(PayloadTooLarge):  # bytes count, not characters: 2700 x 3 bytes
            await backend.publish(channel, "界" * 2700)
        assert await nothing_within(backend, 0.3)
        # The stock backend passes it on and PostgreSQL refuses it.
        with pytest.raises(asyncpg.InvalidParameterValueError, match="payload string too long"):
            await stock.publish(channel, "x" * (NOTIFY_LIMIT + 1))
    finally:
        await stock.disconnect()
        await backend.disconnect()


TICKET_EVENTS = load_document("console/TicketEventsSubscription.graphql")


@pytest.fixture
def second_server(database_url: str) -> Iterator[ServerThread]:
    """Another server process's stand-in: its own app, hub and broadcast on the run's database."""
    thread = ServerThread(Settings(database_url=database_url, log_json=False))
    thread.start()
    yield thread
    thread.stop()


def big_custom_fields() -> dict[str, Any]:
    fields = {
        "transcript": "客户说手表更新后一直死机。" * 500,
        "lines": [f"line {i}: the watch froze at {i:04d}" for i in range(300)],
        "ascii": "y" * 1000,
    }
    size = len(json.dumps(fields, ensure_ascii=False).encode())
    assert 29_000 < size < 32_768, size  # about 30 KB: almost four times what NOTIFY carries
    return fields


@pytest.mark.slow
async def test_a_30kb_event_reaches_a_subscriber_on_another_server(
    admin: Actor, server: ServerThread, second_server: ServerThread, http: httpx.AsyncClient, pg_url: str
) -> None:
    """The mutation goes to one server, the subscriber listens on another. What crosses between
    them on NOTIFY (watched here on the same channel) is a small reference to the event's cursor;
    the subscriber gets the whole 30 KB event, loaded from the log."""
    writer = GraphQLClient(server.url, http, admin.token)
    created = await writer.mutate(
        "console/CreateTicket.graphql",
        {
            "input": {
                "subject": "手表一直死机",
                "description": "The watch keeps freezing after the update.",
                "channel": "CHAT",
                "customer": {"email": "wang@example.cn"},
            }
        },
    )
    ticket_id = created["ticket"]["id"]
    history = await writer.run("console/TicketHistory.graphql", {"id": ticket_id, "first": 50})
    saved = history["ticket"]["history"]["edges"][-1]["cursor"]
    fields = big_custom_fields()
    notified: list[str] = []
    spy = await asyncpg.connect(pg_url)
    await spy.add_listener(CHANNEL, lambda *args: notified.append(args[3]))
    try:
        async with GraphQLWebSocket(second_server.url, admin.token) as ws:
            op = await ws.subscribe(TICKET_EVENTS, {"ticketId": ticket_id, "types": ["UPDATED"], "after": saved})
            await writer.mutate("console/UpdateTicket.graphql", {"id": ticket_id, "input": {"customFields": fields}})
            # Generous: the log is read below the oldest running transaction of the whole
            # PostgreSQL cluster, and the test cluster is shared with other runs.
            updated = (await ws.next_data(op, 60))["ticketEvents"]
            await ws.nothing_for(op, 1.0)
    finally:
        await spy.close()
    assert updated["type"] == "UPDATED"
    assert updated["data"]["changes"]["customFields"]["to"] == fields
    assert len(json.dumps(updated["data"], ensure_ascii=False).encode()) > 29_000  # > 3 NOTIFY payloads
    references = [json.loads(message) for message in notified]
    # One reference per committed transaction, naming its last event (here a FIELD_CHANGED
    # after the UPDATED): the subscriber reads everything up to it from the log.
    announced = [EventPosition.decode(r["cursor"]) for r in references]
    assert any(position >= EventPosition.decode(updated["cursor"]) for position in announced), notified
    assert all(len(message.encode()) < 200 for message in notified)
