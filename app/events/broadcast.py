"""The process's broadcaster, with our backends and a subscribe that cannot lose subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlparse

from broadcaster import Broadcast, Event
from broadcaster._backends.base import BroadcastBackend
from broadcaster._base import Subscriber

from app.db.engine import async_url
from app.events.backends import PostgresBackend, RedisBackend


def libpq_url(database_url: str) -> str:
    """asyncpg wants postgresql:// (with the socket directory, if any, kept in `host`)."""
    return async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)


class HelpdeskBroadcast(Broadcast):
    """broadcaster.Broadcast with our backends, and with concurrent first subscriptions to a
    channel serialised (0.3.1 lets two of them race and drops one subscriber's queue)."""

    def __init__(self, url: str) -> None:
        self._subscribe_lock = asyncio.Lock()
        super().__init__(url)

    def _create_backend(self, url: str) -> BroadcastBackend:
        scheme = urlparse(url).scheme
        if scheme in ("redis", "rediss"):
            return RedisBackend(url)
        if scheme.startswith("postgres"):
            return PostgresBackend(libpq_url(url))
        return super()._create_backend(url)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        async with self._subscribe_lock:
            if not self._subscribers.get(channel):
                await self._backend.subscribe(channel)
                self._subscribers[channel] = {queue}
            else:
                self._subscribers[channel].add(queue)
        try:
            yield Subscriber(queue)
        finally:
            async with self._subscribe_lock:
                self._subscribers[channel].discard(queue)
                if not self._subscribers.get(channel):
                    del self._subscribers[channel]
                    await self._backend.unsubscribe(channel)
            await queue.put(None)


def broadcast_url(database_url: str, configured: str | None) -> str:
    """BROADCAST_URL when set; otherwise LISTEN/NOTIFY on the service's own database."""
    return configured or libpq_url(database_url)
