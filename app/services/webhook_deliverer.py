"""The webhook deliverer: POSTs queued deliveries, at least once, in order per (webhook, ticket).

Any number of processes may run it. A batch claims due deliveries with `FOR UPDATE SKIP LOCKED`
and holds the claim while it POSTs them (so each delivery has one deliverer at a time, and a
killed process lets go of its claim at once: the delivery is sent again, and receivers dedupe
on the event id). A delivery is claimable only while no earlier undelivered delivery of the same
(webhook, ticket) exists: a failing one holds back that ticket's later events for that webhook,
never other tickets, never other webhooks. Outcomes, retry times (app.domain.webhooks.retries)
and the webhook's failure count commit with the batch; HELPDESK_WEBHOOK_MAX_FAILURES
consecutive failures disable the webhook.

Throughput (benchmarks/webhook_bench.py): a process may run WORKERS batches at once (the claims
skip each other's rows and the earlier-row rule holds back a ticket's next event while one is in
flight, as between processes); each origin has up to PER_ORIGIN kept-alive connections (aiohttp:
httpx cost about 1 ms of CPU per delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    and_,
    bindparam,
    delete,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import aliased

from app.auth.secrets import SecretUnreadable, secret_box
from app.db import tables
from app.domain.enums import NotificationKind, WebhookDeliveryStatus
from app.domain.global_ids import encode
from app.domain.validation import Problems
from app.domain.webhooks import retries
from app.domain.webhooks.endpoint import Endpoint, parse_url
from app.domain.webhooks.signature import EVENT_ID_HEADER, HEADER, signature
from app.events.outbox import Outbox
from app.services.notification_triggers import admin_ids
from app.services.notifications import notify_agents
from app.services.runtime import Runtime
from app.services.webhook_targets import TargetRefused, checked_target

log = logging.getLogger("helpdesk.webhooks")

wh, wd = tables.webhooks, tables.webhook_deliveries
BATCH = 100
# Batches in flight per process. One is well above the 300/s target (benchmarks/webhook_bench.py).
# (The "two requests of one ticket at once" that tests/faults/test_webhooks_kill_serve.py once
# saw was a killed server's request still in the receiver when the other server sent the
# delivery again; the receiver now tells that apart from two live deliverers.)
WORKERS = 1
# Requests in flight (and kept-alive connections) per origin.
PER_ORIGIN = 16
UNDELIVERED = (WebhookDeliveryStatus.PENDING.value, WebhookDeliveryStatus.RETRYING.value)
# How long the delivery log is kept.
KEEP_LOG = timedelta(days=30)
USER_AGENT = "helpdesk-webhooks/1"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    webhook_id: int
    event_id: int
    body: str
    attempts: int
    created_at: datetime
    url: str
    secret_encrypted: str


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: Claimed
    succeeded: bool
    response_status: int | None
    response_body: str | None
    error: str | None


def _claim_statement() -> Any:
    """Due deliveries (`now`) of enabled webhooks, soonest first, each the earliest undelivered
    one of its (webhook, ticket); locked, skipping those another deliverer holds; at most `limit`.
    Built once, its parameters given per batch: building it cost more than its round trip."""
    earlier = aliased(wd)
    held_back = (
        select(literal_column("1"))
        .select_from(earlier)
        .where(
            earlier.c.webhook_id == wd.c.webhook_id,
            earlier.c.ticket_id == wd.c.ticket_id,
            earlier.c.id < wd.c.id,
            earlier.c.status.in_(UNDELIVERED),
        )
        .exists()
    )
    return (
        select(
            wd.c.id,
            wd.c.webhook_id,
            wd.c.event_id,
            wd.c.body,
            wd.c.attempts,
            wd.c.created_at,
            wh.c.url,
            wh.c.secret_encrypted,
        )
        .select_from(wd.join(wh, wh.c.id == wd.c.webhook_id))
        .where(
            wd.c.status.in_(UNDELIVERED),
            wd.c.next_attempt_at <= bindparam("now", type_=DateTime(timezone=True)),
            wh.c.enabled,
            wh.c.disabled_at.is_(None),
            ~held_back,
        )
        .order_by(wd.c.next_attempt_at, wd.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(of=wd, skip_locked=True)
    )


_CLAIM = _claim_statement()


class Sender:
    """POSTs signed bodies to checked addresses with aiohttp: the URL names the checked address
    (never the host name, which could resolve differently now), the Host header and TLS (SNI and
    the certificate's name) the URL's host. aiohttp keeps connections per (address, port, TLS
    name), so a connection verified for one name never carries another's requests."""

    MAX_ORIGINS = 256

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._session: aiohttp.ClientSession | None = None
        # For a request sent again after its kept connection was closed under it: a new
        # connection, closed after (another kept one may be closing just the same).
        self._fresh: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None
        # Requests in flight per pool of kept connections (aiohttp's key: scheme, address, port,
        # TLS name), waited for before the timeout starts.
        self._slots: OrderedDict[tuple[str, str, int, str | None], asyncio.Semaphore] = OrderedDict()

    def _client(self, fresh: bool = False) -> aiohttp.ClientSession:
        if fresh and self._fresh is not None:
            return self._fresh
        if not fresh and self._session is not None:
            return self._session
        # The system's CA certificates, loaded once; host names verified.
        self._tls = self._tls or ssl.create_default_context()
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=PER_ORIGIN, ssl=self._tls, force_close=fresh),
            # No proxies from the environment (they would connect by name, past the guard), no
            # cookies kept between deliveries, the body as sent (not decompressed).
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding",),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        if fresh:
            self._fresh = session
        else:
            self._session = session
        return session

    def _origin_slots(self, origin: tuple[str, str, int, str | None]) -> asyncio.Semaphore:
        found = self._slots.pop(origin, None) or asyncio.Semaphore(PER_ORIGIN)
        self._slots[origin] = found
        while len(self._slots) > self.MAX_ORIGINS:
            self._slots.popitem(last=False)
        return found

    async def close(self) -> None:
        for session in (self._session, self._fresh):
            if session is not None:
                await session.close()
        self._session = self._fresh = None

    async def post(self, endpoint: Endpoint, secret: str, event_id: int, body: bytes) -> tuple[int, bytes]:
        """(status code, at most 1 KB of the body); raises TargetRefused, TimeoutError or
        aiohttp.ClientError."""
        target = await checked_target(endpoint, self.rt.settings.webhook_allow_private)
        timestamp = int(self.rt.clock.now().timestamp())
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            HEADER: signature(secret, body, timestamp),
            EVENT_ID_HEADER: encode("TicketEvent", event_id),
        }
        server_name = endpoint.host if endpoint.scheme == "https" else None
        slots = self._origin_slots((endpoint.scheme, str(target.address), endpoint.port, server_name))
        # The wait for a connection is not the receiver's time: the timeout starts with the request.
        async with slots, asyncio.timeout(retries.TIMEOUT_SECONDS):
            try:
                return await self._exchange(target.url, headers, body, server_name)
            except aiohttp.ClientConnectorError:
                raise
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                # Closed before the answer, most often a kept connection the server closed as it
                # was reused (some close after every answer without saying so): once more on a
                # new connection, as aiohttp does for idempotent requests (receivers dedupe on the
                # event id, should it have arrived after all).
                return await self._exchange(target.url, headers, body, server_name, fresh=True)

    async def _exchange(
        self, url: str, headers: dict[str, str], body: bytes, server_name: str | None, fresh: bool = False
    ) -> tuple[int, bytes]:
        async with self._client(fresh).post(
            url, data=body, headers=headers, allow_redirects=False, server_hostname=server_name
        ) as response:
            kept = b""
            while len(kept) < retries.MAX_RESPONSE_BYTES:
                chunk = await response.content.read(retries.MAX_RESPONSE_BYTES - len(kept))
                if not chunk:
                    break
                kept += chunk
            # An answer not read to its end closes its connection (aiohttp keeps only whole ones).
            return response.status, kept


@functools.lru_cache(maxsize=1024)
def _endpoint(url: str) -> Endpoint | None:
    """A webhook's URL parsed once, not once per delivery."""
    return parse_url(Problems(), url, ["url"])


async def _attempt(sender: Sender, delivery: Claimed, secret: str | None) -> Outcome:
    if secret is None:
        return Outcome(delivery, False, None, None, "the signing secret cannot be decrypted")
    endpoint = _endpoint(delivery.url)
    if endpoint is None:
        return Outcome(delivery, False, None, None, "the URL is not valid")
    try:
        status, raw = await sender.post(endpoint, secret, delivery.event_id, delivery.body.encode())
    except TargetRefused as refused:
        return Outcome(delivery, False, None, None, f"refused: {refused}")
    except TimeoutError:
        return Outcome(delivery, False, None, None, f"no response within {retries.TIMEOUT_SECONDS:.0f} s")
    except aiohttp.ClientError as exc:
        return Outcome(delivery, False, None, None, f"{type(exc).__name__}: {exc}"[:500])
    shown = retries.stored_response(raw)
    if retries.succeeded(status):
        return Outcome(delivery, True, status, shown, None)
    reason = "redirect not followed" if 300 <= status < 400 else f"HTTP {status}"
    return Outcome(delivery, False, status, shown, reason)


def _secrets(rt: Runtime, claimed: list[Claimed]) -> dict[int, str | None]:
    box = secret_box(rt.settings)
    found: dict[int, str | None] = {}
    for d in claimed:
        if d.webhook_id not in found:
            try:
                found[d.webhook_id] = box.decrypt(d.secret_encrypted)
            except SecretUnreadable:
                found[d.webhook_id] = None
    return found


def _recorded(outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The delivery's row after this attempt."""
    d = outcome.delivery
    attempts = d.attempts + 1
    values: dict[str, Any] = {
        "delivery_id": d.id,
        "attempts": attempts,
        "response_status": outcome.response_status,
        "response_body": outcome.response_body,
        "last_error": outcome.error,
        "updated_at": now,
        "delivered_at": None,
    }
    if outcome.succeeded:
        values.update(status=WebhookDeliveryStatus.SUCCEEDED.value, next_attempt_at=None, delivered_at=now)
    else:
        retry_at = retries.next_attempt(attempts, d.created_at, now)
        status = WebhookDeliveryStatus.RETRYING if retry_at is not None else WebhookDeliveryStatus.FAILED
        values.update(status=status.value, next_attempt_at=retry_at)
    return values


# One statement for the whole batch (executemany).
RECORD = (
    update(wd)
    .where(wd.c.id == bindparam("delivery_id"))
    .values(
        {
            c: bindparam(c)
            for c in (
                "attempts",
                "response_status",
                "response_body",
                "last_error",
                "updated_at",
                "delivered_at",
                "status",
                "next_attempt_at",
            )
        }
    )
)


async def _count_failures(rt: Runtime, tx: Outbox, outcomes: list[Outcome], now: datetime) -> None:
    """Each webhook's run of consecutive failures, as this batch leaves it (in delivery order);
    the webhook is disabled when the run reaches HELPDESK_WEBHOOK_MAX_FAILURES."""
    by_webhook: dict[int, list[bool]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.delivery.id):
        by_webhook.setdefault(outcome.delivery.webhook_id, []).append(outcome.succeeded)
    limit = rt.settings.webhook_max_failures
    # Webhook rows in id order: two batches never wait for each other in opposite orders.
    for webhook_id in sorted(by_webhook):
        results = by_webhook[webhook_id]
        last_success = max((i for i, ok in enumerate(results) if ok), default=None)
        if last_success == len(results) - 1:
            # Only a webhook that had failures is written: a healthy one's row is left alone.
            healthy = update(wh).where(wh.c.id == webhook_id, wh.c.consecutive_failures != 0)
            await tx.conn.execute(healthy.values(consecutive_failures=0))
            continue
        count: ColumnElement[int] = (
            wh.c.consecutive_failures + len(results)
            if last_success is None
            else literal(len(results) - last_success - 1, Integer)
        )
        row = (
            await tx.conn.execute(
                update(wh)
                .where(wh.c.id == webhook_id)
                .values(consecutive_failures=count)
                .returning(wh.c.consecutive_failures, wh.c.disabled_at, wh.c.name)
            )
        ).first()
        if row is not None and row.consecutive_failures >= limit and row.disabled_at is None:
            await tx.conn.execute(
                update(wh).where(wh.c.id == webhook_id).values(enabled=False, disabled_at=now, updated_at=now)
            )
            message = f"Webhook {row.name} was disabled after {row.consecutive_failures} failed deliveries in a row"
            await notify_agents(tx, await admin_ids(tx), NotificationKind.AUTOMATION, None, message, now)
            log.warning(
                "webhook disabled after consecutive failures",
                extra={"webhook_id": webhook_id, "webhook": row.name, "failures": row.consecutive_failures},
            )


async def deliver_due(rt: Runtime, sender: Sender, limit: int = BATCH) -> int:
    """One batch: claims up to `limit` due deliveries, POSTs them concurrently, records the
    outcomes; returns how many were attempted."""
    now = rt.clock.now()
    async with rt.transaction() as tx:
        rows = (await tx.conn.execute(_CLAIM, {"now": now, "limit": limit})).all()
        if not rows:
            return 0
        claimed = [Claimed(*row) for row in rows]
        keys = _secrets(rt, claimed)
        outcomes = await asyncio.gather(*(_attempt(sender, d, keys[d.webhook_id]) for d in claimed))
        done = rt.clock.now()
        await tx.conn.execute(RECORD, [_recorded(outcome, done) for outcome in outcomes])
        await _count_failures(rt, tx, list(outcomes), done)
    return len(claimed)


async def next_due(rt: Runtime) -> datetime | None:
    async with rt.reader.connect() as conn:
        return await conn.scalar(select(func.min(wd.c.next_attempt_at)).where(wd.c.status.in_(UNDELIVERED)))


async def deliverer_loop(rt: Runtime, queued: asyncio.Event | None = None, idle: float | None = None) -> None:
    """Delivers until cancelled: WORKERS batches at a time while there is work, else a wait
    until the next retry falls due, new deliveries are queued in this process (`queued`), or
    HELPDESK_EVENT_POLL_SECONDS pass (deliveries queued by another process)."""
    sender = Sender(rt)
    try:
        await asyncio.gather(*(_worker(rt, sender, queued, idle) for _ in range(WORKERS)))
    finally:
        await sender.close()


async def _worker(rt: Runtime, sender: Sender, queued: asyncio.Event | None, idle: float | None) -> None:
    idle = idle if idle is not None else rt.settings.event_poll_seconds
    while True:
        try:
            if await deliver_due(rt, sender):
                continue
            upcoming = await next_due(rt)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep delivering: a database blip must not stop webhooks
            log.exception("webhook delivery batch failed")
            upcoming = None
        wait = idle
        if upcoming is not None:
            wait = min(idle, max(0.05, (upcoming - rt.clock.now()).total_seconds()))
        if queued is None:
            await asyncio.sleep(wait)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queued.wait(), wait)
        queued.clear()


async def sweep_delivery_log(rt: Runtime) -> int:
    """Deletes deliveries older than 30 days that are no longer waiting to be sent."""
    cutoff = rt.clock.now() - KEEP_LOG
    async with rt.transaction() as tx:
        result = await tx.conn.execute(
            delete(wd).where(and_(wd.c.created_at < cutoff, wd.c.status.not_in(UNDELIVERED)))
        )
    return result.rowcount or 0
