"""Customers sign in by link, through the real server and the real SMTP sink: the request, the
mail, the link, the session and currentCustomer; single use (also under a race), expiry, forged
links, the same answer (and about the same time) for unknown addresses, and the rate limits."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import tokens
from app.clock import ManualClock
from app.db import tables
from app.demo.mail_sink import MailSink
from app.domain.enums import Channel
from app.services import tickets as ticket_service
from app.services.customer_sign_in import LINK_LIFETIME, revoke_customer_credentials
from app.services.customers import CustomerRef
from app.services.mail_sender import MailSender
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread

REQUEST = "mutation($e: String!) { requestCustomerSignIn(email: $e) { accepted userErrors { code message field } } }"
SIGN_IN = (
    "mutation($t: String!) { customerSignIn(linkToken: $t) "
    "{ token customer { id name email } userErrors { code message field } } }"
)
CURRENT = "query { currentCustomer { id name email } }"
KNOWN = "li.lei@example.cn"
# Far ahead of the wall clock: nothing else in the session sends these deliveries.
AHEAD = datetime(2031, 5, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AHEAD)


@pytest.fixture
def customer_settings(settings: Settings, sink: MailSink) -> Settings:
    return settings.model_copy(
        update={
            "run_mail": False,
            "run_scheduler": False,
            "smtp_url": SecretStr(f"smtp://127.0.0.1:{sink.port}"),
            "public_url": "https://help.example.cn",
            "mail_from": "noreply@help.example.cn",
        }
    )


@pytest.fixture
def rt(engine: AsyncEngine, customer_settings: Settings, clock: ManualClock) -> Runtime:
    return Runtime(engine=engine, settings=customer_settings, clock=clock)


@pytest.fixture
def portal(customer_settings: Settings, clock: ManualClock) -> Iterator[ServerThread]:
    thread = ServerThread(customer_settings, clock=clock)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def client(portal: ServerThread, anonymous: GraphQLClient) -> GraphQLClient:
    return GraphQLClient(portal.url, anonymous.http)


async def known_customer(rt: Runtime, admin: Actor, email: str = KNOWN) -> int:
    new = ticket_service.NewTicket(
        subject="退款", description="未收到货", channel=Channel.API, customer=CustomerRef(email=email, name="李雷")
    )
    record, _ = await ticket_service.create_ticket(rt, admin.principal, new)
    return record.customer_id


async def request(client: GraphQLClient, email: str) -> dict[str, object]:
    result = await client.post(REQUEST, {"e": email})
    assert not result.get("errors"), result
    payload: dict[str, object] = result["data"]["requestCustomerSignIn"]
    return payload


async def mailed_link(rt: Runtime, sink: MailSink, count: int = 1) -> str:
    """Sends what is queued and returns the link of the `count`-th mail the sink caught."""
    await MailSender(rt).send_due()
    async with asyncio.timeout(20):
        mails = await sink.wait_for(count)
    body = mails[count - 1].message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https://\S+", body.get_content())
    assert found is not None
    return found.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


async def sign_in(client: GraphQLClient, link_token: str) -> dict[str, object]:
    result = await client.post(SIGN_IN, {"t": link_token})
    assert not result.get("errors"), result
    payload: dict[str, object] = result["data"]["customerSignIn"]
    return payload


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_customer_signs_in_by_the_mailed_link_and_reads_who_they_are(
    client: GraphQLClient, rt: Runtime, sink: MailSink, admin: Actor, engine: AsyncEngine
) -> None:
    customer_id = await known_customer(rt, admin)
    assert await request(client, "  Li.Lei@Example.CN ") == {"accepted": True, "userErrors": []}
    link = await mailed_link(rt, sink)
    mail = sink.messages[0]
    assert mail.recipients == (KNOWN,)
    assert "sign-in" in mail.subject.lower() or "登录" in mail.subject
    parsed = urlparse(link)
    assert f"{parsed.scheme}://{parsed.netloc}" == "https://help.example.cn"
    assert "sign-in" in parsed.path
    secret = token_of(link)
    # Only the digest is stored.
    async with engine.connect() as conn:
        stored = (await conn.execute(select(tables.customer_sign_in_links.c.token_hash))).scalars().all()
    assert stored == [tokens.digest(secret)]

    signed_in = await sign_in(client, secret)
    assert signed_in["userErrors"] == []
    token = signed_in["token"]
    assert isinstance(token, str) and token.startswith("hdc_")
    assert signed_in["customer"] == {"id": signed_in["customer"]["id"], "name": "李雷", "email": KNOWN}  # type: ignore[index]
    me = await client.as_(token).execute(CURRENT)
    assert me["currentCustomer"]["email"] == KNOWN
    # Agents get null; anonymous callers too.
    assert (await admin.client.execute(CURRENT))["currentCustomer"] is None
    assert (await client.execute(CURRENT))["currentCustomer"] is None
    # The session lives HELPDESK_CUSTOMER_SESSION_TTL_HOURS.
    async with engine.connect() as conn:
        expires = (await conn.execute(select(tables.customer_sessions.c.expires_at))).scalar_one()
    assert expires == AHEAD + timedelta(hours=rt.settings.customer_session_ttl_hours)
    assert customer_id


async def test_a_link_works_once_and_not_after_fifteen_minutes(
    client: GraphQLClient, rt: Runtime, sink: MailSink, admin: Actor, clock: ManualClock, engine: AsyncEngine
) -> None:
    await known_customer(rt, admin)
    await request(client, KNOWN)
    first = token_of(await mailed_link(rt, sink, 1))
    assert (await sign_in(client, first))["userErrors"] == []
    sessions = await count(engine, tables.customer_sessions)
    reused = await sign_in(client, first)
    assert reused["token"] is None and [e["code"] for e in reused["userErrors"]] == ["INVALID_INPUT"]  # type: ignore[union-attr]
    assert await count(engine, tables.customer_sessions) == sessions

    await request(client, KNOWN)
    second = token_of(await mailed_link(rt, sink, 2))
    clock.advance(LINK_LIFETIME + timedelta(seconds=1))
    expired = await sign_in(client, second)
    assert [e["code"] for e in expired["userErrors"]] == ["INVALID_INPUT"]  # type: ignore[union-attr]
    assert await count(engine, tables.customer_sessions) == sessions


@pytest.mark.parametrize("forged", ["", "hdl_", "hdl_" + "A" * 43, "hds_whatever", "x" * 5000, "hdc_abc"])
async def test_a_forged_link_is_invalid_input_and_writes_nothing(
    client: GraphQLClient, forged: str, engine: AsyncEngine
) -> None:
    result = await sign_in(client, forged)
    assert result["token"] is None and result["customer"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("INVALID_INPUT", ["linkToken"])]  # type: ignore[union-attr]
    assert await count(engine, tables.customer_sessions) == 0


async def test_one_link_used_by_many_at_once_opens_exactly_one_session(
    client: GraphQLClient, rt: Runtime, sink: MailSink, admin: Actor, engine: AsyncEngine
) -> None:
    await known_customer(rt, admin)
    await request(client, KNOWN)
    secret = token_of(await mailed_link(rt, sink))
    results = await asyncio.gather(*(sign_in(client, secret) for _ in range(12)))
    opened = [r for r in results if r["token"]]
    assert len(opened) == 1
    assert all([e["code"] for e in r["userErrors"]] == ["INVALID_INPUT"] for r in results if not r["token"])  # type: ignore[union-attr]
    assert await count(engine, tables.customer_sessions) == 1


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    client: GraphQLClient, rt: Runtime, sink: MailSink, engine: AsyncEngine
) -> None:
    assert await request(client, "nobody@example.cn") == {"accepted": True, "userErrors": []}
    await MailSender(rt).send_due()
    assert await count(engine, tables.email_deliveries) == 0
    assert await count(engine, tables.customer_sign_in_links) == 0
    assert sink.messages == []


@pytest.mark.parametrize("malformed", ["", "   ", "not-an-address", "a@", "@b.cn", "x" * 300 + "@example.cn"])
async def test_a_malformed_address_is_invalid_input(client: GraphQLClient, malformed: str) -> None:
    payload = await request(client, malformed)
    assert payload["accepted"] is False
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["email"])]  # type: ignore[union-attr]


async def test_a_merged_away_address_signs_in_the_customer_it_was_merged_into(
    client: GraphQLClient, rt: Runtime, sink: MailSink, admin: Actor
) -> None:
    from app.services.customer_merge import merge_customers

    target = await known_customer(rt, admin)
    source = await known_customer(rt, admin, "old.address@example.cn")
    await merge_customers(rt, admin.principal, source, target)
    await request(client, "old.address@example.cn")
    signed_in = await sign_in(client, token_of(await mailed_link(rt, sink)))
    assert signed_in["customer"]["email"] == KNOWN  # type: ignore[index]


async def test_requests_are_limited_per_address_and_per_client_alike_for_known_and_unknown(
    client: GraphQLClient, rt: Runtime, admin: Actor, engine: AsyncEngine
) -> None:
    await known_customer(rt, admin)
    per_address = rt.settings.customer_sign_in_per_address
    for address in (KNOWN, "stranger@example.cn"):
        for _ in range(per_address):
            assert (await request(client, address))["accepted"] is True
        refused = await request(client, address)
        assert refused["accepted"] is False
        (error,) = refused["userErrors"]  # type: ignore[misc]
        assert error["code"] == "FORBIDDEN"
        minutes = rt.settings.customer_sign_in_window_minutes
        assert error["message"] == f"too many sign-in requests; try again in {minutes} minutes"
    # Per client: this client has made 2 * per_address accepted requests; fresh addresses run
    # out at the client's limit.
    left = rt.settings.customer_sign_in_per_client - 2 * per_address
    outcomes = [(await request(client, f"new{i}@example.cn"))["accepted"] for i in range(left + 1)]
    assert outcomes == [True] * left + [False]
    links = await count(engine, tables.customer_sign_in_links)
    assert links == per_address  # only the known address got links


async def test_concurrent_requests_never_pass_the_limit(client: GraphQLClient, engine: AsyncEngine) -> None:
    results = await asyncio.gather(*(request(client, "racer@example.cn") for _ in range(12)))
    assert sum(1 for r in results if r["accepted"]) == 5
    async with engine.connect() as conn:
        counted = (
            await conn.execute(
                select(func.count())
                .select_from(tables.customer_sign_in_requests)
                .where(tables.customer_sign_in_requests.c.subject == "email:racer@example.cn")
            )
        ).scalar_one()
    assert counted == 5


@pytest.fixture
def roomy_portal(customer_settings: Settings, clock: ManualClock) -> Iterator[ServerThread]:
    roomy = customer_settings.model_copy(
        update={"customer_sign_in_per_address": 1000, "customer_sign_in_per_client": 1000}
    )
    thread = ServerThread(roomy, clock=clock)
    thread.start()
    yield thread
    thread.stop()


async def test_known_and_unknown_addresses_take_about_the_same_time(
    roomy_portal: ServerThread, anonymous: GraphQLClient, rt: Runtime, admin: Actor
) -> None:
    await known_customer(rt, admin)
    client = GraphQLClient(roomy_portal.url, anonymous.http)
    timings: dict[str, list[float]] = {KNOWN: [], "unknown@example.cn": []}
    for _ in range(30):
        for address, seen in timings.items():
            started = time.perf_counter()
            assert (await request(client, address))["accepted"] is True
            seen.append(time.perf_counter() - started)
    known, unknown = (statistics.median(seen) for seen in timings.values())
    # The answer waits a common floor; a known address's extra writes hide inside it.
    assert abs(known - unknown) < 0.05, (known, unknown)


async def test_revoked_credentials_end_sessions_and_void_unused_links(
    client: GraphQLClient, rt: Runtime, sink: MailSink, admin: Actor
) -> None:
    customer_id = await known_customer(rt, admin)
    await request(client, KNOWN)
    session = (await sign_in(client, token_of(await mailed_link(rt, sink, 1))))["token"]
    await request(client, KNOWN)
    unused = token_of(await mailed_link(rt, sink, 2))
    assert isinstance(session, str)
    assert (await client.as_(session).execute(CURRENT))["currentCustomer"] is not None
    async with rt.engine.begin() as conn:
        await revoke_customer_credentials(conn, customer_id, rt.clock.now())
    # Revoked behind the server's back (eraseCustomer announces it; see
    # test_a_revoked_credential_is_refused_by_every_process_at_once): noticed within the period.
    await asyncio.sleep(rt.settings.credential_recheck_seconds)
    # A revoked session is no credential at all: the caller is anonymous.
    assert (await client.as_(session).execute(CURRENT))["currentCustomer"] is None
    assert [e["code"] for e in (await sign_in(client, unused))["userErrors"]] == ["INVALID_INPUT"]  # type: ignore[union-attr]
