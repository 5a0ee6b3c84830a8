"""The public web form through the real server: the ticket (channel WEB_FORM, the customer found
or created by email, only customer-facing fields), the acknowledgement at the recording SMTP
sink, the honeypot that writes nothing, the per-address and per-email limit (also across two
`helpdesk serve` processes), idempotency keys, attachments, and the suggestions the visitor was
shown counted as not self-served once they submit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.demo.mail_sink import MailSink
from app.services.mail_sender import MailSender
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import Actor
from tests.invariants import violations
from tests.processes import running_servers
from tests.support import GraphQLClient, ServerThread, load_document

SUBMIT = "portal/SubmitWebForm.graphql"
CREATE_FIELD = "console/admin/CreateTicketField.graphql"
TICKET = """query($n: Int!) { ticket(number: $n) {
  number subject description channel category customFields language
  customer { name email } attachments { filename size }
  history(first: 5) { edges { node { type actorAgent { id } actorCustomer { email } } } }
} }"""


@pytest.fixture
def mail_rt(engine: AsyncEngine, settings: Settings, sink: MailSink) -> Runtime:
    """A runtime whose system mail goes to the sink (the shared server sends no mail itself)."""
    return Runtime(engine=engine, settings=settings.model_copy(update={"smtp_url": SecretStr(sink.url)}))


def form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "王芳",
        "email": "wang.fang@example.cn",
        "subject": "退款还没到账",
        "description": "订单 SO-2024 退款一周了还没到账。",
        **overrides,
    }


def from_address(client: GraphQLClient, address: str) -> GraphQLClient:
    """The same server seen from another client address (uvicorn trusts X-Forwarded-For from 127.0.0.1)."""
    other = GraphQLClient(client.base_url, client.http, client.token)
    other.headers = {"X-Forwarded-For": address}
    return other


async def submit(client: GraphQLClient, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    data = await client.run(SUBMIT, {"input": input, "idempotencyKey": key})
    payload: dict[str, Any] = data["submitWebForm"]
    return payload


async def counts(engine: AsyncEngine) -> dict[str, int]:
    names = ("tickets", "customers", "email_deliveries", "web_form_submissions", "attachments", "idempotency_keys")
    async with engine.connect() as conn:
        return {
            n: (await conn.execute(select(func.count()).select_from(tables.metadata.tables[n]))).scalar_one()
            for n in names
        }


NOTHING = {
    "tickets": 0,
    "customers": 0,
    "email_deliveries": 0,
    "web_form_submissions": 0,
    "attachments": 0,
    "idempotency_keys": 0,
}


async def test_a_visitor_submits_the_form_and_the_acknowledgement_reaches_them(
    anonymous: GraphQLClient, admin: Actor, mail_rt: Runtime, sink: MailSink
) -> None:
    await admin.client.mutate(
        CREATE_FIELD,
        {
            "input": {
                "key": "orderId",
                "label": "订单号",
                "type": "TEXT",
                "visibleToCustomer": True,
                "requiredOnCreate": True,
            }
        },
    )
    payload = await submit(anonymous, form(customFields={"orderId": "SO-2024"}, language="zh"))
    assert payload["userErrors"] == []
    number = payload["ticketNumber"]
    assert isinstance(number, int)

    ticket = (await admin.client.execute(TICKET, {"n": number}))["ticket"]
    assert ticket["channel"] == "WEB_FORM"
    assert ticket["customer"] == {"name": "王芳", "email": "wang.fang@example.cn"}
    assert ticket["customFields"] == {"orderId": "SO-2024"}
    assert ticket["language"] == "zh"
    created = ticket["history"]["edges"][0]["node"]
    assert created == {"type": "CREATED", "actorAgent": None, "actorCustomer": {"email": "wang.fang@example.cn"}}

    assert await MailSender(mail_rt).send_due() == 1
    (mail,) = await asyncio.wait_for(sink.wait_for(1), 10)
    assert mail.to == ("王芳 <wang.fang@example.cn>",)
    assert f"#{number}" in mail.subject and "退款还没到账" in mail.subject
    assert f"#{number}" in mail.text and "We received your request" in mail.text and "我们已收到" in mail.text
    assert mail.header("Auto-Submitted") == "auto-replied"


async def test_a_second_submission_finds_the_same_customer(anonymous: GraphQLClient, admin: Actor) -> None:
    first = await submit(anonymous, form())
    second = await submit(anonymous, form(email="WANG.FANG@example.cn", name="Fang", subject="另一个问题"))
    assert first["userErrors"] == second["userErrors"] == []
    one = (await admin.client.execute(TICKET, {"n": first["ticketNumber"]}))["ticket"]
    two = (await admin.client.execute(TICKET, {"n": second["ticketNumber"]}))["ticket"]
    assert one["customer"] == two["customer"] == {"name": "王芳", "email": "wang.fang@example.cn"}


async def test_a_filled_honeypot_is_dropped_quietly_and_writes_nothing(
    anonymous: GraphQLClient, engine: AsyncEngine
) -> None:
    payload = await submit(anonymous, form(website="http://cheap-pills.example"), key="bot-1")
    assert payload == {"ticketNumber": None, "userErrors": []}
    # Even an invalid form is not answered with errors: a bot learns nothing.
    payload = await submit(anonymous, form(email="not an address", website="x"))
    assert payload == {"ticketNumber": None, "userErrors": []}
    assert await counts(engine) == NOTHING


async def test_bad_fields_are_reported_together_and_nothing_is_written(
    anonymous: GraphQLClient, admin: Actor, engine: AsyncEngine
) -> None:
    await admin.client.mutate(
        CREATE_FIELD,
        {
            "input": {
                "key": "orderId",
                "label": "订单号",
                "type": "TEXT",
                "visibleToCustomer": True,
                "requiredOnCreate": True,
            }
        },
    )
    await admin.client.mutate(CREATE_FIELD, {"input": {"key": "riskScore", "label": "Risk", "type": "NUMBER"}})
    payload = await submit(anonymous, form(name=" ", email="wang.fang@", subject="x" * 501, description=""))
    fields = {tuple(e["field"]) for e in payload["userErrors"]}
    assert fields == {("input", "name"), ("input", "email"), ("input", "subject"), ("input", "description")}
    assert {e["code"] for e in payload["userErrors"]} == {"INVALID_INPUT"}
    assert payload["ticketNumber"] is None

    # An agents-only field is unknown to the form; a required customer-facing one must be given.
    payload = await submit(anonymous, form(customFields={"riskScore": 9}))
    fields = {tuple(e["field"]) for e in payload["userErrors"]}
    assert ("input", "customFields", "riskScore") in fields
    assert ("input", "customFields", "orderId") in fields
    payload = await submit(anonymous, form(email=""))
    assert [tuple(e["field"]) for e in payload["userErrors"]] == [("input", "email")]
    assert (await counts(engine))["tickets"] == 0
    assert (await counts(engine))["web_form_submissions"] == 0


async def post_with_file(http: httpx.AsyncClient, url: str, input: dict[str, Any], content: bytes) -> dict[str, Any]:
    operations = {"query": load_document(SUBMIT), "variables": {"input": {**input, "attachments": [None]}}}
    response = await http.post(
        f"{url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.attachments.0"]})},
        files={"0": ("receipt.txt", content, "text/plain")},
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["submitWebForm"]
    return payload


@pytest.fixture
def strict_server(settings: Settings) -> Iterator[ServerThread]:
    """Two submissions per 10 minutes, 64-byte attachments."""
    thread = ServerThread(settings.model_copy(update={"web_form_limit": "2/600", "max_attachment_bytes": 64}))
    thread.start()
    yield thread
    thread.stop()


async def test_attachments_within_the_upload_limit_are_kept_and_a_larger_one_refuses_the_form(
    strict_server: ServerThread, http: httpx.AsyncClient, admin: Actor, engine: AsyncEngine
) -> None:
    payload = await post_with_file(http, strict_server.url, form(), b"x" * 65)
    assert [e["field"] for e in payload["userErrors"]] == [["input", "attachments", "0"]]
    assert await counts(engine) | {"customers": 0} == NOTHING

    payload = await post_with_file(http, strict_server.url, form(), b"receipt 2024")
    assert payload["userErrors"] == []
    ticket = (await admin.client.execute(TICKET, {"n": payload["ticketNumber"]}))["ticket"]
    assert ticket["attachments"] == [{"filename": "receipt.txt", "size": 12}]


async def test_the_limit_holds_per_client_address_and_per_email_address(
    strict_server: ServerThread, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(strict_server.url, http)
    here = from_address(client, "203.0.113.7")
    assert (await submit(here, form(email="a@example.com")))["userErrors"] == []
    assert (await submit(here, form(email="b@example.com")))["userErrors"] == []
    refused = await submit(here, form(email="c@example.com"))
    assert refused["ticketNumber"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    assert "try again in 10 minutes" in refused["userErrors"][0]["message"]

    # One email address from two networks: the address's own limit.
    assert (await submit(from_address(client, "198.51.100.1"), form(email="d@example.com")))["userErrors"] == []
    assert (await submit(from_address(client, "198.51.100.2"), form(email="d@example.com")))["userErrors"] == []
    refused = await submit(from_address(client, "198.51.100.3"), form(email="d@example.com"))
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    assert (await counts(engine))["tickets"] == 4


async def test_an_idempotency_key_gives_the_first_ticket_back_and_counts_once(
    strict_server: ServerThread, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = from_address(GraphQLClient(strict_server.url, http), "192.0.2.10")
    results = await asyncio.gather(*(submit(client, form(), key="form-load-42") for _ in range(6)))
    assert all(r["userErrors"] == [] for r in results)
    assert len({r["ticketNumber"] for r in results}) == 1
    assert (await counts(engine))["tickets"] == 1
    assert (await counts(engine))["web_form_submissions"] == 2  # the client address and the email, once

    # The key with other content is refused; another person's same key is theirs alone.
    changed = await submit(client, form(subject="别的问题"), key="form-load-42")
    assert [e["code"] for e in changed["userErrors"]] == ["DUPLICATE"]
    other = await submit(client, form(email="li.lei@example.cn"), key="form-load-42")
    assert other["userErrors"] == [] and other["ticketNumber"] != results[0]["ticketNumber"]
    async with engine.connect() as conn:
        assert await violations(conn) == []


async def test_concurrent_submissions_across_two_processes_make_exactly_the_limit(
    database_url: str, rt: Runtime
) -> None:
    with running_servers(database_url, 2, {"HELPDESK_WEB_FORM_LIMIT": "3/600"}) as servers:
        async with httpx.AsyncClient(timeout=60) as http:
            clients = [from_address(GraphQLClient(s.url, http), "203.0.113.99") for s in servers]
            results = await asyncio.gather(
                *(submit(clients[i % 2], form(email=f"visitor{i}@example.com")) for i in range(12))
            )
            accepted = [r for r in results if r["userErrors"] == []]
            refused = [r for r in results if r["userErrors"]]
            assert len(accepted) == 3
            assert {e["code"] for r in refused for e in r["userErrors"]} == {"FORBIDDEN"}
            async with rt.engine.connect() as conn:
                tickets = await conn.scalar(select(func.count()).select_from(tables.tickets))
            assert tickets == 3


async def test_suggestions_shown_before_the_form_was_sent_did_not_serve_the_visitor(
    anonymous: GraphQLClient, engine: AsyncEngine
) -> None:
    visitor = from_address(anonymous, "192.0.2.77")
    for typed in ("退款", "退款还没"):
        await visitor.run("portal/SuggestArticles.graphql", {"subject": typed})
    payload = await submit(visitor, form())
    s = tables.article_searches
    async with engine.connect() as conn:
        rows = (await conn.execute(select(s.c.query, s.c.ticket_id).order_by(s.c.id))).all()
        ticket_id = await conn.scalar(
            select(tables.tickets.c.id).where(tables.tickets.c.number == payload["ticketNumber"])
        )
    assert [(q, tid) for q, tid in rows] == [("退款", ticket_id), ("退款还没", ticket_id)]


def test_a_malformed_limit_stops_startup_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="count/seconds"):
        Settings(web_form_limit="five per minute")
    assert Settings(web_form_limit="5/600").web_form_rate_limit.seconds == 600


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "a" * 5000 + "@example.com"}, ["input", "email"]),
        ({"customFields": [1, 2]}, ["input", "customFields"]),
        ({"customFields": {"k": "x" * 40_000}}, ["input", "customFields"]),
        ({"language": "english please"}, ["input", "language"]),
        ({"category": "c" * 65}, ["input", "category"]),
        ({"name": "x" * 201}, ["input", "name"]),
        ({"description": "bad \u0007 bell"}, ["input", "description"]),
    ],
)
async def test_hostile_input_is_invalid_input_at_its_path_and_writes_nothing(
    anonymous: GraphQLClient, engine: AsyncEngine, overrides: dict[str, Any], field: list[str]
) -> None:
    payload = await submit(anonymous, form(**overrides), key="k" if "name" in overrides else None)
    assert payload["ticketNumber"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID_INPUT")]
    assert await counts(engine) == NOTHING
