"""Background work inside `helpdesk serve` and `helpdesk worker`: auto-close, the sweep of
unreferenced attachment bytes, the SLA scheduler and the IMAP fetcher, each safe with any number
of processes."""

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
from app.services.mail_fetcher import MailFetcher
from app.services.runtime import Runtime
from app.services.sla_scheduler import scheduler_loop
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


async def housekeeping(rt: Runtime) -> None:
    """Every periodic sweep, together: one task for `helpdesk serve` and `helpdesk worker`."""
    await asyncio.gather(auto_close_loop(rt), blob_sweep_loop(rt))


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


class MailFetcherTask:
    """The IMAP fetcher inside `helpdesk serve` or `helpdesk worker`, on its own pool: each
    fetched mailbox holds one connection (its lock) and uses one more while it ingests, so the
    pool grows with the mailboxes instead of queueing them behind API traffic."""

    def __init__(self, rt: Runtime) -> None:
        assert rt.settings.database_url is not None
        self.engine = create_engine(rt.settings.database_url, pool_size=2, max_overflow=-1)
        self.runtime = replace(rt, engine=self.engine)
        self.task = asyncio.create_task(MailFetcher(self.runtime).run(), name="mail-fetcher")

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.engine.dispose()


async def run_worker(settings: Settings, database_url: str, stop: asyncio.Event | None = None) -> None:
    """`helpdesk worker`: the SLA scheduler, the housekeeping sweeps and the IMAP fetcher, no HTTP. Runs until
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
    ]
    mail_fetcher = MailFetcherTask(rt)
    log.info("worker running: SLA scheduler, auto-close, the attachment sweep and the IMAP fetcher")
    try:
        await stop.wait()
    finally:
        await mail_fetcher.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()
