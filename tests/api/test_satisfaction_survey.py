"""Satisfaction surveys through the real server and the recording SMTP sink: one survey mail per
resolution with a working single-use link, sub-scores, a low score tagging the ticket and telling
the supervisors (rateTicket too), DUPLICATE after an answer or a rateTicket rating, forged and
expired tokens, concurrent answers with one token, and no mail to a customer without a
deliverable address."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.demo.mail_sink import CapturedMail, MailSink
from app.services.mail_sender import MailSender
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread

SURVEY = "portal/SubmitSurvey.graphql"
CREATE = "partner/CreateTicket.graphql"
START, RESOLVE, REOPEN = "console/StartTicket.graphql", "console/ResolveTicket.graphql", "console/ReopenTicket.graphql"
RATE = "partner/RateTicket.graphql"
NOTIFICATIONS = "console/Notifications.graphql"
TICKET = "query($id: ID!) { ticket(id: $id) { tags satisfaction { score speed professionalism attitude comment } } }"
CUSTOMER = "zhang.wei@example.cn"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def survey_server(settings: Settings, clock: ManualClock) -> Iterator[ServerThread]:
    """A server on a clock the test moves (survey expiry), with the portal's public URL."""
    thread = ServerThread(settings.model_copy(update={"public_url": "https://help.example.cn"}), clock=clock)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def mail_rt(engine: AsyncEngine, settings: Settings, sink: MailSink) -> Runtime:
    return Runtime(engine=engine, settings=settings.model_copy(update={"smtp_url": SecretStr(sink.url)}))


@pytest.fixture
def staff(survey_server: ServerThread, http: httpx.AsyncClient, admin: Actor) -> GraphQLClient:
    return GraphQLClient(survey_server.url, http, admin.token)


@pytest.fixture
def visitor(survey_server: ServerThread, http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(survey_server.url, http)


async def new_ticket(staff: GraphQLClient, customer: dict[str, Any] | None = None) -> str:
    input = {
        "subject": "发票抬头错了",
        "description": "Invoice INV-88 has the wrong company name.",
        "channel": "API",
        "customer": customer or {"email": CUSTOMER, "name": "张伟"},
    }
    ticket_id: str = (await staff.mutate(CREATE, {"input": input}))["ticket"]["id"]
    return ticket_id


async def resolve(staff: GraphQLClient, ticket_id: str) -> None:
    await staff.mutate(START, {"id": ticket_id})
    await staff.mutate(RESOLVE, {"id": ticket_id, "resolution": "Reissued the invoice."})


async def resolved_ticket(staff: GraphQLClient) -> str:
    ticket_id = await new_ticket(staff)
    await resolve(staff, ticket_id)
    return ticket_id


async def survey_mails(mail_rt: Runtime, sink: MailSink, count: int) -> list[CapturedMail]:
    await MailSender(mail_rt).send_due()
    return await asyncio.wait_for(sink.wait_for(count), 10)


def token_in(mail: CapturedMail) -> str:
    (link,) = set(re.findall(r"https://help\.example\.cn/\S+", mail.text))  # in both languages
    url = urlparse(link)
    assert url.path == "/examples/portal/survey.html"
    (token,) = parse_qs(url.query)["token"]
    return token


async def answer(client: GraphQLClient, token: str, score: int, **more: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.run(SURVEY, {"surveyToken": token, "score": score, **more}))[
        "submitSatisfactionSurvey"
    ]
    return payload


async def ratings(engine: AsyncEngine) -> tuple[int, int]:
    te = tables.ticket_events
    async with engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(tables.satisfaction_ratings))
        events = await conn.scalar(select(func.count()).select_from(te).where(te.c.type == "RATED"))
    return rows or 0, events or 0


async def test_resolving_mails_one_survey_whose_link_rates_the_ticket_once(
    staff: GraphQLClient, visitor: GraphQLClient, mail_rt: Runtime, sink: MailSink, engine: AsyncEngine
) -> None:
    ticket_id = await resolved_ticket(staff)
    (mail,) = await survey_mails(mail_rt, sink, 1)
    assert mail.to == (f"张伟 <{CUSTOMER}>",)
    assert "How did we do?" in mail.subject and "请评价" in mail.subject
    assert "速度" in mail.text and "14" in mail.text
    token = token_in(mail)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(tables.satisfaction_surveys.c.token_hash))).scalars().all()
    assert token not in stored and len(stored) == 1  # only the digest

    payload = await answer(visitor, token, 4, speed=5, professionalism=4, attitude=3, comment="快，谢谢")
    assert payload["userErrors"] == []
    assert payload["rating"] | {"ratedAt": None} == {
        "score": 4,
        "speed": 5,
        "professionalism": 4,
        "attitude": 3,
        "comment": "快，谢谢",
        "ratedAt": None,
    }
    ticket = (await staff.execute(TICKET, {"id": ticket_id}))["ticket"]
    assert ticket["satisfaction"]["score"] == 4 and "low-csat" not in ticket["tags"]

    again = await answer(visitor, token, 1)
    assert [e["code"] for e in again["userErrors"]] == ["DUPLICATE"]
    assert again["rating"] is None
    assert await ratings(engine) == (1, 1)


async def test_a_low_score_tags_the_ticket_and_tells_the_supervisors(
    staff: GraphQLClient, visitor: GraphQLClient, mail_rt: Runtime, sink: MailSink
) -> None:
    ticket_id = await resolved_ticket(staff)
    (mail,) = await survey_mails(mail_rt, sink, 1)
    payload = await answer(visitor, token_in(mail), 2, attitude=1)
    assert payload["userErrors"] == []
    ticket = (await staff.execute(TICKET, {"id": ticket_id}))["ticket"]
    assert "low-csat" in ticket["tags"]
    # The ticket has no group: its supervisors are the admins.
    notes = (await staff.run(NOTIFICATIONS))["notifications"]["edges"]
    assert [n["node"]["kind"] for n in notes] == ["LOW_SATISFACTION"]
    assert notes[0]["node"]["ticket"]["id"] == ticket_id


async def test_a_low_rate_ticket_rating_follows_the_same_rule_and_makes_the_survey_a_duplicate(
    staff: GraphQLClient, visitor: GraphQLClient, mail_rt: Runtime, sink: MailSink
) -> None:
    ticket_id = await resolved_ticket(staff)
    (mail,) = await survey_mails(mail_rt, sink, 1)
    await staff.mutate(RATE, {"id": ticket_id, "score": 1, "comment": "on the phone"})
    ticket = (await staff.execute(TICKET, {"id": ticket_id}))["ticket"]
    assert "low-csat" in ticket["tags"]
    assert [n["node"]["kind"] for n in (await staff.run(NOTIFICATIONS))["notifications"]["edges"]] == [
        "LOW_SATISFACTION"
    ]
    payload = await answer(visitor, token_in(mail), 5)
    assert [e["code"] for e in payload["userErrors"]] == ["DUPLICATE"]


async def test_forged_expired_and_out_of_range_answers_write_nothing(
    staff: GraphQLClient,
    visitor: GraphQLClient,
    mail_rt: Runtime,
    sink: MailSink,
    clock: ManualClock,
    engine: AsyncEngine,
) -> None:
    await resolved_ticket(staff)
    (mail,) = await survey_mails(mail_rt, sink, 1)
    token = token_in(mail)

    for forged in ("hdr_" + "A" * 43, "", "x" * 5000):
        payload = await answer(visitor, forged, 5)
        assert [e["code"] for e in payload["userErrors"]] == ["INVALID_INPUT"], forged[:10]
        assert [e["field"] for e in payload["userErrors"]] == [["surveyToken"]]

    payload = await answer(visitor, token, 6, speed=0, attitude=9)
    assert {tuple(e["field"]) for e in payload["userErrors"]} == {("score",), ("speed",), ("attitude",)}
    assert {e["code"] for e in payload["userErrors"]} == {"INVALID_INPUT"}
    payload = await answer(visitor, token, 3, comment="好" * 5001)
    assert [e["field"] for e in payload["userErrors"]] == [["comment"]]

    clock.advance(timedelta(days=14, seconds=1))
    payload = await answer(visitor, token, 5)
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_INPUT"]
    assert await ratings(engine) == (0, 0)


async def test_one_token_sent_many_times_at_once_rates_once(
    staff: GraphQLClient, visitor: GraphQLClient, mail_rt: Runtime, sink: MailSink, engine: AsyncEngine
) -> None:
    await resolved_ticket(staff)
    (mail,) = await survey_mails(mail_rt, sink, 1)
    token = token_in(mail)
    results = await asyncio.gather(*(answer(visitor, token, 5) for _ in range(12)))
    codes = sorted(e["code"] for r in results for e in r["userErrors"])
    assert codes == ["DUPLICATE"] * 11
    assert sum(1 for r in results if r["rating"] is not None) == 1
    assert await ratings(engine) == (1, 1)


async def test_each_resolution_mails_its_own_survey_and_the_rating_stays_one_per_ticket(
    staff: GraphQLClient, visitor: GraphQLClient, mail_rt: Runtime, sink: MailSink, engine: AsyncEngine
) -> None:
    ticket_id = await resolved_ticket(staff)
    (first,) = await survey_mails(mail_rt, sink, 1)
    await staff.mutate(REOPEN, {"id": ticket_id, "reason": "still wrong"})
    # Reopened: the link waits for the next resolution.
    payload = await answer(visitor, token_in(first), 4)
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TRANSITION"]
    await staff.mutate(RESOLVE, {"id": ticket_id, "resolution": "Reissued again."})
    mails = await survey_mails(mail_rt, sink, 2)
    second = mails[1]
    assert token_in(second) != token_in(first)

    assert (await answer(visitor, token_in(first), 4))["userErrors"] == []
    payload = await answer(visitor, token_in(second), 4)
    assert [e["code"] for e in payload["userErrors"]] == ["DUPLICATE"]
    assert await ratings(engine) == (1, 1)


async def test_no_survey_without_a_deliverable_address(
    staff: GraphQLClient, mail_rt: Runtime, engine: AsyncEngine
) -> None:
    await resolve(staff, await new_ticket(staff, {"phone": "+86 138 0000 0000", "name": "电话客户"}))
    bounced = await new_ticket(staff)
    async with engine.begin() as conn:
        await conn.execute(update(tables.customers).values(email_bounced_at=datetime.now(UTC)))
    await resolve(staff, bounced)
    async with engine.connect() as conn:
        surveys = await conn.scalar(select(func.count()).select_from(tables.satisfaction_surveys))
        deliveries = await conn.scalar(select(func.count()).select_from(tables.email_deliveries))
    assert (surveys, deliveries) == (0, 0)
