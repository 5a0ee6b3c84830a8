"""Live wallboards: one snapshot per group per change, shared by all of that group's watchers.

A group's feed listens to the event hub; an event touching the group marks it dirty, and a
fresh snapshot is computed at most once per second and handed to every watcher (each keeps
only the newest). Nothing is computed per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.domain.records import TicketEventRecord
from app.events.hub import EventHub

log = logging.getLogger("helpdesk.wallboard")

Compute = Callable[[int | None], Awaitable[Any]]


def touches(group_id: int | None, event: TicketEventRecord) -> bool:
    if group_id is None:
        return True
    data = event.data or {}
    return group_id in (event.group_id, data.get("fromGroupId"), data.get("groupId"), data.get("previousGroupId"))


@dataclass(eq=False)
class _GroupFeed:
    group_id: int | None
    watchers: set[asyncio.Queue[Any]] = field(default_factory=set)
    latest: Any = None
    task: asyncio.Task[None] | None = None


class WallboardFeed:
    def __init__(self, hub: EventHub, compute: Compute, *, min_interval: float = 1.0) -> None:
        self._hub = hub
        self._compute = compute
        self._min_interval = min_interval
        self._feeds: dict[int | None, _GroupFeed] = {}
        self.computations = 0

    async def watch(self, group_id: int | None) -> AsyncIterator[Any]:
        """The current snapshot at once, then a fresh one whenever the numbers may have changed."""
        # The feed, its task and this watcher are all in place before the first await: a watcher
        # cancelled during the first snapshot (its client left) cannot leave a feed without a task.
        feed = self._feeds.get(group_id)
        if feed is None:
            feed = self._feeds[group_id] = _GroupFeed(group_id)
            feed.task = asyncio.create_task(self._run(feed), name=f"wallboard-{group_id}")
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        feed.watchers.add(queue)
        try:
            first = feed.latest
            if first is None:
                first = await self._snapshot(group_id)
                if feed.latest is None:  # (the feed's task may have a newer one by now)
                    feed.latest = first
            yield first
            while True:
                yield await queue.get()
        finally:
            feed.watchers.discard(queue)
            if not feed.watchers and self._feeds.get(group_id) is feed:
                del self._feeds[group_id]
                if feed.task is not None:
                    feed.task.cancel()

    async def _snapshot(self, group_id: int | None) -> Any:
        self.computations += 1
        return await self._compute(group_id)

    async def _run(self, feed: _GroupFeed) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        dirty = asyncio.Event()
        listener = self._hub.register(lambda event: touches(feed.group_id, event))
        try:
            while True:
                event = await listener.queue.get()
                if event is None:
                    return
                dirty.set()
                while not listener.queue.empty():  # fold a burst into one snapshot
                    listener.queue.get_nowait()
                wait = self._min_interval - (loop.time() - last)
                if wait > 0:
                    await asyncio.sleep(wait)
                    while not listener.queue.empty():
                        listener.queue.get_nowait()
                try:
                    feed.latest = await self._snapshot(feed.group_id)
                except Exception:  # keep the feed alive through a database blip
                    log.warning("wallboard snapshot failed", exc_info=True)
                    continue
                last = loop.time()
                dirty.clear()
                for queue in list(feed.watchers):
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()  # watchers want the newest numbers, not a backlog
                    queue.put_nowait(feed.latest)
        finally:
            self._hub.unregister(listener)

    async def stop(self) -> None:
        for feed in list(self._feeds.values()):
            if feed.task is not None:
                feed.task.cancel()
        self._feeds.clear()
