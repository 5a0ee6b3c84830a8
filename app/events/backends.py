"""broadcaster backends that a wallboard can rely on.

broadcaster 0.3.1's own backends share one PostgreSQL connection between LISTEN and
publishing (concurrent publishes fail), break on redis-py 8, and never reconnect after the
server restarts. These implement the same BroadcastBackend interface and fix that:
separate listening and publishing connections, reconnection with backoff, and a RECONNECTED
event after each reconnect so consumers catch up from the event log (messages published
while the connection was down are lost by the transport, never by us: the log has them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("helpdesk.broadcast")

RECONNECTED = "__reconnected__"
NOTIFY_LIMIT = 7999  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


class PayloadTooLarge(ValueError):
    pass


class _ReconnectingBackend(BroadcastBackend):
    """What both backends keep: the channels subscribed to (resubscribed after a reconnect), the
    messages received, and the backoff between reconnection attempts."""

    def __init__(self, url: str, *, retry_delay: float = 0.2, max_retry_delay: float = 5.0) -> None:
        self._url = url
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

    def _announce_reconnect(self) -> None:
        """Consumers catch up from the event log on this: the transport lost what was published."""
        for channel in self._channels:
            self._queue.put_nowait(Event(channel, RECONNECTED))

    def _next_delay(self, delay: float) -> float:
        return min(delay * 2, self._max_retry_delay)

    async def next_published(self) -> Event:
        return await self._queue.get()


class PostgresBackend(_ReconnectingBackend):
    """LISTEN on one dedicated connection, NOTIFY through a small pool of others."""

    def __init__(self, url: str, *, retry_delay: float = 0.2, max_retry_delay: float = 5.0) -> None:
        super().__init__(url, retry_delay=retry_delay, max_retry_delay=max_retry_delay)
        self._listen_conn: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._closing = False

    async def connect(self) -> None:
        self._pool = await asyncpg.create_pool(self._url, min_size=1, max_size=4)
        await self._open_listener()

    async def _open_listener(self) -> None:
        conn = await asyncpg.connect(self._url)
        try:
            # Channels subscribed while this runs are picked up too (and the set is never
            # iterated while it may change).
            listening: set[str] = set()
            while missing := self._channels - listening:
                for channel in missing:
                    await conn.add_listener(channel, self._on_notify)
                    listening.add(channel)
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        conn.add_termination_listener(self._on_terminated)
        self._listen_conn = conn

    def _on_terminated(self, conn: object) -> None:
        if not self._closing and (self._reconnector is None or self._reconnector.done()):
            self._reconnector = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = self._retry_delay
        while not self._closing:
            try:
                await self._open_listener()
            except Exception as exc:  # any failure (asyncpg.InterfaceError too) means: try again
                log.warning("LISTEN connection lost; retrying in %.1fs (%s)", delay, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = self._next_delay(delay)
                continue
            log.info("LISTEN connection re-established")
            self._announce_reconnect()
            return

    async def disconnect(self) -> None:
        self._closing = True
        if self._reconnector is not None:
            self._reconnector.cancel()
        if self._listen_conn is not None:
            with contextlib.suppress(Exception):
                await self._listen_conn.close()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.close()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            await self._listen_conn.add_listener(channel, self._on_notify)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            await self._listen_conn.remove_listener(channel, self._on_notify)

    async def publish(self, channel: str, message: Any) -> None:
        text = str(message)
        if len(text.encode()) > NOTIFY_LIMIT:
            raise PayloadTooLarge("NOTIFY payloads must stay under 8000 bytes: publish a reference instead")
        assert self._pool is not None, "connect() first"
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", channel, text)

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self._queue.put_nowait(Event(channel, payload))


class RedisBackend(_ReconnectingBackend):
    """redis-py 5 to 8 pub/sub, resubscribing after a lost connection."""

    def __init__(self, url: str, *, retry_delay: float = 0.2, max_retry_delay: float = 5.0) -> None:
        super().__init__(url, retry_delay=retry_delay, max_retry_delay=max_retry_delay)
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def connect(self) -> None:
        self._client = aioredis.Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=5)
        self._reader = asyncio.create_task(self._read_forever())

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._client is not None:
            await self._client.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._changed.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._changed.set()

    async def publish(self, channel: str, message: Any) -> None:
        assert self._client is not None, "connect() first"
        try:
            await self._client.publish(channel, str(message))
        except RedisConnectionError:
            # After a Redis restart the pooled connection is stale (redis-py's asyncio client does
            # not retry by default): one more try on a fresh connection. Not after a timeout, so
            # an unreachable Redis does not hold the caller (a mutation's response) twice as long.
            await self._client.publish(channel, str(message))

    async def _read_forever(self) -> None:
        assert self._client is not None
        delay = self._retry_delay
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                subscribed: set[str] = set()
                while True:
                    if self._channels != subscribed:
                        if added := self._channels - subscribed:
                            await pubsub.subscribe(*added)
                        if removed := subscribed - self._channels:
                            await pubsub.unsubscribe(*removed)
                        subscribed = set(self._channels)
                        if not first:
                            self._announce_reconnect()
                            first = True
                        delay = self._retry_delay
                    if not subscribed:
                        self._changed.clear()
                        await self._changed.wait()
                        continue
                    message = await pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "message":
                        data = message["data"]
                        channel = message["channel"]
                        self._queue.put_nowait(
                            Event(
                                channel.decode() if isinstance(channel, bytes) else channel,
                                data.decode() if isinstance(data, bytes) else str(data),
                            )
                        )
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis pub/sub connection lost; retrying in %.1fs (%s)", delay, type(exc).__name__)
                first = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = self._next_delay(delay)
