"""eraseCustomer through the real server: the person's data is gone from every table and from
storage, search finds nothing, counts, statuses and times stay, later intake from the old
address makes a new customer, bad input writes nothing, and an erasure raced by the customer's
replies and new tickets leaves no personal data behind."""

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
from app.domain.erasure import ERASED_NAME, ERASED_TEXT
from app.services.runtime import Runtime
from schema import ids
from tests.api.test_attachments import comment_with_files, create_with_files
from tests.api.test_email import ingest, mailbox  # noqa: F401  (fixture)
from tests.conftest import Actor
from tests.personal_data import blobs_holding, columns_holding
from tests.support import GraphQLClient, ServerThread, load_document

MakeActor = Callable[..., Awaitable[Actor]]

ERASE = "console/EraseCustomer.graphql"
CREATE_CUSTOMER = "console/CreateCustomer.graphql"
CREATE_TICKET = "partner/CreateTicket.graphql"
REPLY = "partner/AddCustomerReply.graphql"
ADD_COMMENT = "console/AddComment.graphql"
UPDATE_TICKET = "console/UpdateTicket.graphql"
RESOLVE = "console/ResolveTicket.graphql"
RATE = "partner/RateTicket.graphql"
SEARCH = "console/SearchTickets.graphql"
CUSTOMERS = "console/Customers.graphql"
EXPORT = "console/CustomerDataExport.graphql"


def person(tag: str) -> dict[str, str]:
    """A customer whose every string is unique to the test, so a scan finds only theirs."""
    word = uuid.uuid4().hex[:8]
    return {
        "name": f"Hanmeimei {tag}{word}",
        "email": f"meimei.{word}@old-shop.cn",
        "phone": f"+86138{int(word, 16) % 10**8:08d}",
        "company": f"Meimei Trading {word}",
        # Only in the customer's own words (descriptions, replies, attachment, rating comment).
        "secret": f"kumquat{word}",
    }


async def erase(client: GraphQLClient, customer_id: str, reason: str = "data-subject request DSR-1") -> dict[str, Any]:
    payload: dict[str, Any] = (await client.run(ERASE, {"id": customer_id, "reason": reason}))["eraseCustomer"]
    return payload


async def leftovers(rt: Runtime, strings: list[str]) -> dict[str, list[str]]:
    """Per string, the columns and stored files that still hold it."""
    found: dict[str, list[str]] = {}
    root = rt.settings.data_dir / "attachments"
    async with rt.engine.connect() as conn:
        for needle in strings:
            where = await columns_holding(conn, needle) + [str(p) for p in blobs_holding(root, needle)]
            if where:
                found[needle] = where
    return found


@pytest.fixture
async def other(make_actor: MakeActor) -> Actor:
    return await make_actor(AgentRole.AGENT)


async def test_an_erasure_leaves_no_personal_data_anywhere_and_keeps_the_statistics(
    admin: Actor,
    mailbox: dict[str, Any],  # noqa: F811
    rt: Runtime,
    http: httpx.AsyncClient,
    server: ServerThread,
) -> None:
    p = person("a")
    customer = (
        await admin.client.mutate(
            CREATE_CUSTOMER,
            {
                "input": {
                    "name": p["name"],
                    "email": p["email"],
                    "phone": p["phone"],
                    "company": p["company"],
                    "tags": ["vip-kumquat"],
                    "externalRefs": {"shop": f"member-{p['secret']}"},
                }
            },
        )
    )["customer"]
    # A mail ticket: raw mail in storage, an acknowledgement queued to the address.
    raw = (
        f"From: {p['name']} <{p['email']}>\r\nTo: {mailbox['address']}\r\nSubject: 订单没到 {p['secret']}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@old-shop.cn>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"我的电话是 {p['phone']}，请联系我。{p['secret']}\r\n"
    ).encode()
    mailed = await ingest(http, server, admin.token, mailbox["id"], raw)
    assert mailed["outcome"] == "CREATED_TICKET" and mailed["ticket"]["customer"]["id"] == customer["id"]
    mail_ticket = mailed["ticket"]["id"]
    # An agent's public reply on it: mail queued to the customer, quoting them.
    await admin.client.mutate(
        ADD_COMMENT, {"ticketId": mail_ticket, "body": f"Dear {p['name']}, about {p['secret']}", "visibility": "PUBLIC"}
    )
    # An API ticket with the customer's own file, and a file another customer has too.
    own = (f"photo {p['secret']}".encode(), "image/jpeg")
    shared = (f"manual {uuid.uuid4().hex}".encode(), "application/pdf")
    created = await create_with_files(
        http,
        server.url,
        admin.token,
        [("own.jpg", *own)],
        subject=f"Broken kettle {p['secret']}",
        description=f"Call me on {p['phone']}",
        customer={"email": p["email"]},
    )
    ticket = created["ticket"]
    assert ticket["customer"]["id"] == customer["id"]
    await comment_with_files(http, server.url, admin.token, ticket["id"], [("manual.pdf", *shared)])
    neighbour = await create_with_files(
        http, server.url, admin.token, [("manual.pdf", *shared)], customer={"email": "neighbour@example.cn"}
    )
    reply = (await admin.client.run(REPLY, {"ticketId": ticket["id"], "body": f"Still broken. {p['secret']}"}))[
        "addCustomerReply"
    ]
    assert reply["userErrors"] == []
    await admin.client.mutate(
        UPDATE_TICKET,
        {"id": ticket["id"], "input": {"subject": f"Kettle for {p['name']}", "customFields": {"note": p["secret"]}}},
    )
    await admin.client.mutate(RESOLVE, {"id": ticket["id"], "resolution": f"Refunded {p['name']}"})
    await admin.client.mutate(RATE, {"id": ticket["id"], "score": 2, "comment": f"slow {p['secret']}"})
    export = (await admin.client.run(EXPORT, {"id": customer["id"]}))["customerDataExport"]
    assert export["export"]["customer"]["email"] == p["email"]
    strings = [p["name"], p["email"], p["phone"], p["company"], p["secret"]]
    assert set(await leftovers(rt, strings)) == set(strings)  # the scan sees them before
    async with rt.engine.connect() as conn:
        comments_before = await conn.scalar(select(func.count()).select_from(tables.comments))

    payload = await erase(admin.client, customer["id"], reason=f"asked by {p['name']} on the phone, DSR-7")

    assert payload["userErrors"] == []
    erased = payload["customer"]
    assert (erased["name"], erased["email"], erased["phone"], erased["company"]) == (ERASED_NAME, None, None, None)
    assert (erased["tags"], erased["externalRefs"], erased["tickets"]["totalCount"]) == ([], {}, 2)
    assert await leftovers(rt, strings) == {}
    assert await leftovers(rt, ["vip-kumquat", "Broken kettle", "订单没到"]) == {}
    for word in (p["secret"], "kettle"):
        assert (await admin.client.run(SEARCH, {"search": word}))["tickets"]["totalCount"] == 0
    for word in (p["name"], p["email"], p["phone"], "Hanmeimei"):
        assert (await admin.client.run(CUSTOMERS, {"search": word}))["customers"]["totalCount"] == 0
    # The file only they had is gone; the shared one stays for the neighbour.
    root = rt.settings.data_dir / "attachments"
    assert blobs_holding(root, shared[0].decode()) != []
    neighbour_files = await admin.client.run("console/TicketDetail.graphql", {"id": neighbour["ticket"]["id"]})
    assert [a["filename"] for a in neighbour_files["ticket"]["attachments"]] == ["manual.pdf"]
    async with rt.engine.connect() as conn:
        t, te, cm = tables.tickets, tables.ticket_events, tables.comments
        kept = (
            await conn.execute(
                select(t.c.status, t.c.subject, t.c.resolved_at).where(t.c.id == ids.decode(ticket["id"])[1])
            )
        ).one()
        events = (
            await conn.execute(
                select(te.c.ticket_id, te.c.actor_agent_id, te.c.data).where(te.c.type == "CUSTOMER_ERASED")
            )
        ).all()
        comments_after = await conn.scalar(select(func.count()).select_from(cm))
        score = await conn.scalar(select(tables.satisfaction_ratings.c.score))
        queued = await conn.scalar(
            select(func.count())
            .select_from(tables.email_deliveries)
            .where(tables.email_deliveries.c.status == "QUEUED")
        )
    assert (kept.status, kept.subject, kept.resolved_at is not None) == ("RESOLVED", ERASED_TEXT, True)
    assert sorted(e.ticket_id for e in events) == sorted(ids.decode(i)[1] for i in (mail_ticket, ticket["id"]))
    assert {e.actor_agent_id for e in events} == {admin.agent.id}
    # The reason named the person: it is kept only as [erased].
    assert {e.data["reason"] for e in events} == {ERASED_TEXT}
    assert comments_after == comments_before and score == 2 and queued == 0

    # A second erasure is refused and writes nothing.
    again = await erase(admin.client, customer["id"])
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [("PRECONDITION_FAILED", ["id"])]
    async with rt.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(te).where(te.c.type == "CUSTOMER_ERASED")) == 2

    # Later intake from the old address makes a new customer, by API and by mail (even naming the old ticket).
    later = (
        await admin.client.mutate(
            CREATE_TICKET,
            {
                "input": {
                    "subject": "Hello again",
                    "description": "New order",
                    "channel": "API",
                    "customer": {"email": p["email"]},
                }
            },
        )
    )["ticket"]
    assert later["customer"]["id"] != customer["id"]
    number = (await admin.client.run("console/TicketDetail.graphql", {"id": ticket["id"]}))["ticket"]["number"]
    raw = (
        f"From: <{p['email']}>\r\nTo: {mailbox['address']}\r\nSubject: Re: [#{number}] kettle\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@old-shop.cn>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"
    ).encode()
    mailed = await ingest(http, server, admin.token, mailbox["id"], raw)
    assert mailed["outcome"] == "CREATED_TICKET"
    assert mailed["ticket"]["customer"]["id"] == later["customer"]["id"]


async def test_bad_erasures_are_user_errors_and_change_nothing(
    admin: Actor, make_actor: MakeActor, rt: Runtime
) -> None:
    customer = (
        await admin.client.mutate(
            CREATE_TICKET,
            {
                "input": {
                    "subject": "Lamp",
                    "description": "Flickers",
                    "channel": "API",
                    "customer": {"email": "lamp@example.cn"},
                }
            },
        )
    )["ticket"]["customer"]["id"]
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    agent = await make_actor(AgentRole.AGENT)

    async def codes(client: GraphQLClient, customer_id: str, reason: str = "DSR-2") -> list[tuple[str, list[str]]]:
        payload = await erase(client, customer_id, reason)
        assert payload["customer"] is None
        return [(e["code"], e["field"]) for e in payload["userErrors"]]

    assert [c for c, _ in await codes(agent.client, customer)] == ["FORBIDDEN"]
    assert [c for c, _ in await codes(supervisor.client, customer)] == ["FORBIDDEN"]
    assert await codes(admin.client, ids.encode("Customer", 999999)) == [("NOT_FOUND", ["id"])]
    assert await codes(admin.client, "not-an-id") == [("NOT_FOUND", ["id"])]
    assert await codes(admin.client, customer, "   ") == [("INVALID_INPUT", ["reason"])]
    assert await codes(admin.client, customer, "x" * 501) == [("INVALID_INPUT", ["reason"])]
    async with rt.engine.connect() as conn:
        name = await conn.scalar(select(tables.customers.c.name))
        erasures = await conn.scalar(
            select(func.count())
            .select_from(tables.ticket_events)
            .where(tables.ticket_events.c.type == "CUSTOMER_ERASED")
        )
    assert (name, erasures) == ("lamp", 0)


async def test_an_erasure_raced_by_the_customers_replies_and_new_tickets_leaves_nothing(
    admin: Actor, rt: Runtime, http: httpx.AsyncClient, server: ServerThread
) -> None:
    """The erasure runs while the customer's replies and new tickets (by id and by address)
    arrive on other connections. Each of those lands before it (and is erased) or after it
    (a reply or a ticket by id is refused; a ticket by address gets a new customer): no
    personal data of the erased customer is left anywhere."""
    p = person("r")
    customer = (
        await admin.client.mutate(
            CREATE_CUSTOMER, {"input": {"name": p["name"], "email": p["email"], "phone": p["phone"]}}
        )
    )["customer"]
    tickets = []
    for i in range(3):
        created = await admin.client.mutate(
            CREATE_TICKET,
            {
                "input": {
                    "subject": f"Order {i}",
                    "description": p["secret"],
                    "channel": "API",
                    "customer": {"id": customer["id"]},
                }
            },
        )
        tickets.append(created["ticket"]["id"])
    clients = [GraphQLClient(server.url, http, admin.token) for _ in range(8)]
    reply, create, erase_doc = load_document(REPLY), load_document(CREATE_TICKET), load_document(ERASE)

    def by_id(i: int) -> dict[str, Any]:
        return {
            "input": {
                "subject": f"Again {i}",
                "description": p["secret"],
                "channel": "API",
                "customer": {"id": customer["id"]},
            }
        }

    def by_address(i: int) -> dict[str, Any]:
        return {
            "input": {
                "subject": f"Later {i}",
                "description": "no words",
                "channel": "API",
                "customer": {"email": p["email"]},
            }
        }

    calls = []
    for i in range(12):
        client = clients[i % len(clients)]
        if i % 3 == 0:
            calls.append(client.post(reply, {"ticketId": tickets[i % 3], "body": f"{p['secret']} {i}"}))
        elif i % 3 == 1:
            calls.append(client.post(create, by_id(i)))
        else:
            calls.append(client.post(create, by_address(i)))
    calls.insert(5, clients[0].post(erase_doc, {"id": customer["id"], "reason": "DSR-9"}))
    results = await asyncio.gather(*calls)

    outcomes = []
    for result in results:
        assert "errors" not in result, result
        (payload,) = result["data"].values()
        outcomes.append([e["code"] for e in payload["userErrors"]])
    assert all(codes in ([], ["PRECONDITION_FAILED"]) for codes in outcomes), outcomes
    assert outcomes[5] == []  # the erasure itself
    assert await leftovers(rt, [p["name"], p["phone"], p["secret"]]) == {}
    erased_id = ids.decode(customer["id"])[1]
    async with rt.engine.connect() as conn:
        t, cu = tables.tickets, tables.customers
        words = (await conn.execute(select(t.c.subject, t.c.description).where(t.c.customer_id == erased_id))).all()
        holders = (await conn.execute(select(cu.c.id).where(func.lower(cu.c.email) == p["email"]))).scalars().all()
        comments = (
            (
                await conn.execute(
                    select(tables.comments.c.body).where(
                        tables.comments.c.ticket_id.in_(select(t.c.id).where(t.c.customer_id == erased_id))
                    )
                )
            )
            .scalars()
            .all()
        )
    assert words and set(words) == {(ERASED_TEXT, ERASED_TEXT)}
    assert set(comments) <= {ERASED_TEXT}
    # The address is held again only by the new customer later tickets made.
    assert erased_id not in holders
