"""Background work inside `helpdesk serve` and `helpdesk worker`: auto-close, the sweep of
unreferenced attachment bytes, the SLA scheduler and the mail sender, each safe with any number
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
from app.services.mail_sender import MailSender
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


class MailSenderTask:
    """The mail sender inside `helpdesk serve`, on its own small pool like the SLA scheduler (a
    send holds its connection for the SMTP conversation). A bad HELPDESK_SMTP_URL raises here,
    at startup."""

    def __init__(self, rt: Runtime) -> None:
        assert rt.settings.database_url is not None
        sender = MailSender(rt)
        self.engine = create_engine(rt.settings.database_url, pool_size=2, max_overflow=2)
        sender.rt = replace(rt, engine=self.engine)
        self.task = asyncio.create_task(sender.loop(), name="mail-sender")

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.engine.dispose()


async def run_worker(settings: Settings, database_url: str, stop: asyncio.Event | None = None) -> None:
    """`helpdesk worker`: the SLA scheduler, the mail sender and the housekeeping sweeps, no HTTP. Runs until
    SIGTERM or SIGINT (or `stop` is set); any number of workers may run at once."""
    engine = create_engine(database_url, pool_size=3, max_overflow=2)
    rt = Runtime(engine=engine, settings=settings)
    sender = MailSender(rt)  # a bad HELPDESK_SMTP_URL stops the worker here
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows, not off the main thread
            loop.add_signal_handler(signum, stop.set)
    tasks = [
        asyncio.create_task(scheduler_loop(rt), name="sla-scheduler"),
        asyncio.create_task(housekeeping(rt), name="housekeeping"),
        asyncio.create_task(sender.loop(), name="mail-sender"),
    ]
    log.info("worker running: SLA scheduler, mail sender, auto-close and the attachment sweep")
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()
