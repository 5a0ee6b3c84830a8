"""The conversation on a ticket through the real server: agents' replies and internal notes,
customers' messages relayed by integrations, paging, and who may read what."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

CREATE = "console/CreateTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"
CUSTOMER_REPLY = "partner/AddCustomerReply.graphql"
COMMENTS = "console/TicketComments.graphql"
HISTORY = "console/TicketHistory.graphql"
DETAIL = "console/TicketDetail.graphql"
NODE = "console/Node.graphql"
START = "console/StartTicket.graphql"
PENDING = "console/SetTicketPending.graphql"
RESOLVE = "console/ResolveTicket.graphql"
CLOSE = "console/CloseTicket.graphql"
CREATE_API_TOKEN = "console/admin/CreateApiToken.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


async def create_ticket(client: GraphQLClient, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "耳机左声道没有声音",
        "description": "Bought last week; the left earbud is silent.",
        "channel": "EMAIL",
        "customer": {"email": "chen.jing@example.cn", "name": "陈静"},
    }
    data.update(overrides)
    ticket: dict[str, Any] = (await client.mutate(CREATE, {"input": data}))["ticket"]
    return ticket


async def payload_of(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The single mutation payload of a document, userErrors not asserted."""
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload


async def comment(client: GraphQLClient, ticket_id: str, body: str, visibility: str = "PUBLIC") -> dict[str, Any]:
    return await client.mutate(ADD_COMMENT, {"ticketId": ticket_id, "body": body, "visibility": visibility})


async def comments_page(client: GraphQLClient, ticket_id: str, **variables: Any) -> dict[str, Any]:
    ticket = (await client.run(COMMENTS, {"id": ticket_id, **variables}))["ticket"]
    assert ticket is not None
    connection: dict[str, Any] = ticket["comments"]
    return connection


async def history(client: GraphQLClient, ticket_id: str) -> list[dict[str, Any]]:
    ticket = (await client.run(HISTORY, {"id": ticket_id, "first": 100}))["ticket"]
    return [edge["node"] for edge in ticket["history"]["edges"]]


async def row_counts(rt: Runtime) -> tuple[int, int]:
    """(comments, ticket events) in the database."""
    async with rt.engine.connect() as conn:
        comments = (await conn.execute(select(func.count()).select_from(tables.comments))).scalar_one()
        events = (await conn.execute(select(func.count()).select_from(tables.ticket_events))).scalar_one()
    return comments, events


async def api_token_client(admin: Actor, agent_id: str | None = None) -> GraphQLClient:
    created = await admin.client.mutate(CREATE_API_TOKEN, {"name": "shop portal", "agentId": agent_id})
    return admin.client.as_(created["token"])


async def set_ticket(rt: Runtime, ticket_id: str, **values: Any) -> None:
    async with rt.engine.begin() as conn:
        await conn.execute(
            update(tables.tickets).where(tables.tickets.c.id == ids.decode_as(ticket_id, "Ticket")).values(**values)
        )


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------- agents' comments


async def test_public_reply_and_internal_note_are_stored_with_author_and_visibility(admin: Actor) -> None:
    ticket = await create_ticket(admin.client)
    assert ticket["status"] == "NEW"

    note = await comment(admin.client, ticket["id"], "Checked the warehouse log: batch 42 is faulty.", "INTERNAL")
    assert note["comment"]["visibility"] == "INTERNAL"
    assert note["comment"]["body"] == "Checked the warehouse log: batch 42 is faulty."
    assert note["comment"]["authorAgent"]["id"] == ids.encode("Agent", admin.agent.id)
    # A note is not an answer: the ticket is still NEW and nobody has responded yet.
    assert note["ticket"]["status"] == "NEW"
    assert note["ticket"]["firstRespondedAt"] is None
    assert note["ticket"]["version"] == ticket["version"] + 1

    reply = await comment(admin.client, ticket["id"], "您好，我们会为您更换一副新耳机。")
    assert reply["comment"]["visibility"] == "PUBLIC"
    assert reply["comment"]["body"] == "您好，我们会为您更换一副新耳机。"
    assert reply["comment"]["authorAgent"]["id"] == ids.encode("Agent", admin.agent.id)
    assert reply["ticket"]["status"] == "OPEN"  # answering a NEW ticket starts it

    listed = await comments_page(admin.client, ticket["id"])
    assert [(e["node"]["body"], e["node"]["visibility"]) for e in listed["edges"]] == [
        ("Checked the warehouse log: batch 42 is faulty.", "INTERNAL"),
        ("您好，我们会为您更换一副新耳机。", "PUBLIC"),
    ]
    assert all(e["node"]["authorCustomer"] is None for e in listed["edges"])


async def test_first_public_agent_reply_sets_first_responded_at_and_later_ones_keep_it(admin: Actor) -> None:
    ticket = await create_ticket(admin.client)
    first = await comment(admin.client, ticket["id"], "We are looking into it.")
    responded_at = first["ticket"]["firstRespondedAt"]
    assert responded_at is not None
    assert parse_time(responded_at) == parse_time(first["comment"]["createdAt"])

    await asyncio.sleep(0.05)
    second = await comment(admin.client, ticket["id"], "A replacement is on its way.")
    assert parse_time(second["comment"]["createdAt"]) > parse_time(responded_at)
    assert second["ticket"]["firstRespondedAt"] == responded_at
    third = await comment(admin.client, ticket["id"], "Internal: courier is SF Express.", "INTERNAL")
    assert third["ticket"]["firstRespondedAt"] == responded_at

    detail = (await admin.client.run(DETAIL, {"id": ticket["id"]}))["ticket"]
    assert detail["firstRespondedAt"] == responded_at


async def test_customer_message_is_not_a_first_response(admin: Actor) -> None:
    ticket = await create_ticket(admin.client)
    reply = await admin.client.mutate(CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "Any news?"})
    assert reply["ticket"]["status"] == "NEW"
    detail = (await admin.client.run(DETAIL, {"id": ticket["id"]}))["ticket"]
    assert detail["firstRespondedAt"] is None


# ---------------------------------------------------------------- paging


async def test_comments_page_oldest_first_with_total_count_and_visibility_filter(admin: Actor) -> None:
    ticket = await create_ticket(admin.client)
    posted: list[tuple[str, str]] = []
    for i in range(8):
        visibility = "INTERNAL" if i % 3 == 1 else "PUBLIC"
        created = await comment(admin.client, ticket["id"], f"message {i}", visibility)
        posted.append((created["comment"]["id"], visibility))
    assert sum(1 for _, v in posted if v == "INTERNAL") == 3

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await comments_page(admin.client, ticket["id"], first=3, after=after)
        pages += 1
        assert page["totalCount"] == 8
        assert len(page["edges"]) <= 3
        seen.extend(e["node"]["id"] for e in page["edges"])
        assert page["pageInfo"]["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [comment_id for comment_id, _ in posted]

    internal = await comments_page(admin.client, ticket["id"], visibility="INTERNAL")
    assert internal["totalCount"] == 3
    assert [e["node"]["id"] for e in internal["edges"]] == [c for c, v in posted if v == "INTERNAL"]
    assert {e["node"]["visibility"] for e in internal["edges"]} == {"INTERNAL"}

    public = await comments_page(admin.client, ticket["id"], visibility="PUBLIC", first=2)
    assert public["totalCount"] == 5
    assert public["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in public["edges"]] == [c for c, v in posted if v == "PUBLIC"][:2]
    rest = await comments_page(
        admin.client, ticket["id"], visibility="PUBLIC", first=10, after=public["pageInfo"]["endCursor"]
    )
    assert [e["node"]["id"] for e in rest["edges"]] == [c for c, v in posted if v == "PUBLIC"][2:]
    assert rest["pageInfo"]["hasNextPage"] is False


# ---------------------------------------------------------------- who reads internal notes


async def test_api_token_never_sees_internal_notes_while_a_logged_in_agent_does(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    ticket = await create_ticket(admin.client)
    public = await comment(admin.client, ticket["id"], "We have sent a replacement.")
    note = await comment(admin.client, ticket["id"], "Customer is a known reseller; watch for abuse.", "INTERNAL")
    public_id, note_id = public["comment"]["id"], note["comment"]["id"]

    # The token acts as an admin, who sees every ticket: the role is not what hides the note.
    partner = await api_token_client(admin)
    listed = await comments_page(partner, ticket["id"])
    assert [e["node"]["id"] for e in listed["edges"]] == [public_id]
    assert listed["totalCount"] == 1
    only_internal = await comments_page(partner, ticket["id"], visibility="INTERNAL")
    assert only_internal["edges"] == []
    assert only_internal["totalCount"] == 0
    assert (await partner.run(NODE, {"id": note_id}))["node"] is None
    assert (await partner.run(NODE, {"id": public_id}))["node"]["body"] == "We have sent a replacement."
    detail = (await partner.run(DETAIL, {"id": ticket["id"]}))["ticket"]
    assert [e["node"]["id"] for e in detail["comments"]["edges"]] == [public_id]
    assert detail["comments"]["totalCount"] == 1
    assert "watch for abuse" not in json.dumps(detail)

    # A token of a plain agent of the ticket's group is no different.
    group = await make_group("售后")
    integration = await make_actor(AgentRole.AGENT, groups=[group])
    await set_ticket(rt, ticket["id"], group_id=group.id)
    agent_partner = await api_token_client(admin, ids.encode("Agent", integration.agent.id))
    assert [e["node"]["id"] for e in (await comments_page(agent_partner, ticket["id"]))["edges"]] == [public_id]
    assert (await agent_partner.run(NODE, {"id": note_id}))["node"] is None

    # Logged in, the same agents read the note.
    for client in (admin.client, integration.client):
        listed = await comments_page(client, ticket["id"])
        assert [e["node"]["id"] for e in listed["edges"]] == [public_id, note_id]
        assert listed["totalCount"] == 2
        internal = await comments_page(client, ticket["id"], visibility="INTERNAL")
        assert [e["node"]["id"] for e in internal["edges"]] == [note_id]
        assert (await client.run(NODE, {"id": note_id}))["node"]["visibility"] == "INTERNAL"


# ---------------------------------------------------------------- customers' messages


async def test_customer_reply_is_authored_by_the_customer_and_brings_a_pending_ticket_back(admin: Actor) -> None:
    ticket = await create_ticket(admin.client)
    customer_id = ticket["customer"]["id"]
    await admin.client.mutate(START, {"id": ticket["id"]})
    await admin.client.mutate(PENDING, {"id": ticket["id"], "reason": "asked for the order number"})

    reply = await admin.client.mutate(CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "订单号是 SO-20931。"})
    assert reply["comment"]["authorCustomer"] == {"id": customer_id, "name": "陈静"}
    assert reply["comment"]["visibility"] == "PUBLIC"
    assert reply["ticket"]["status"] == "OPEN"

    (node,) = [e["node"] for e in (await comments_page(admin.client, ticket["id"]))["edges"]]
    assert node["authorAgent"] is None
    assert node["authorCustomer"]["id"] == customer_id

    events = await history(admin.client, ticket["id"])
    commented = [e for e in events if e["type"] == "COMMENTED"]
    assert len(commented) == 1
    assert commented[0]["actorCustomer"]["id"] == customer_id
    assert commented[0]["actorAgent"] is None
    resumed = [e for e in events if e["type"] == "STATUS_CHANGED" and e["data"]["to"] == "OPEN"][-1]
    assert resumed["data"]["from"] == "PENDING"
    assert resumed["actorCustomer"]["id"] == customer_id


async def test_customer_reply_with_an_idempotency_key_posts_once_across_sequential_retries(
    admin: Actor, rt: Runtime
) -> None:
    ticket = await create_ticket(admin.client)
    partner = await api_token_client(admin)
    before = await row_counts(rt)
    variables = {"ticketId": ticket["id"], "body": "Still waiting for my refund.", "idempotencyKey": "msg-<a1@mail>"}
    results = [await partner.mutate(CUSTOMER_REPLY, variables) for _ in range(3)]
    assert len({r["comment"]["id"] for r in results}) == 1
    assert {r["comment"]["body"] for r in results} == {"Still waiting for my refund."}
    comments, events = await row_counts(rt)
    assert comments == before[0] + 1
    assert events == before[1] + 1  # one COMMENTED event, not three
    assert (await comments_page(admin.client, ticket["id"]))["totalCount"] == 1


async def test_customer_reply_with_an_idempotency_key_posts_once_under_concurrent_retries(
    admin: Actor, rt: Runtime
) -> None:
    ticket = await create_ticket(admin.client)
    partner = await api_token_client(admin)
    document = load_document(CUSTOMER_REPLY)
    variables = {"ticketId": ticket["id"], "body": "Where is my parcel?", "idempotencyKey": "chat-7781"}
    results = await asyncio.gather(*(partner.post(document, variables) for _ in range(10)))
    comment_ids = set()
    for result in results:
        assert "errors" not in result, result
        payload = result["data"]["addCustomerReply"]
        assert payload["userErrors"] == []
        comment_ids.add(payload["comment"]["id"])
    assert len(comment_ids) == 1
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(tables.comments))).scalar_one()
        commented = (
            await conn.execute(
                select(func.count()).select_from(tables.ticket_events).where(tables.ticket_events.c.type == "COMMENTED")
            )
        ).scalar_one()
    assert (rows, commented) == (1, 1)


async def test_reusing_an_idempotency_key_for_another_message_is_duplicate(admin: Actor, rt: Runtime) -> None:
    ticket = await create_ticket(admin.client)
    first = await admin.client.mutate(
        CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "First message", "idempotencyKey": "k-1"}
    )
    before = await row_counts(rt)
    payload = await payload_of(
        admin.client, CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "Other message", "idempotencyKey": "k-1"}
    )
    assert payload["comment"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["idempotencyKey"], "DUPLICATE")]
    assert await row_counts(rt) == before
    bodies = [e["node"]["body"] for e in (await comments_page(admin.client, ticket["id"]))["edges"]]
    assert bodies == ["First message"]
    assert first["comment"]["body"] == "First message"


# ---------------------------------------------------------------- refused input


async def test_empty_body_is_invalid_input_and_writes_nothing(admin: Actor, rt: Runtime) -> None:
    ticket = await create_ticket(admin.client)
    before = await row_counts(rt)
    for body in ("", "   \n\t "):
        for document, variables in (
            (ADD_COMMENT, {"ticketId": ticket["id"], "body": body}),
            (ADD_COMMENT, {"ticketId": ticket["id"], "body": body, "visibility": "INTERNAL"}),
            (CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": body}),
            (CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": body, "idempotencyKey": "empty-1"}),
        ):
            payload = await payload_of(admin.client, document, variables)
            assert payload["comment"] is None
            assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["body"], "INVALID_INPUT")]
    assert await row_counts(rt) == before
    detail = (await admin.client.run(DETAIL, {"id": ticket["id"]}))["ticket"]
    assert detail["version"] == ticket["version"]
    assert detail["status"] == "NEW"
    # The key was not spent by the refused request.
    ok = await admin.client.mutate(
        CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "Now with text", "idempotencyKey": "empty-1"}
    )
    assert ok["comment"]["body"] == "Now with text"


async def test_closed_ticket_takes_internal_notes_only(admin: Actor, rt: Runtime) -> None:
    ticket = await create_ticket(admin.client)
    await admin.client.mutate(START, {"id": ticket["id"]})
    await admin.client.mutate(RESOLVE, {"id": ticket["id"], "resolution": "Replaced the earbuds."})
    closed = (await admin.client.mutate(CLOSE, {"id": ticket["id"]}))["ticket"]
    assert closed["status"] == "CLOSED"

    before = await row_counts(rt)
    refused = await payload_of(admin.client, ADD_COMMENT, {"ticketId": ticket["id"], "body": "One more thing…"})
    assert refused["comment"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_TRANSITION"]
    assert "CLOSED" in refused["userErrors"][0]["message"]
    from_customer = await payload_of(admin.client, CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "Hello?"})
    assert [e["code"] for e in from_customer["userErrors"]] == ["INVALID_TRANSITION"]
    assert await row_counts(rt) == before

    note = await comment(admin.client, ticket["id"], "Called again; told to open a new ticket.", "INTERNAL")
    assert note["comment"]["visibility"] == "INTERNAL"
    assert note["ticket"]["status"] == "CLOSED"
    assert note["ticket"]["version"] == closed["version"] + 1


async def test_commented_events_never_carry_the_body(admin: Actor) -> None:
    ticket = await create_ticket(admin.client)
    bodies = {
        "PUBLIC": "SECRET-PUBLIC-7c1e reply text",
        "INTERNAL": "SECRET-INTERNAL-93ab note text",
    }
    ids_by_visibility = {}
    for visibility, body in bodies.items():
        ids_by_visibility[visibility] = (await comment(admin.client, ticket["id"], body, visibility))["comment"]["id"]
    customer = await admin.client.mutate(
        CUSTOMER_REPLY, {"ticketId": ticket["id"], "body": "SECRET-CUSTOMER-55d0 message"}
    )

    events = await history(admin.client, ticket["id"])
    commented = [e for e in events if e["type"] == "COMMENTED"]
    assert len(commented) == 3
    for event in commented:
        raw = json.dumps(event["data"], ensure_ascii=False)
        assert "SECRET-" not in raw
        assert "body" not in event["data"]
    assert [(e["data"]["commentId"], e["data"]["visibility"]) for e in commented] == [
        (ids_by_visibility["PUBLIC"], "PUBLIC"),
        (ids_by_visibility["INTERNAL"], "INTERNAL"),
        (customer["comment"]["id"], "PUBLIC"),
    ]


async def test_a_ticket_the_caller_cannot_see_looks_exactly_like_a_missing_one(
    admin: Actor, make_actor: MakeActor, rt: Runtime
) -> None:
    ticket = await create_ticket(admin.client)
    outsider = await make_actor(AgentRole.AGENT)
    before = await row_counts(rt)
    for ticket_id in (ticket["id"], ids.encode("Ticket", 987654), "not-an-id"):
        for document in (ADD_COMMENT, CUSTOMER_REPLY):
            payload = await payload_of(outsider.client, document, {"ticketId": ticket_id, "body": "hello"})
            assert payload["comment"] is None
            assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["ticketId"], "NOT_FOUND")]
    assert await row_counts(rt) == before
