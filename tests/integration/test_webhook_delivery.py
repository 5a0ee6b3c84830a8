"""Webhook fan-out and delivery to a real receiver in its own process (the partner example with
test controls, tests/webhook_receiver.py), with time on a ManualClock: signed bodies exactly as
documented, filters, retries with backoff, in order per (webhook, ticket) with a failing ticket
holding back only itself, a receiver that is down then back, giving up after 24 hours,
disabling after consecutive failures, redelivery, the SSRF guard at delivery, the 30-day log.

These tests use a database of their own: the session's server runs its own fan-out and
deliverer, which must not take part here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, update

from app.clock import ManualClock
from app.db import tables
from app.db.engine import create_engine, sync_url
from app.domain.enums import AgentRole, Channel, CommentVisibility, TicketEventType, WebhookDeliveryStatus
from app.domain.global_ids import encode
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.domain.webhooks.settings import WebhookInput
from app.events.cursors import EventPosition
from app.services import agents as agent_service
from app.services import auth, conversation, event_consumers, tickets, webhooks
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.webhook_deliverer import Sender, deliver_due, sweep_delivery_log
from app.services.webhook_fanout import CONSUMER, fanout_handler
from app.settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY
from tests.support import empty_database, free_port, own_test_database
from tests.webhook_receiver import Receiver, partner_receiver

wd, wh = tables.webhook_deliveries, tables.webhooks
START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
NOTE = "INTERNAL: the customer's card looks stolen (wombatcheck)"


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    yield from own_test_database()


@pytest.fixture
async def wrt(own_database: str) -> AsyncIterator[Runtime]:
    sync = create_sync_engine(sync_url(own_database), isolation_level="AUTOCOMMIT")
    empty_database(sync)
    sync.dispose()
    engine = create_engine(own_database, pool_size=5, max_overflow=5)
    settings = Settings(
        database_url=own_database,
        log_json=False,
        secret_key=TEST_SECRET_KEY,
        webhook_allow_private=True,
        webhook_max_failures=10,
    )
    rt = Runtime(engine=engine, settings=settings, clock=ManualClock(START))
    async with engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, CONSUMER)
    yield rt
    await engine.dispose()


@pytest.fixture
async def admin(wrt: Runtime) -> Principal:
    email = "ada@example.com"
    await agent_service.create_agent(
        wrt, None, agent_service.NewAgent(name="Ada", email=email, password=PASSWORD, role=AgentRole.ADMIN)
    )
    login = await auth.login(wrt, email, PASSWORD, None)
    principal = await auth.authenticate(wrt, login.token)
    assert principal is not None
    return principal


@pytest.fixture
async def sender(wrt: Runtime) -> AsyncIterator[Sender]:
    sender = Sender(wrt)
    yield sender
    await sender.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    made = Receiver(tmp_path, free_port(), secret="")
    yield made
    made.stop()


async def hook(rt: Runtime, admin: Principal, receiver: Receiver, **options: Any) -> int:
    """A webhook to the receiver, which is started with its secret."""
    created = await webhooks.create_webhook(rt, admin, WebhookInput(name="partner", url=receiver.url, **options))
    assert created.secret is not None
    receiver.secret = created.secret
    receiver.start()
    return created.webhook.id


async def new_ticket(rt: Runtime, admin: Principal, n: int) -> TicketRecord:
    ticket, _ = await tickets.create_ticket(
        rt, admin, tickets.NewTicket(f"order {n}", "text", Channel.API, CustomerRef(email=f"c{n}@example.cn"))
    )
    return ticket


async def touch(rt: Runtime, ticket: TicketRecord, times: int = 1, group_id: int | None = None) -> None:
    for _ in range(times):
        async with rt.transaction() as tx:
            await tx.append(
                ticket_id=ticket.id, group_id=group_id, type=TicketEventType.UPDATED, occurred_at=rt.clock.now()
            )


async def pump(rt: Runtime, sender: Sender) -> int:
    """Fans out what the log has and delivers everything due now; returns attempts made."""
    while await event_consumers.consume_batch(rt, CONSUMER, fanout_handler(rt)):
        pass
    attempts = 0
    while made := await deliver_due(rt, sender):
        attempts += made
    return attempts


async def log_events(rt: Runtime, ticket_ids: list[int] | None = None) -> list[dict[str, Any]]:
    te = tables.ticket_events
    query = select(te.c.id, te.c.txid, te.c.ticket_id, te.c.type).order_by(te.c.txid, te.c.id)
    if ticket_ids is not None:
        query = query.where(te.c.ticket_id.in_(ticket_ids))
    async with rt.reader.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def deliveries(rt: Runtime) -> list[dict[str, Any]]:
    async with rt.reader.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(wd).order_by(wd.c.id))]


def by_ticket(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Event ids per ticket id (global ids), in the order given."""
    order: dict[str, list[str]] = {}
    for e in events:
        order.setdefault(e["ticket"]["id"], []).append(e["id"])
    return order


def expected_by_ticket(logged: list[dict[str, Any]]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for e in logged:
        order.setdefault(encode("Ticket", e["ticket_id"]), []).append(encode("TicketEvent", e["id"]))
    return order


async def test_each_event_is_posted_signed_with_the_documented_body(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    before = await new_ticket(wrt, admin, 0)  # before the webhook: never delivered
    await hook(wrt, admin, receiver)
    ticket = await new_ticket(wrt, admin, 1)
    await conversation.add_comment(wrt, admin, ticket.id, NOTE, CommentVisibility.INTERNAL)

    assert await pump(wrt, sender) == 2
    logged = await log_events(wrt, [ticket.id])
    assert [e["type"] for e in logged] == ["CREATED", "COMMENTED"]
    requests = receiver.requests()
    assert [r["eventId"] for r in requests] == [encode("TicketEvent", e["id"]) for e in logged]
    assert all(encode("Ticket", before.id) not in r["body"] for r in requests)

    verify = partner_receiver().verify_signature
    now = wrt.clock.now().timestamp()
    for request, event in zip(requests, logged, strict=True):
        raw = request["body"].encode()
        assert verify(receiver.secret, raw, request["signature"], now=now)
        assert not verify(receiver.secret, raw + b" ", request["signature"], now=now)
        assert not verify("whsec_other", raw, request["signature"], now=now)
        assert not verify(receiver.secret, raw, request["signature"], now=now + 301)  # a replay, later
        body = json.loads(raw)
        assert list(body) == ["id", "cursor", "type", "occurredAt", "ticket", "data"]
        assert body["id"] == request["eventId"] == encode("TicketEvent", event["id"])
        assert body["cursor"] == EventPosition(event["txid"], event["id"]).encode()
        assert body["type"] == event["type"]
        assert body["ticket"] == {
            "id": encode("Ticket", ticket.id),
            "number": ticket.number,
            "status": body["ticket"]["status"],
            "priority": ticket.priority,
            "groupId": None,
            "assigneeId": None,
            "customerId": encode("Customer", ticket.customer_id),
        }
    commented = json.loads(requests[1]["body"])
    assert commented["data"]["visibility"] == "INTERNAL"
    assert commented["data"]["commentId"].startswith(encode("Comment", 1)[:4])
    assert all("wombatcheck" not in r["body"] for r in requests)
    rows = await deliveries(wrt)
    assert [(r["status"], r["attempts"], r["response_status"]) for r in rows] == [("SUCCEEDED", 1, 200)] * 2
    assert rows[0]["response_body"] == "new"
    assert [e["id"] for e in receiver.events()] == [r["eventId"] for r in requests]


async def test_event_types_and_groups_filter_and_disabled_webhooks_get_nothing(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    first = await agent_service.create_group(wrt, None, agent_service.NewGroup(name="售后"))
    second = await agent_service.create_group(wrt, None, agent_service.NewGroup(name="Sales"))
    webhook = await hook(wrt, admin, receiver, event_types=[TicketEventType.UPDATED], group_ids=[first.id])
    off = await webhooks.create_webhook(wrt, admin, WebhookInput(name="off", url=receiver.url + "?off", enabled=False))
    ticket = await new_ticket(wrt, admin, 1)  # CREATED: another type
    await touch(wrt, ticket, group_id=first.id)
    await touch(wrt, ticket, group_id=second.id)
    await touch(wrt, ticket, group_id=None)

    await pump(wrt, sender)
    logged = await log_events(wrt, [ticket.id])
    wanted = [encode("TicketEvent", logged[1]["id"])]
    assert [r["eventId"] for r in receiver.requests()] == wanted
    assert {r["webhook_id"] for r in await deliveries(wrt)} == {webhook}
    assert off.webhook.id != webhook


async def test_a_failing_ticket_is_retried_with_backoff_and_holds_back_only_itself(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    await hook(wrt, admin, receiver)
    stuck = await new_ticket(wrt, admin, 1)
    await touch(wrt, stuck, times=2)
    receiver.failing(True)
    assert await pump(wrt, sender) == 1  # the first of the ticket; the others wait behind it
    (first, *waiting) = await deliveries(wrt)
    assert (first["status"], first["attempts"], first["response_status"]) == ("RETRYING", 1, 500)
    assert first["last_error"] == "HTTP 500"
    assert first["next_attempt_at"] == START + timedelta(seconds=10)
    assert [w["status"] for w in waiting] == ["PENDING", "PENDING"]

    # Another ticket goes out meanwhile: only the failing one's events are held back.
    receiver.failing(False)
    other = await new_ticket(wrt, admin, 2)
    await touch(wrt, other)
    assert await pump(wrt, sender) == 2
    got = [r for r in receiver.requests() if r["answered"] == 200]
    assert set(by_ticket([json.loads(r["body"]) for r in got])) == {encode("Ticket", other.id)}

    # Still failing at the retry: the next one is a minute later.
    receiver.failing(True)
    wrt.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
    assert await pump(wrt, sender) == 1
    (first, *_) = await deliveries(wrt)
    assert (first["attempts"], first["next_attempt_at"]) == (2, START + timedelta(seconds=70))

    receiver.failing(False)
    wrt.clock.advance(timedelta(seconds=60))  # type: ignore[attr-defined]
    await pump(wrt, sender)
    delivered = [json.loads(r["body"]) for r in receiver.requests() if r["answered"] == 200]
    assert by_ticket(delivered) == expected_by_ticket(await log_events(wrt))
    assert {r["status"] for r in await deliveries(wrt)} == {"SUCCEEDED"}


async def test_a_receiver_down_then_back_gets_every_event_in_order_per_ticket(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    await hook(wrt, admin, receiver)
    made = [await new_ticket(wrt, admin, n) for n in range(3)]
    await pump(wrt, sender)
    receiver.stop()  # down: connections are refused
    for ticket in made:
        await touch(wrt, ticket, times=3)
    await conversation.add_comment(wrt, admin, made[0].id, "public reply", CommentVisibility.PUBLIC)
    assert await pump(wrt, sender) == 3  # one per ticket, then they wait
    rows = await deliveries(wrt)
    assert {r["last_error"].split(":")[0] for r in rows if r["status"] == "RETRYING"} == {"ClientConnectorError"}
    # Thirty seconds of outage: the retries at 10 s and 70 s find it down, then up again.
    wrt.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
    assert await pump(wrt, sender) == 3
    wrt.clock.advance(timedelta(seconds=20))  # type: ignore[attr-defined]
    receiver.start()
    assert await pump(wrt, sender) == 0  # nothing due before the next retry
    wrt.clock.advance(timedelta(seconds=40))  # type: ignore[attr-defined]
    await pump(wrt, sender)

    delivered = receiver.events()
    assert by_ticket(delivered) == expected_by_ticket(await log_events(wrt))
    assert len({e["id"] for e in delivered}) == len(await log_events(wrt))
    assert {r["status"] for r in await deliveries(wrt)} == {"SUCCEEDED"}


async def test_after_24_hours_a_delivery_fails_and_the_ticket_moves_on(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    await hook(wrt, admin, receiver)
    ticket = await new_ticket(wrt, admin, 1)
    receiver.failing(True)
    await pump(wrt, sender)
    schedule = []
    while (row := (await deliveries(wrt))[0])["status"] == "RETRYING":
        schedule.append(row["next_attempt_at"] - wrt.clock.now())
        wrt.clock.set(row["next_attempt_at"])  # type: ignore[attr-defined]
        await pump(wrt, sender)
    assert schedule[:5] == [
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
    ]
    assert row["status"] == "FAILED" and row["next_attempt_at"] is None
    assert wrt.clock.now() - START <= timedelta(hours=24)

    receiver.failing(False)
    await touch(wrt, ticket)
    await pump(wrt, sender)
    assert [r["status"] for r in await deliveries(wrt)] == ["FAILED", "SUCCEEDED"]


async def test_consecutive_failures_disable_the_webhook_until_it_is_enabled_again(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    rt = replace(wrt, settings=wrt.settings.model_copy(update={"webhook_max_failures": 3}))
    sender.rt = rt
    webhook = await hook(rt, admin, receiver)
    receiver.failing(True)
    for n in range(3):
        await new_ticket(rt, admin, n)
    await pump(rt, sender)
    (record,) = (await webhooks.webhooks_for(rt, [webhook])).values()
    assert (record.enabled, record.consecutive_failures, record.disabled_at) == (False, 3, START)
    # The admins are told, once.
    async with rt.engine.connect() as conn:
        told = (
            await conn.execute(
                select(tables.notifications.c.agent_id, tables.notifications.c.kind, tables.notifications.c.message)
            )
        ).all()
    assert [(a, k) for a, k, _ in told] == [(admin.agent_id, "AUTOMATION")]
    assert "partner" in told[0].message and "3 failed deliveries in a row" in told[0].message

    receiver.failing(False)
    rt.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    assert await pump(rt, sender) == 0  # a disabled webhook's deliveries wait
    updated = await webhooks.update_webhook(rt, admin, webhook, WebhookInput(name="partner", url=receiver.url))
    assert (updated.enabled, updated.consecutive_failures, updated.disabled_at) == (True, 0, None)
    assert await pump(rt, sender) == 3
    assert {r["status"] for r in await deliveries(rt)} == {"SUCCEEDED"}


async def test_redelivery_sends_the_same_event_again_and_the_receiver_dedupes_it(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    await hook(wrt, admin, receiver)
    await new_ticket(wrt, admin, 1)
    await pump(wrt, sender)
    (row,) = await deliveries(wrt)
    again = await webhooks.redeliver(wrt, admin, row["id"])
    assert again.status == WebhookDeliveryStatus.PENDING.value
    await pump(wrt, sender)
    requests = receiver.requests()
    assert len(requests) == 2 and requests[0]["body"] == requests[1]["body"]
    assert len(receiver.events()) == 1
    (row,) = await deliveries(wrt)
    assert (row["status"], row["attempts"], row["response_body"]) == ("SUCCEEDED", 2, "duplicate")


async def test_a_host_that_turned_private_is_refused_at_delivery(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    await hook(wrt, admin, receiver)
    await new_ticket(wrt, admin, 1)
    sender.rt = replace(wrt, settings=wrt.settings.model_copy(update={"webhook_allow_private": False}))
    await pump(wrt, sender)
    (row,) = await deliveries(wrt)
    assert row["status"] == "RETRYING"
    assert row["last_error"] == "refused: the host resolves to a loopback address (127.0.0.1)"
    assert receiver.requests() == []


async def test_the_delivery_log_keeps_30_days(
    wrt: Runtime, admin: Principal, receiver: Receiver, sender: Sender
) -> None:
    await hook(wrt, admin, receiver)
    await new_ticket(wrt, admin, 1)
    await pump(wrt, sender)
    wrt.clock.advance(timedelta(days=29))  # type: ignore[attr-defined]
    await new_ticket(wrt, admin, 2)
    await pump(wrt, sender)
    wrt.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    assert await sweep_delivery_log(wrt) == 1
    (kept,) = await deliveries(wrt)
    assert kept["created_at"] == START + timedelta(days=29)
    async with wrt.engine.begin() as conn:  # an undelivered one is never swept
        await conn.execute(update(wd).values(status="RETRYING", created_at=START))
    assert await sweep_delivery_log(wrt) == 0
