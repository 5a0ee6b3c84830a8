"""addCustomerReply from a customer session with an idempotency key, through the real server: the
same key and message give the same comment (also when sent concurrently), the same key with
another message is DUPLICATE and writes nothing, and keys are the customer's own (another
customer's, or an agent's relaying, never meet theirs)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import text

from app.domain.enums import Channel
from app.services import customer_sign_in
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient

REPLY = """mutation($t: ID!, $body: String!, $key: String) {
  addCustomerReply(ticketId: $t, body: $body, idempotencyKey: $key) {
    comment { id body authorCustomer { name } }
    userErrors { field code }
  }
}"""
KEY = "portal-retry-7f3a"


@dataclass
class Customer:
    client: GraphQLClient
    ticket: str  # the global id of their ticket
    ticket_pk: int


async def signed_in_customer(rt: Runtime, admin: Actor, anonymous: GraphQLClient, email: str) -> Customer:
    ticket, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject="Parcel missing",
            description="Nothing came.",
            channel=Channel.API,
            customer=CustomerRef(email=email, name=email.split("@")[0]),
        ),
    )
    async with rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, rt.settings, ticket.customer_id, rt.clock.now())
    token = (await customer_sign_in.sign_in(rt, parse_qs(urlparse(link).query)["token"][0])).token
    return Customer(anonymous.as_(token), ids.encode("Ticket", ticket.id), ticket.id)


@pytest.fixture
async def li(rt: Runtime, admin: Actor, anonymous: GraphQLClient) -> Customer:
    return await signed_in_customer(rt, admin, anonymous, "li.lei@example.cn")


@pytest.fixture
async def han(rt: Runtime, admin: Actor, anonymous: GraphQLClient) -> Customer:
    return await signed_in_customer(rt, admin, anonymous, "han.meimei@example.cn")


async def reply(who: Customer, body: str, key: str | None = KEY, ticket: str | None = None) -> dict[str, Any]:
    data = await who.client.execute(REPLY, {"t": ticket or who.ticket, "body": body, "key": key})
    payload: dict[str, Any] = data["addCustomerReply"]
    return payload


async def comments_on(rt: Runtime, ticket_pk: int) -> list[str]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(text("SELECT body FROM comments WHERE ticket_id = :t ORDER BY id"), {"t": ticket_pk})
        return [body for (body,) in rows]


async def test_the_same_key_and_message_give_the_same_comment(rt: Runtime, li: Customer) -> None:
    first = await reply(li, "Still waiting for my parcel.")
    again = await reply(li, "Still waiting for my parcel.")

    assert first["userErrors"] == [] and again["userErrors"] == []
    assert again["comment"] == first["comment"]
    assert first["comment"]["authorCustomer"] == {"name": "li.lei"}
    assert await comments_on(rt, li.ticket_pk) == ["Still waiting for my parcel."]


async def test_the_same_key_with_another_message_is_duplicate_and_writes_nothing(rt: Runtime, li: Customer) -> None:
    await reply(li, "Still waiting for my parcel.")

    other = await reply(li, "Actually it arrived.")

    assert other == {"comment": None, "userErrors": [{"field": ["idempotencyKey"], "code": "DUPLICATE"}]}
    assert await comments_on(rt, li.ticket_pk) == ["Still waiting for my parcel."]


async def test_keys_are_the_customers_own(rt: Runtime, admin: Actor, li: Customer, han: Customer) -> None:
    mine, theirs = await reply(li, "Where is it?"), await reply(han, "Where is it?")
    # An agent relaying a message for Li with the same key makes a comment of its own too.
    relayed = (await admin.client.execute(REPLY, {"t": li.ticket, "body": "Where is it?", "key": KEY}))[
        "addCustomerReply"
    ]

    assert mine["userErrors"] == theirs["userErrors"] == relayed["userErrors"] == []
    assert len({mine["comment"]["id"], theirs["comment"]["id"], relayed["comment"]["id"]}) == 3
    assert await comments_on(rt, li.ticket_pk) == ["Where is it?", "Where is it?"]
    assert await comments_on(rt, han.ticket_pk) == ["Where is it?"]
    # Han's key does not reach Li's ticket either: it is simply not theirs.
    refused = await reply(han, "Where is it?", ticket=li.ticket)
    assert refused == {"comment": None, "userErrors": [{"field": ["ticketId"], "code": "NOT_FOUND"}]}


@pytest.mark.parametrize("key", ["", "x" * 201])
async def test_a_malformed_key_is_invalid_input(rt: Runtime, li: Customer, key: str) -> None:
    refused = await reply(li, "Hello", key=key)

    assert refused == {"comment": None, "userErrors": [{"field": ["idempotencyKey"], "code": "INVALID_INPUT"}]}
    assert await comments_on(rt, li.ticket_pk) == []


async def test_the_same_key_sent_concurrently_makes_one_comment(rt: Runtime, li: Customer) -> None:
    answers = await asyncio.gather(*(reply(li, "Sent from a flaky train connection.") for _ in range(12)))

    assert all(a["userErrors"] == [] for a in answers), answers
    assert len({a["comment"]["id"] for a in answers}) == 1
    assert await comments_on(rt, li.ticket_pk) == ["Sent from a flaky train connection."]
