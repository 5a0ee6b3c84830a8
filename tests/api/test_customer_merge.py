"""mergeCustomers through the real server: tickets, comments, ratings and history move to the
target, the source's address keeps finding the target, bad input writes nothing, and merges
raced across two server processes lose no ticket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from schema import ids
from tests.api.test_email import ingest, mailbox  # noqa: F401  (fixture)
from tests.conftest import Actor
from tests.processes import running_servers
from tests.support import GraphQLClient, ServerThread, load_document

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

MERGE = "console/MergeCustomers.graphql"
CREATE_TICKET = "partner/CreateTicket.graphql"
CUSTOMER = "console/Customer.graphql"
ADD_COMMENT = "console/AddComment.graphql"


async def ticket_from(client: GraphQLClient, email: str, subject: str = "Broken kettle") -> dict[str, Any]:
    payload = await client.mutate(
        CREATE_TICKET,
        {
            "input": {
                "subject": subject,
                "description": "它到的时候就坏了。",
                "channel": "API",
                "customer": {"email": email},
            }
        },
    )
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


@pytest.fixture
async def supervisor(make_actor: MakeActor) -> Actor:
    return await make_actor(AgentRole.SUPERVISOR)


async def test_a_merge_moves_tickets_comments_ratings_and_history_and_the_sources_mail_finds_the_target(
    admin: Actor,
    supervisor: Actor,
    mailbox: dict[str, Any],  # noqa: F811
    rt: Runtime,
    http: httpx.AsyncClient,
    server: ServerThread,
) -> None:
    old = await ticket_from(admin.client, "han.meimei@old-shop.cn", "Order 1 late")
    new = await ticket_from(admin.client, "meimei@example.cn", "Order 2 broken")
    source_id, target_id = old["customer"]["id"], new["customer"]["id"]
    async with rt.engine.begin() as conn:
        await conn.execute(tables.satisfaction_ratings.insert().values(ticket_id=ids.decode(old["id"])[1], score=4))
        await conn.execute(
            tables.comments.insert().values(
                ticket_id=ids.decode(old["id"])[1],
                body="还有一个问题",
                visibility="PUBLIC",
                author_customer_id=ids.decode(source_id)[1],
            )
        )

    payload = (await supervisor.client.run(MERGE, {"sourceId": source_id, "targetId": target_id}))["mergeCustomers"]

    assert payload["userErrors"] == []
    assert payload["customer"]["id"] == target_id
    assert payload["customer"]["email"] == "meimei@example.cn"
    assert {e["node"]["id"] for e in payload["customer"]["tickets"]["edges"]} == {old["id"], new["id"]}
    assert (await admin.client.run(CUSTOMER, {"id": source_id}))["customer"] is None
    moved = ids.decode(old["id"])[1]
    async with rt.engine.connect() as conn:
        author = (
            await conn.execute(select(tables.comments.c.author_customer_id).where(tables.comments.c.ticket_id == moved))
        ).scalar_one()
        events = (
            await conn.execute(
                select(tables.ticket_events.c.data).where(
                    tables.ticket_events.c.ticket_id == moved, tables.ticket_events.c.type == "UPDATED"
                )
            )
        ).scalars()
        rating = (
            await conn.execute(
                select(tables.satisfaction_ratings.c.score).where(tables.satisfaction_ratings.c.ticket_id == moved)
            )
        ).scalar_one()
    assert author == ids.decode(target_id)[1]
    assert rating == 4
    merged = [e for e in events if "customer" in e.get("changes", {})]
    assert [e["changes"]["customer"] for e in merged] == [
        {"from": ids.decode(source_id)[1], "to": ids.decode(target_id)[1]}
    ]

    # Later mail and intake from the source's address land on the target.
    raw = (
        f"From: Han Meimei <Han.Meimei@old-shop.cn>\r\nTo: {mailbox['address']}\r\nSubject: 又一个订单\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@old-shop.cn>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "订单 3 也没到。\r\n"
    ).encode()
    mailed = await ingest(http, server, admin.token, mailbox["id"], raw)
    assert mailed["outcome"] == "CREATED_TICKET"
    assert mailed["ticket"]["customer"]["id"] == target_id
    again = await ticket_from(admin.client, "han.meimei@old-shop.cn")
    assert again["customer"]["id"] == target_id
    async with rt.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one() == 1


async def test_a_target_without_contacts_takes_the_sources(admin: Actor, supervisor: Actor) -> None:
    source = await ticket_from(admin.client, "lily@example.cn")
    target = (
        await admin.client.mutate(
            "console/CreateCustomer.graphql", {"input": {"name": "Lily Wang", "phone": "+8613800138000"}}
        )
    )["customer"]
    payload = (await supervisor.client.run(MERGE, {"sourceId": source["customer"]["id"], "targetId": target["id"]}))[
        "mergeCustomers"
    ]
    assert payload["userErrors"] == []
    assert (payload["customer"]["email"], payload["customer"]["phone"]) == ("lily@example.cn", "+8613800138000")


async def test_bad_merges_are_user_errors_and_change_nothing(
    admin: Actor, supervisor: Actor, make_actor: MakeActor, rt: Runtime
) -> None:
    a = (await ticket_from(admin.client, "a@example.cn"))["customer"]["id"]
    b = (await ticket_from(admin.client, "b@example.cn"))["customer"]["id"]
    agent = await make_actor(AgentRole.AGENT)
    missing = ids.encode("Customer", 999999)

    async def errors(client: GraphQLClient, source: str, target: str) -> list[tuple[str, list[str]]]:
        payload = (await client.run(MERGE, {"sourceId": source, "targetId": target}))["mergeCustomers"]
        assert payload["customer"] is None
        return [(e["code"], e["field"]) for e in payload["userErrors"]]

    assert await errors(supervisor.client, a, a) == [("INVALID_INPUT", ["targetId"])]
    assert await errors(supervisor.client, missing, b) == [("NOT_FOUND", ["sourceId"])]
    assert await errors(supervisor.client, a, missing) == [("NOT_FOUND", ["targetId"])]
    assert await errors(supervisor.client, "not-an-id", b) == [("NOT_FOUND", ["sourceId"])]
    assert [code for code, _ in await errors(agent.client, a, b)] == ["FORBIDDEN"]
    async with rt.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one() == 2
        events = select(func.count()).select_from(tables.ticket_events).where(tables.ticket_events.c.type == "UPDATED")
        assert (await conn.execute(events)).scalar_one() == 0


async def test_merges_raced_across_two_processes_lose_no_ticket(
    admin: Actor, supervisor: Actor, rt: Runtime, database_url: str, http: httpx.AsyncClient
) -> None:
    """A ring of customers merged into their neighbours from two processes at once (A->B, B->C,
    C->D, ...): every merge either runs or finds its customer already merged away, and every
    ticket ends with a customer that exists, with one UPDATED event per move."""
    customers = []
    for i in range(8):
        first = await ticket_from(admin.client, f"ring{i}@example.cn")
        await ticket_from(admin.client, f"ring{i}@example.cn")
        customers.append(first["customer"]["id"])
    pairs = [(customers[i], customers[(i + 1) % len(customers)]) for i in range(len(customers))] * 2
    document = load_document(MERGE)
    with running_servers(database_url, count=2) as servers:
        clients = [GraphQLClient(s.url, http, supervisor.token) for s in servers]
        results = await asyncio.gather(
            *(
                clients[i % 2].post(document, {"sourceId": source, "targetId": target})
                for i, (source, target) in enumerate(pairs)
            )
        )
        # Inside the `with`: a failure here prints both servers' logs.
        outcomes = []
        for result in results:
            assert "errors" not in result, result
            payload = result["data"]["mergeCustomers"]
            outcomes.append([e["code"] for e in payload["userErrors"]])
        assert all(codes in ([], ["NOT_FOUND"]) for codes in outcomes), outcomes
    async with rt.engine.connect() as conn:
        tickets = (await conn.execute(select(func.count()).select_from(tables.tickets))).scalar_one()
        owners = (await conn.execute(select(func.count(func.distinct(tables.tickets.c.customer_id))))).scalar_one()
        left = (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one()
        aliases = (await conn.execute(select(func.count()).select_from(tables.customer_aliases))).scalar_one()
    assert tickets == 16
    assert left == owners >= 1
    # Every address but the survivor's own is an alias of the survivor.
    assert aliases == 8 - left
