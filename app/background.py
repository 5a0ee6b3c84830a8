"""Background work inside `helpdesk serve` and `helpdesk worker`: auto-close, the sweep of
unreferenced attachment bytes and the SLA scheduler, each safe with any number of processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from app.db.engine import create_engine
from app.services.attachments import sweep_unreferenced_blobs
from app.services.lifecycle import close_resolved_tickets
from app.services.runtime import Runtime
from app.services.sla_scheduler import scheduler_loop
from app.services.webhook_deliverer import deliverer_loop, sweep_delivery_log
from app.services.webhook_fanout import fanout_loop
from app.settings import Settings

log = logging.getLogger("helpdesk.background")


async def _periodically(every: float, what: str, sweep: Callable[[], Awaitable[int]]) -> None:
    while True:
        try:
            done = await sweep()
            if done:
                log.info("%s: %d", what, done)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep sweeping: a database blip must not end housekeeping
            log.exception("%s failed", what)
        await asyncio.sleep(every)


async def auto_close_loop(rt: Runtime, every: float = 60.0) -> None:
    """Closes RESOLVED tickets older than HELPDESK_AUTO_CLOSE_AFTER; rows are claimed with
    SKIP LOCKED, so several processes running this loop never close a ticket twice."""
    older_than = timedelta(hours=rt.settings.auto_close_after_hours)
    await _periodically(every, "auto-closed resolved tickets", lambda: close_resolved_tickets(rt, older_than))


async def blob_sweep_loop(rt: Runtime, every: float = 600.0) -> None:
    """Removes attachment bytes no row references, an hour after they were written."""
    await _periodically(every, "removed unreferenced attachment blobs", lambda: sweep_unreferenced_blobs(rt))


async def webhook_log_sweep_loop(rt: Runtime, every: float = 3600.0) -> None:
    """Removes webhook deliveries older than 30 days (the delivery log's retention)."""
    await _periodically(every, "removed old webhook deliveries", lambda: sweep_delivery_log(rt))


async def housekeeping(rt: Runtime) -> None:
    """Every periodic sweep, together: one task for `helpdesk serve` and `helpdesk worker`."""
    await asyncio.gather(auto_close_loop(rt), blob_sweep_loop(rt), webhook_log_sweep_loop(rt))


async def webhooks(rt: Runtime) -> None:
    """The webhook fan-out and deliverer, together; the deliverer wakes as soon as this process
    queued deliveries (else it looks every HELPDESK_EVENT_POLL_SECONDS)."""
    queued = asyncio.Event()
    await asyncio.gather(fanout_loop(rt, queued), deliverer_loop(rt, queued))


class SlaSchedulerTask:
    """The SLA scheduler loop inside `helpdesk serve`, on its own small connection pool (API
    traffic cannot starve it, and it does not show up in the API pool's statement counts).
    Events it writes go to the same publisher as the API's."""

    def __init__(self, rt: Runtime) -> None:
        assert rt.settings.database_url is not None
        self.engine = create_engine(rt.settings.database_url, pool_size=2, max_overflow=2)
        self.runtime = replace(rt, engine=self.engine)
        self.task = asyncio.create_task(scheduler_loop(self.runtime), name="sla-scheduler")

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.engine.dispose()


class WebhooksTask:
    """The webhook fan-out and deliverer inside `helpdesk serve`, on a small pool of their own
    (a batch holds a connection while it POSTs; API traffic must not wait for that)."""

    def __init__(self, rt: Runtime) -> None:
        assert rt.settings.database_url is not None
        self.engine = create_engine(rt.settings.database_url, pool_size=3, max_overflow=2)
        self.task = asyncio.create_task(webhooks(replace(rt, engine=self.engine)), name="webhooks")

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.engine.dispose()


async def run_worker(settings: Settings, database_url: str, stop: asyncio.Event | None = None) -> None:
    """`helpdesk worker`: the SLA scheduler and the housekeeping sweeps, no HTTP. Runs until
    SIGTERM or SIGINT (or `stop` is set); any number of workers may run at once."""
    engine = create_engine(database_url, pool_size=3, max_overflow=2)
    rt = Runtime(engine=engine, settings=settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows, not off the main thread
            loop.add_signal_handler(signum, stop.set)
    tasks = [
        asyncio.create_task(scheduler_loop(rt), name="sla-scheduler"),
        asyncio.create_task(housekeeping(rt), name="housekeeping"),
        asyncio.create_task(webhooks(rt), name="webhooks"),
    ]
    log.info("worker running: SLA scheduler, webhooks, auto-close and the sweeps")
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()
