"""The per-process event hub: reads the commit-ordered log once and fans events out.

One reader per process follows `ticket_events` below the horizon (see
app.db.repositories.events) and hands each event, in cursor order, to every local
listener whose pre-filter accepts it. Broadcast messages (after any process commits) only
wake the reader; a periodic poll catches anything a lost message or a crash between commit
and publish left behind. A subscriber that resumes from a cursor registers first, replays
from the log, then drains what arrived meanwhile, skipping what it already replayed: no gap,
no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import orjson
from broadcaster import Broadcast
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.db.repositories.events import HORIZON, events_after, position_of
from app.domain.errors import InvalidInput
from app.domain.records import TicketEventRecord
from app.events.cursors import START, EventPosition
from app.events.outbox import PendingEvent

log = logging.getLogger("helpdesk.events")

CHANNEL = "helpdesk_events"
PUBLISH_TIMEOUT = 5.0  # seconds one broadcast message may take before it is given up
Prefilter = Callable[[TicketEventRecord], bool]


class ListenerOverflow(Exception):
    """A subscriber fell too far behind; it must resume from its last cursor."""


@dataclass(eq=False)
class Listener:
    prefilter: Prefilter
    capacity: int
    queue: asyncio.Queue[TicketEventRecord | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, event: TicketEventRecord) -> None:
        if self.overflowed or not self.prefilter(event):
            return
        if self.queue.qsize() >= self.capacity:
            # Never drop silently: end the stream; the client resumes from its last cursor.
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


class EventHub:
    def __init__(self, engine: AsyncEngine, broadcast: Broadcast, *, poll_interval: float = 1.0) -> None:
        self._engine = engine
        self._broadcast = broadcast
        self._poll_interval = poll_interval
        self._listeners: set[Listener] = set()
        self._wake = asyncio.Event()
        self._position = START
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._target: EventPosition | None = None
        self._behind_since: float | None = None
        self._unannounced: EventPosition | None = None
        self._announce = asyncio.Event()
        self.dispatched = 0

    @property
    def position(self) -> EventPosition:
        return self._position

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    async def start(self) -> None:
        self._position = await self._log_end()
        self._tasks = [
            asyncio.create_task(self._follow_broadcast(), name="event-hub-broadcast"),
            asyncio.create_task(self._pump(), name="event-hub-pump"),
            asyncio.create_task(self._announce_commits(), name="event-hub-announce"),
        ]
        await asyncio.wait_for(self._listening.wait(), timeout=10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for listener in list(self._listeners):
            listener.queue.put_nowait(None)

    def wake(self) -> None:
        self._wake.set()

    async def publish_committed(self, events: Sequence[PendingEvent]) -> None:
        """After a commit: wake this process's reader at once and every other process through
        the broadcast. The message is only a reference (the cursor), never the event, so it
        always fits the transport's limits (NOTIFY's 8000 bytes). It is sent in the background:
        a slow or frozen broadcast transport must not hold the mutation's response."""
        self.wake()
        last = max(EventPosition(e.txid, e.id) for e in events)
        if self._unannounced is None or last > self._unannounced:
            self._unannounced = last
        self._announce.set()

    async def _announce_commits(self) -> None:
        """Sends the newest committed cursor not yet announced, one message at a time: while
        one is in flight, later commits coalesce into the next (a reader woken by a cursor
        reads everything up to it, so only the newest matters)."""
        while True:
            await self._announce.wait()
            self._announce.clear()
            position, self._unannounced = self._unannounced, None
            if position is None:
                continue
            message = orjson.dumps({"cursor": position.encode()}).decode()
            try:
                await asyncio.wait_for(self._broadcast.publish(CHANNEL, message), PUBLISH_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception:  # the change is committed; other processes' polls catch up from the log
                log.warning("broadcast publish failed; other processes will catch up by polling", exc_info=True)

    async def _log_end(self) -> EventPosition:
        te = tables.ticket_events
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(te.c.txid, te.c.id)
                    .where(te.c.txid < HORIZON)
                    .order_by(te.c.txid.desc(), te.c.id.desc())
                    .limit(1)
                )
            ).first()
        return EventPosition(row[0], row[1]) if row else START

    async def _follow_broadcast(self) -> None:
        while True:
            try:
                async with self._broadcast.subscribe(CHANNEL) as subscriber:
                    self._listening.set()
                    async for message in subscriber:  # type: ignore[union-attr]
                        self._note_target(message.message if message is not None else None)
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast subscription failed; resubscribing")
                self._wake.set()
                await asyncio.sleep(1)

    def _note_target(self, message: str | None) -> None:
        """Remembers the newest cursor another process announced, so the reader keeps looking
        until it has delivered that far."""
        try:
            cursor = orjson.loads(message or "{}").get("cursor")
            position = EventPosition.decode(cursor) if isinstance(cursor, str) else None
        except (orjson.JSONDecodeError, AttributeError, InvalidInput):
            return
        if position is not None and (self._target is None or position > self._target):
            self._target = position

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        eager_until = 0.0
        while True:
            # Right after a wake, look again every 20 ms for a while: a committed event can be held
            # back by another transaction still running, and should follow as soon as that ends.
            # An announced cursor not yet reached keeps the reader eager (up to 30 s).
            now = loop.time()
            behind = self._target is not None and self._position < self._target and self._behind_since_ok(now)
            timeout = 0.02 if now < eager_until or behind else self._poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            if self._wake.is_set():
                eager_until = loop.time() + 1.0
            self._wake.clear()
            try:
                await self._drain_log()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be restarting: try again at the next wake or poll
                log.warning("reading the event log failed; retrying", exc_info=True)
                await asyncio.sleep(self._poll_interval)

    def _behind_since_ok(self, now: float) -> bool:
        """True while the reader has been behind an announced cursor for under 30 s."""
        if self._behind_since is None:
            self._behind_since = now
        return now - self._behind_since < 30.0

    async def _drain_log(self) -> None:
        while True:
            async with self._engine.connect() as conn:
                batch = await events_after(conn, self._position, 500)
            for event in batch:
                self._position = position_of(event)
                self.dispatched += 1
                if self._target is not None and self._position >= self._target:
                    self._target, self._behind_since = None, None
                for listener in list(self._listeners):
                    listener.offer(event)
            if len(batch) < 500:
                # Events held back by a still-running transaction: look again soon.
                return

    def register(self, prefilter: Prefilter, capacity: int = 10_000) -> Listener:
        listener = Listener(prefilter, capacity)
        self._listeners.add(listener)
        return listener

    def unregister(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    async def stream(
        self, prefilter: Prefilter, after: EventPosition | None = None, capacity: int = 10_000
    ) -> AsyncIterator[TicketEventRecord]:
        """Events accepted by `prefilter`, in cursor order: with `after`, every later event
        exactly once (replayed from the log), then the live stream."""
        listener = self.register(prefilter, capacity)
        try:
            last = after
            if after is not None:
                while True:
                    async with self._engine.connect() as conn:
                        batch = await events_after(conn, last or START, 500)
                    for event in batch:
                        last = position_of(event)
                        if prefilter(event):
                            yield event
                    if len(batch) < 500:
                        break
            while True:
                item = await listener.queue.get()
                if item is None:
                    if listener.overflowed:
                        raise ListenerOverflow("the subscriber fell behind; resume from the last cursor")
                    return
                if last is not None and position_of(item) <= last:
                    continue  # already replayed
                last = position_of(item)
                yield item
        finally:
            self.unregister(listener)


__all__ = ["CHANNEL", "EventHub", "Listener", "ListenerOverflow"]
