"""What a customer session reads and does, through the real server: their own tickets only
(another customer's looks exactly like a missing one, by id and by number), PUBLIC comments and
their files only, custom fields visibleToCustomer only, the field allowlist, their replies,
reopening and rating, and never the compiled fast path."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest

from app.domain.enums import Channel, CommentVisibility
from app.domain.lifecycle import Action
from app.domain.ticket_fields import FieldDefinitionInput
from app.services import conversation, customer_sign_in, lifecycle, ticket_fields
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.storage import IncomingFile
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient

NOTE = "INTERNAL: card looks stolen"


def upload(name: str, content: bytes) -> IncomingFile:
    buffer = io.BytesIO(content)

    async def read(size: int) -> bytes:
        return buffer.read(size)

    return IncomingFile(filename=name, content_type="text/plain", read=read)


@dataclass
class Scene:
    mine: int  # ticket of the signed-in customer
    mine_number: int
    theirs: int  # another customer's ticket
    theirs_number: int
    me: GraphQLClient  # the customer's session
    customer_id: int


async def session_of(rt: Runtime, customer_id: int) -> str:
    async with rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, rt.settings, customer_id, rt.clock.now())
    return (await customer_sign_in.sign_in(rt, parse_qs(urlparse(link).query)["token"][0])).token


@pytest.fixture
async def scene(rt: Runtime, admin: Actor, anonymous: GraphQLClient) -> Scene:
    for key, visible in (("orderId", True), ("fraudScore", False)):
        await ticket_fields.create_field(
            rt, admin.principal, FieldDefinitionInput(key=key, label=key, type="TEXT", visible_to_customer=visible)
        )
    tickets = []
    for email in ("li.lei@example.cn", "han.meimei@example.cn"):
        new = ticket_service.NewTicket(
            subject=f"退款 {email}",
            description="未收到货",
            channel=Channel.API,
            customer=CustomerRef(email=email, name=email.split("@")[0]),
            custom_fields={"orderId": "SO-1001", "fraudScore": "97"},
        )
        tickets.append((await ticket_service.create_ticket(rt, admin.principal, new))[0])
    mine, theirs = tickets
    await conversation.add_comment(
        rt, admin.principal, mine.id, "We are on it.", CommentVisibility.PUBLIC, [upload("receipt.txt", b"r")]
    )
    await conversation.add_comment(
        rt, admin.principal, mine.id, NOTE, CommentVisibility.INTERNAL, [upload("fraud.txt", b"f")]
    )
    me = anonymous.as_(await session_of(rt, mine.customer_id))
    return Scene(mine.id, mine.number, theirs.id, theirs.number, me, mine.customer_id)


OWN_TICKET = """
query($id: ID) {
  ticket(id: $id) {
    id number subject status customFields
    assignee { name }
    comments { totalCount edges { node { body visibility attachments { filename } } } }
    internal: comments(visibility: INTERNAL) { totalCount }
    attachments { filename }
  }
}
"""


async def test_the_customer_reads_their_ticket_without_internal_notes_or_hidden_fields(scene: Scene) -> None:
    ticket = (await scene.me.execute(OWN_TICKET, {"id": ids.encode("Ticket", scene.mine)}))["ticket"]
    assert ticket["customFields"] == {"orderId": "SO-1001"}
    bodies = [e["node"]["body"] for e in ticket["comments"]["edges"]]
    assert bodies == ["We are on it."] and ticket["comments"]["totalCount"] == 1
    assert ticket["internal"]["totalCount"] == 0
    assert [a["filename"] for a in ticket["attachments"]] == ["receipt.txt"]
    assert NOTE not in str(ticket) and "fraud.txt" not in str(ticket)


@pytest.mark.parametrize("by", ["id", "number"])
async def test_another_customers_ticket_looks_exactly_like_a_missing_one(scene: Scene, by: str) -> None:
    query = "query($id: ID, $n: Int) { ticket(id: $id, number: $n) { id subject } }"

    def variables(pk: int, number: int) -> dict[str, object]:
        return {"id": ids.encode("Ticket", pk)} if by == "id" else {"n": number}

    theirs = await scene.me.post(query, variables(scene.theirs, scene.theirs_number))
    missing = await scene.me.post(query, variables(10_000_000, 10_000_000))
    assert theirs == missing == {"data": {"ticket": None}}


async def test_the_customers_list_is_their_own_tickets(scene: Scene) -> None:
    query = "query { currentCustomer { name tickets { totalCount edges { node { id } } } } }"
    me = (await scene.me.execute(query))["currentCustomer"]
    assert me["tickets"]["totalCount"] == 1
    assert [e["node"]["id"] for e in me["tickets"]["edges"]] == [ids.encode("Ticket", scene.mine)]


@pytest.mark.parametrize(
    "selection",
    [
        "history { edges { node { type } } }",
        "sla { policy { name } }",
        "tags",
        "sentiment",
        "group { name }",
        "collaborators { name }",
        "assignee { email }",
        "subTickets { id }",
        "links { kind }",
        "mailbox { address }",
        "comments { edges { node { emailDelivery { status } } } }",
        "customer { tier }",
    ],
)
async def test_fields_outside_the_allowlist_are_forbidden(scene: Scene, selection: str) -> None:
    result = await scene.me.post(f"query($id: ID) {{ ticket(id: $id) {{ id {selection} }} }}", {"id": "x"})
    assert "data" not in result or result.get("data") is None
    assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}


@pytest.mark.parametrize(
    "document",
    [
        "query { tickets { totalCount } }",
        "query { me { id } }",
        "query { customers { totalCount } }",
        'mutation { createTicket(input: {subject: "s", description: "d", channel: API, customer: {email: "a@b.cn"}}) '
        "{ userErrors { code } } }",
        'mutation { addComment(ticketId: "x", body: "b") { userErrors { code } } }',
        'mutation { startTicket(id: "x") { userErrors { code } } }',
    ],
)
async def test_agent_operations_are_forbidden(scene: Scene, document: str) -> None:
    result = await scene.me.post(document)
    assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}


REPLY = (
    'mutation($t: ID!) { addCustomerReply(ticketId: $t, body: "Still waiting.") '
    "{ comment { body authorCustomer { name } authorAgent { name } } userErrors { code field } } }"
)


async def test_the_customer_replies_on_their_own_ticket_only(scene: Scene) -> None:
    own = (await scene.me.execute(REPLY, {"t": ids.encode("Ticket", scene.mine)}))["addCustomerReply"]
    assert own["userErrors"] == []
    assert own["comment"] == {"body": "Still waiting.", "authorCustomer": {"name": "li.lei"}, "authorAgent": None}
    theirs = (await scene.me.execute(REPLY, {"t": ids.encode("Ticket", scene.theirs)}))["addCustomerReply"]
    assert theirs == {"comment": None, "userErrors": [{"code": "NOT_FOUND", "field": ["ticketId"]}]}


async def test_the_customer_reopens_and_rates_their_resolved_ticket(scene: Scene, rt: Runtime, admin: Actor) -> None:
    # (The agent's public reply has already started the customer's ticket.)
    await lifecycle.transition(rt, admin.principal, scene.theirs, Action.START)
    for pk in (scene.mine, scene.theirs):
        await lifecycle.transition(rt, admin.principal, pk, Action.RESOLVE, resolution="Refunded.")
    rate = (
        "mutation($id: ID!) { rateTicket(id: $id, score: 2) { ticket { satisfaction { score } } userErrors { code } } }"
    )
    reopen = "mutation($id: ID!) { reopenTicket(id: $id) { ticket { status } userErrors { code } } }"
    mine, theirs = ids.encode("Ticket", scene.mine), ids.encode("Ticket", scene.theirs)
    assert (await scene.me.execute(rate, {"id": theirs}))["rateTicket"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert (await scene.me.execute(reopen, {"id": theirs}))["reopenTicket"]["userErrors"] == [{"code": "NOT_FOUND"}]
    rated = (await scene.me.execute(rate, {"id": mine}))["rateTicket"]
    assert rated == {"ticket": {"satisfaction": {"score": 2}}, "userErrors": []}
    again = (await scene.me.execute(rate, {"id": mine}))["rateTicket"]
    assert again["userErrors"] == [{"code": "DUPLICATE"}]
    assert (await scene.me.execute(reopen, {"id": mine}))["reopenTicket"] == {
        "ticket": {"status": "OPEN"},
        "userErrors": [],
    }
    # Only a RESOLVED ticket: an OPEN one is an invalid transition.
    refused = (await scene.me.execute(reopen, {"id": mine}))["reopenTicket"]
    assert refused["userErrors"] == [{"code": "INVALID_TRANSITION"}]


async def test_customer_sessions_never_take_the_compiled_fast_path(scene: Scene, admin: Actor) -> None:
    # An agent's answer teaches the server a compiled plan for this exact document...
    document = "query TicketTags($id: ID) { ticket(id: $id) { id subject tags customFields } }"
    variables = {"id": ids.encode("Ticket", scene.mine)}
    for _ in range(3):
        agent = await admin.client.execute(document, variables)
    assert agent["ticket"]["tags"] is not None and agent["ticket"]["customFields"]["fraudScore"] == "97"
    # ...which a customer session never gets: the allowlist still refuses `tags`.
    refused = await scene.me.post(document, variables)
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    # And an allowed document the agent made hot still shows the customer only their view.
    allowed = "query Mine($id: ID) { ticket(id: $id) { id customFields } }"
    for _ in range(3):
        await admin.client.execute(allowed, variables)
    mine = await scene.me.execute(allowed, variables)
    assert mine["ticket"]["customFields"] == {"orderId": "SO-1001"}
    theirs = await scene.me.execute(allowed, {"id": ids.encode("Ticket", scene.theirs)})
    assert theirs["ticket"] is None


async def test_internal_comment_and_its_file_are_not_nodes_for_the_customer(scene: Scene, rt: Runtime) -> None:
    async with rt.engine.connect() as conn:
        from sqlalchemy import text

        rows = (
            await conn.execute(
                text(
                    "SELECT c.id, a.id FROM comments c JOIN attachments a ON a.comment_id = c.id WHERE c.ticket_id = :t"
                ),
                {"t": scene.mine},
            )
        ).all()
        visibility = dict(
            (
                await conn.execute(text("SELECT id, visibility FROM comments WHERE ticket_id = :t"), {"t": scene.mine})
            ).all()
        )
    query = "query($id: ID!) { node(id: $id) { id } }"
    for comment_id, file_id in rows:
        public = visibility[comment_id] == "PUBLIC"
        for node_id in (ids.encode("Comment", comment_id), ids.encode("Attachment", file_id)):
            found = (await scene.me.execute(query, {"id": node_id}))["node"]
            assert (found is not None) is public, (node_id, visibility[comment_id])
