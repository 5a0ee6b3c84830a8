"""The IMAP fetcher: new mail of every enabled mailbox with IMAP settings goes to ingest_email.

`MailFetcher.run` keeps one watcher task per such mailbox, re-reading the list every
HELPDESK_MAIL_POLL_SECONDS: a mailbox created, changed (updated_at), disabled or deleted is
picked up within about one interval, without a restart.

Any number of processes may run it. A watcher fetches only while it holds its mailbox's session
advisory lock (`mail-fetch:<id>`) on a connection of its own; the others try again every
interval, and take over when the holder's connection ends (it stopped or died).

Per message: BODY.PEEK[] (fetching does not set \\Seen), ingest_email, THEN the taken flags
(fetch_plan.taken_flags), whatever the outcome. If ingest raises (the database is down), the
message is not flagged and is fetched again later; a crash between ingest and flag fetches it
again too, which ingest answers with DUPLICATE (its unique index on Message-ID): nothing doubles.

Waiting for mail: IMAP IDLE when the server offers it (woken by EXISTS, renewed every poll
interval and never after 29 minutes), else a poll every interval. A failure (refused connection,
login, TLS, a server gone mid-fetch) is written to mailboxes.last_error and retried after 5 s,
doubling to 5 min; a successful round clears it and sets last_fetched_at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.secrets import SecretKeyMissing, SecretUnreadable
from app.db import tables
from app.db.locks import session_lock
from app.db.repositories.mailboxes import mailboxes_by_ids
from app.domain.email.fetch_plan import (
    FailureKind,
    FetchFailure,
    error_text,
    idle_seconds,
    must_follow,
    plan_fetch,
    retry_delay,
)
from app.domain.email.parsing import conversation_keys
from app.domain.enums import MailSecurity
from app.domain.errors import NotFound
from app.domain.records import MailboxRecord
from app.mail_tls import mail_tls_context
from app.services.email_ingest import ingest_email
from app.services.imap_connection import ImapAccount, ImapConnection, ImapFailure
from app.services.mailboxes import mailbox_passwords
from app.services.runtime import Runtime

log = logging.getLogger("helpdesk.mail.fetcher")
mb = tables.mailboxes
T = TypeVar("T")
# Seconds an IMAP command may take before the connection counts as lost (IDLE waits longer).
IMAP_TIMEOUT = 60.0
# Messages of one mailbox ingested at once, and the size from which a message is ingested alone.
INGEST_AT_ONCE = 4
ALONE_FROM_BYTES = 1024 * 1024


def lock_name(mailbox_id: int) -> str:
    return f"mail-fetch:{mailbox_id}"


async def fetchable_mailboxes(rt: Runtime) -> dict[int, datetime]:
    """Enabled mailboxes with IMAP settings, with the time of their last change."""
    async with rt.reader.connect() as conn:
        rows = await conn.execute(select(mb.c.id, mb.c.updated_at).where(mb.c.enabled, mb.c.imap_host.isnot(None)))
        return {row.id: row.updated_at for row in rows}


async def _record(rt: Runtime, mailbox_id: int, error: str | None) -> None:
    """last_error (None: clears it, and last_fetched_at is now)."""
    values: dict[str, object] = {"last_error": error}
    if error is None:
        values["last_fetched_at"] = rt.clock.now()
    async with rt.transaction() as tx:
        await tx.conn.execute(update(mb).where(mb.c.id == mailbox_id).values(**values))


class _ConnectionThread:
    """The one thread an IMAP connection is used from: its calls block, IDLE for long."""

    def __init__(self, name: str) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=name)

    async def __call__(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)


class MailboxWatcher:
    """Fetches one mailbox for as long as it runs (one task), holding its lock while it does."""

    def __init__(self, rt: Runtime, mailbox_id: int) -> None:
        self.rt = rt
        self.mailbox_id = mailbox_id
        self.failures = 0
        self.taken = 0
        # Blanked out of any error text a server might echo them in.
        self._secrets: list[str] = []

    async def run(self) -> None:
        poll = self.rt.settings.mail_poll_seconds
        while True:
            try:
                async with session_lock(self.rt.engine, lock_name(self.mailbox_id)) as lock:
                    if lock is not None:
                        await self._fetch_while_holding(lock)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away under the lock: take it again later
                log.warning("mailbox %d: lost the fetch lock", self.mailbox_id, exc_info=True)
            await asyncio.sleep(poll)

    async def _fetch_while_holding(self, lock: AsyncConnection) -> None:
        while True:
            try:
                await self._session(lock)
            except ImapFailure as failed:
                await self._failed(error_text(failed.failure, self._secrets))
            except NotFound:
                return  # deleted: the fetcher ends this watcher
            except asyncio.CancelledError:
                raise
            except Exception:  # ingest or the database failed: nothing was flagged, try again
                log.warning("mailbox %d: fetching failed", self.mailbox_id, exc_info=True)
                await self._failed(None)
            await lock.scalar(select(1))  # still holding the lock, or out (raises)

    async def _failed(self, error: str | None) -> None:
        self.failures += 1
        delay = retry_delay(self.failures)
        if error is not None:
            log.warning("mailbox %d: %s (retry in %.0f s)", self.mailbox_id, error, delay)
            with contextlib.suppress(Exception):  # the database may be what is down
                await _record(self.rt, self.mailbox_id, error)
        await asyncio.sleep(delay)

    async def _account(self) -> tuple[MailboxRecord, ImapAccount]:
        async with self.rt.reader.connect() as conn:
            mailbox = (await mailboxes_by_ids(conn, [self.mailbox_id])).get(self.mailbox_id)
        if mailbox is None or mailbox.imap_host is None or mailbox.imap_port is None:
            raise NotFound("no such mailbox", ["id"])
        failure = FetchFailure(FailureKind.NO_PASSWORD, mailbox.imap_host, mailbox.imap_port)
        try:
            password, _ = await mailbox_passwords(self.rt, self.mailbox_id)
        except (SecretKeyMissing, SecretUnreadable):
            raise ImapFailure(failure) from None
        if password is None:
            raise ImapFailure(failure)
        self._secrets = [password]
        account = ImapAccount(
            host=mailbox.imap_host,
            port=mailbox.imap_port,
            security=MailSecurity(mailbox.imap_security or MailSecurity.TLS.value),
            username=mailbox.imap_username or "",
            password=password,
            folder=mailbox.imap_folder or "INBOX",
        )
        return mailbox, account

    async def _session(self, lock: AsyncConnection) -> None:
        """Connects, then takes new mail and waits for more, until something fails."""
        settings = self.rt.settings
        _, account = await self._account()
        call = _ConnectionThread(f"imap-{self.mailbox_id}")
        connection: ImapConnection | None = None
        try:
            connection = await call(ImapConnection.open, account, mail_tls_context(settings), IMAP_TIMEOUT)
            while True:
                await lock.scalar(select(1))  # still holding the lock
                await self._take_new(connection, call)
                self.failures = 0
                await _record(self.rt, self.mailbox_id, None)
                if connection.idle_supported:
                    await call(connection.idle, idle_seconds(settings.mail_poll_seconds))
                else:
                    await asyncio.sleep(settings.mail_poll_seconds)
        finally:
            if connection is not None:
                connection.abort()  # a thread blocked in IDLE returns at once
                call.executor.submit(connection.close)
            call.executor.shutdown(wait=False)

    async def _take_new(self, connection: ImapConnection, call: _ConnectionThread) -> None:
        """Downloads the new messages in mailbox order and ingests up to INGEST_AT_ONCE of them at
        a time (an ingest mostly waits for the database). A message waits for every earlier one
        it may thread onto (`must_follow`); each is flagged once its own ingest committed. The
        first failure stops the downloads, lets the ingests under way end, and is raised."""
        sizes = await call(connection.new_messages)
        running: list[tuple[frozenset[str] | None, asyncio.Task[None]]] = []
        try:
            for uid, limit in plan_fetch(sizes, self.rt.settings.max_email_bytes).steps():
                while sum(not task.done() for _, task in running) >= INGEST_AT_ONCE:
                    await asyncio.wait([task for _, task in running], return_when=asyncio.FIRST_COMPLETED)
                if any(task.done() and task.exception() for _, task in running):
                    break  # raised below
                running = [(keys, task) for keys, task in running if not task.done()]
                raw = await call(connection.download, uid, limit)
                if raw is None:
                    continue  # expunged meanwhile
                # A large message is ingested alone: several at once would hold several in memory.
                keys = conversation_keys(raw) if len(raw) <= ALONE_FROM_BYTES else None
                earlier = [task for earlier_keys, task in running if must_follow(keys, earlier_keys)]
                running.append((keys, asyncio.create_task(self._take_one(connection, call, uid, raw, earlier))))
        finally:
            if running:
                await asyncio.wait([task for _, task in running])
            failures = [task.exception() for _, task in running]  # each one retrieved
        first = next((failure for failure in failures if failure is not None), None)
        if first is not None:
            raise first

    async def _take_one(
        self,
        connection: ImapConnection,
        call: _ConnectionThread,
        uid: int,
        raw: bytes,
        earlier: list[asyncio.Task[None]],
    ) -> None:
        for task in earlier:
            await asyncio.shield(task)  # an earlier failure fails this one too: nothing is flagged
        result = await ingest_email(self.rt, None, self.mailbox_id, raw)
        await call(connection.mark_taken, uid)
        self.taken += 1
        log.info("mailbox %d: message UID %d: %s", self.mailbox_id, uid, result.outcome.value)


class MailFetcher:
    """Every fetchable mailbox, each watched by a task of its own in this process."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.watchers: dict[int, tuple[datetime, asyncio.Task[None]]] = {}

    async def run(self) -> None:
        """Runs for ever (until cancelled): re-reads the mailboxes every poll interval."""
        try:
            while True:
                try:
                    await self.refresh()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database is down: keep the watchers, look again later
                    log.warning("reading the mailboxes to fetch failed", exc_info=True)
                await asyncio.sleep(self.rt.settings.mail_poll_seconds)
        finally:
            await self._stop(list(self.watchers))

    async def refresh(self) -> None:
        wanted = await fetchable_mailboxes(self.rt)
        changed = [i for i, (version, task) in self.watchers.items() if wanted.get(i) != version or task.done()]
        await self._stop(changed)
        for mailbox_id, version in wanted.items():
            if mailbox_id not in self.watchers:
                task = asyncio.create_task(MailboxWatcher(self.rt, mailbox_id).run(), name=f"mail-fetch-{mailbox_id}")
                self.watchers[mailbox_id] = (version, task)

    async def _stop(self, mailbox_ids: list[int]) -> None:
        tasks = [self.watchers.pop(i)[1] for i in mailbox_ids]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
