"""Background work inside `helpdesk serve` and `helpdesk worker`: auto-close, the sweep of
unreferenced attachment bytes, the SLA scheduler, the IMAP fetcher and the mail sender, each safe
with any number of processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from typing import Any

from app.db.engine import create_engine
from app.services.attachments import sweep_unreferenced_blobs
from app.services.automation_runner import automations_loop
from app.services.lifecycle import close_resolved_tickets
from app.services.mail_fetcher import MailFetcher
from app.services.mail_sender import MailSender
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


class _OwnPoolTask:
    """A background loop inside `helpdesk serve` (or the worker) on its own small connection pool:
    API traffic cannot starve it, and it does not show in the API pool's statement counts."""

    def __init__(self, rt: Runtime, name: str, *, pool_size: int = 2, max_overflow: int = 2) -> None:
        assert rt.settings.database_url is not None
        self.engine = create_engine(rt.settings.database_url, pool_size=pool_size, max_overflow=max_overflow)
        self.runtime = replace(rt, engine=self.engine)
        self.task = asyncio.create_task(self.run(self.runtime), name=name)

    def run(self, rt: Runtime) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.engine.dispose()


class SlaSchedulerTask(_OwnPoolTask):
    """The SLA scheduler loop. Events it writes go to the same publisher as the API's."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt, "sla-scheduler")

    def run(self, rt: Runtime) -> Coroutine[Any, Any, None]:
        return scheduler_loop(rt)


class MailFetcherTask(_OwnPoolTask):
    """The IMAP fetcher: each fetched mailbox holds one connection (its lock) and uses one more
    while it ingests, so its pool grows with the mailboxes instead of queueing them."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt, "mail-fetcher", max_overflow=-1)

    def run(self, rt: Runtime) -> Coroutine[Any, Any, None]:
        return MailFetcher(rt).run()


class MailSenderTask(_OwnPoolTask):
    """The mail sender (a send holds its connection for the SMTP conversation). A bad
    HELPDESK_SMTP_URL raises here, at startup, before the loop starts."""

    def __init__(self, rt: Runtime) -> None:
        self.sender = MailSender(rt)
        super().__init__(rt, "mail-sender")

    def run(self, rt: Runtime) -> Coroutine[Any, Any, None]:
        self.sender.rt = rt
        return self.sender.loop()


class WebhooksTask(_OwnPoolTask):
    """The webhook fan-out and deliverer (a batch holds a connection while it POSTs; API
    traffic must not wait for that)."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt, "webhooks", pool_size=3)

    def run(self, rt: Runtime) -> Coroutine[Any, Any, None]:
        return webhooks(rt)


class AutomationsTask(_OwnPoolTask):
    """The automations consumer: fires event-triggered automations after their events commit."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt, "automations")

    def run(self, rt: Runtime) -> Coroutine[Any, Any, None]:
        return automations_loop(rt)


async def run_worker(settings: Settings, database_url: str, stop: asyncio.Event | None = None) -> None:
    """`helpdesk worker`: the SLA scheduler, the mail sender, the housekeeping sweeps and the IMAP
    fetcher, no HTTP. Runs until SIGTERM or SIGINT (or `stop` is set); any number of workers may
    run at once."""
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
        asyncio.create_task(webhooks(rt), name="webhooks"),
        asyncio.create_task(automations_loop(rt), name="automations"),
    ]
    mail_fetcher = MailFetcherTask(rt)
    log.info(
        "worker running: SLA scheduler, mail sender, IMAP fetcher, webhooks, automations, auto-close and the sweeps"
    )
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
