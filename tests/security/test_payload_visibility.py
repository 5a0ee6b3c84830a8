"""Mutation payloads show a ticket, comment or customer by the same rule as a query (review finding 3).

Through the real server. An idempotent replay of something the caller can no longer see looks
exactly like NOT_FOUND; a change that moves a ticket out of the caller's sight stands and answers
`ticket: null`; a partner API token never receives an INTERNAL note through any payload.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.domain.enums import AgentRole, AssignmentStrategy
from app.domain.records import GroupRecord
from app.services import routing_rules
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient

ROOT = Path(__file__).resolve().parents[2]
MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

SECRET = "INTERNAL: chargeback suspected, do not refund"  # the other group's note

TICKET = """
  id number group { id }
  comments(first: 100) { totalCount edges { node { id body visibility } } }
  attachments { id }
  history(first: 100) { edges { node { type } } }
"""
CREATE = (
    "mutation($input: CreateTicketInput!, $key: String) { createTicket(input: $input, idempotencyKey: $key) "
    "{ ticket {" + TICKET + "} userErrors { field message code } } }"
)
ASSIGN = (
    "mutation($id: ID!, $groupId: ID) { assignTicket(id: $id, groupId: $groupId) "
    "{ ticket { id } userErrors { code } } }"
)
NOTE = (
    "mutation($id: ID!, $body: String!, $visibility: CommentVisibility!) "
    "{ addComment(ticketId: $id, body: $body, visibility: $visibility) "
    "{ comment { id body visibility } ticket {" + TICKET + "} userErrors { field message code } } }"
)
REPLY = (
    "mutation($id: ID!, $body: String!, $key: String) "
    "{ addCustomerReply(ticketId: $id, body: $body, idempotencyKey: $key) "
    "{ comment { id body } ticket {" + TICKET + "} userErrors { field message code } } }"
)
READ = "query($id: ID!) { ticket(id: $id) { id links { kind ticket { id } } subTickets { id } parent { id } } }"
MERGE = (
    "mutation($s: ID!, $t: ID!) { mergeTickets(sourceId: $s, targetId: $t) "
    "{ ticket { id links { kind ticket { id } } comments(first: 100) { edges { node { body } } } } "
    "userErrors { field code } } }"
)
LINK = (
    "mutation($id: ID!, $other: ID!) { linkTickets(id: $id, otherId: $other, kind: RELATED) "
    "{ ticket { id links { kind ticket { id } } } userErrors { field code } } }"
)
SUB = (
    "mutation($parent: ID!, $input: CreateTicketInput!, $group: ID) "
    "{ createSubTicket(parentId: $parent, input: $input, groupId: $group) "
    "{ ticket { id group { id } parent { id subTickets { id } comments(first: 100) { edges { node { body } } } } } "
    "userErrors { field code } } }"
)
ESCALATE = (
    'mutation($id: ID!, $group: ID) { escalateTicket(id: $id, reason: "needs the other team", toGroupId: $group) '
    "{ ticket {" + TICKET + "} userErrors { field code } } }"
)
TOKEN = 'mutation($agent: ID) { createApiToken(name: "shop", agentId: $agent) { token userErrors { code } } }'
CUSTOMER = (
    'mutation($id: ID!) { updateCustomer(id: $id, input: {company: "ACME"}) '
    "{ customer { id company openTicketCount } userErrors { code } } }"
)


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


def ticket_input(subject: str = "Broken kettle") -> dict[str, Any]:
    return {
        "subject": subject,
        "description": "It stopped heating after a week.",
        "channel": "API",
        "customer": {"email": "zhao.lei@example.cn", "name": "赵雷"},
    }


async def payload(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await client.post(document, variables)
    assert "errors" not in result, result["errors"]
    (value,) = result["data"].values()
    return value  # type: ignore[no-any-return]


def codes(value: dict[str, Any]) -> list[str]:
    return [e["code"] for e in value["userErrors"]]


def looks_not_found(value: dict[str, Any]) -> bool:
    """Exactly what an unknown ticket gets: one NOT_FOUND userError and no data at all."""
    data = {k: v for k, v in value.items() if k != "userErrors"}
    return codes(value) == ["NOT_FOUND"] and all(v is None for v in data.values())


def bodies(ticket: dict[str, Any]) -> list[str]:
    return [edge["node"]["body"] for edge in ticket["comments"]["edges"]]


class Helpdesk:
    """Two departments: `ann` works the first, where every new ticket is routed; `bob` the second."""

    def __init__(self, rt: Runtime, admin: Actor, ann: Actor, bob: Actor, first: GroupRecord, second: GroupRecord):
        self.rt, self.admin, self.ann, self.bob, self.first, self.second = rt, admin, ann, bob, first, second

    async def ticket(self, client: GraphQLClient, subject: str = "Broken kettle") -> str:
        created = await payload(client, CREATE, {"input": ticket_input(subject)})
        assert created["userErrors"] == [], created
        return str(created["ticket"]["id"])

    async def move_to_second(self, ticket_id: str) -> None:
        moved = await payload(self.admin.client, ASSIGN, {"id": ticket_id, "groupId": gid("Group", self.second.id)})
        assert moved["userErrors"] == []

    async def note(self, ticket_id: str, body: str = SECRET, visibility: str = "INTERNAL") -> None:
        added = await payload(self.admin.client, NOTE, {"id": ticket_id, "body": body, "visibility": visibility})
        assert added["userErrors"] == []

    async def sees(self, client: GraphQLClient, ticket_id: str) -> bool:
        return (await client.execute(READ, {"id": ticket_id}))["ticket"] is not None

    async def partner(self) -> GraphQLClient:
        """A partner API token acting as ann."""
        made = await payload(self.admin.client, TOKEN, {"agent": gid("Agent", self.ann.agent.id)})
        return self.ann.client.as_(made["token"])


@pytest.fixture
async def desk(rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup) -> Helpdesk:
    manual = AssignmentStrategy.MANUAL  # nothing is handed out by itself
    first = await make_group("一线", assignment_strategy=manual)
    second = await make_group("风控", assignment_strategy=manual)
    await routing_rules.create_rule(
        rt, admin.principal, routing_rules.RuleInput(name="all to first line", route_to_group_id=first.id)
    )
    ann = await make_actor(AgentRole.AGENT, groups=[first], name="Ann")
    bob = await make_actor(AgentRole.AGENT, groups=[second], name="Bob")
    return Helpdesk(rt, admin, ann, bob, first, second)


# ---------------------------------------------------------------- createTicket replays


async def test_a_replay_of_a_ticket_moved_away_looks_exactly_like_not_found(desk: Helpdesk) -> None:
    """The finding's steps: create with key k; an admin moves the ticket to another group and adds
    an INTERNAL note; the agent's replay with k gets NOT_FOUND, no ticket, no note."""
    variables = {"input": ticket_input(), "key": "k"}
    first = await payload(desk.ann.client, CREATE, variables)
    assert first["userErrors"] == [] and first["ticket"]["group"]["id"] == gid("Group", desk.first.id)
    ticket_id = first["ticket"]["id"]

    await desk.move_to_second(ticket_id)
    await desk.note(ticket_id)
    assert not await desk.sees(desk.ann.client, ticket_id)

    replay = await desk.ann.client.post(CREATE, variables)
    assert "errors" not in replay
    assert looks_not_found(replay["data"]["createTicket"]), replay
    assert "chargeback" not in str(replay)
    async with desk.rt.engine.connect() as conn:  # the replay created nothing either
        assert (await conn.execute(select(func.count()).select_from(tables.tickets))).scalar_one() == 1


async def test_a_replay_the_caller_still_sees_returns_the_first_ticket(desk: Helpdesk) -> None:
    variables = {"input": ticket_input(), "key": "k"}
    first = await payload(desk.ann.client, CREATE, variables)
    await desk.note(first["ticket"]["id"], "INTERNAL: checked the serial number")
    replay = await payload(desk.ann.client, CREATE, variables)
    assert replay["userErrors"] == [] and replay["ticket"]["id"] == first["ticket"]["id"]
    assert bodies(replay["ticket"]) == ["INTERNAL: checked the serial number"]  # the team reads its notes


async def test_a_partner_token_replay_never_carries_internal_notes(desk: Helpdesk) -> None:
    partner = await desk.partner()
    variables = {"input": ticket_input(), "key": "order-SO-77"}
    first = await payload(partner, CREATE, variables)
    ticket_id = first["ticket"]["id"]
    await desk.note(ticket_id)
    await desk.note(ticket_id, "We are sending a new kettle.", "PUBLIC")

    replay = await payload(partner, CREATE, variables)
    assert replay["userErrors"] == [] and replay["ticket"]["id"] == ticket_id
    assert bodies(replay["ticket"]) == ["We are sending a new kettle."]
    assert replay["ticket"]["comments"]["totalCount"] == 1
    assert "chargeback" not in str(replay)

    await desk.move_to_second(ticket_id)
    assert looks_not_found(await payload(partner, CREATE, variables))


async def test_a_partner_token_gets_no_internal_note_back_from_any_payload(desk: Helpdesk) -> None:
    partner = await desk.partner()
    ticket_id = await desk.ticket(partner)
    await desk.note(ticket_id)
    # Its own INTERNAL note is written, but comes back as nothing (like Ticket.comments, node, downloads).
    own = await payload(partner, NOTE, {"id": ticket_id, "body": "INTERNAL: bot saw a retry", "visibility": "INTERNAL"})
    assert own["userErrors"] == [] and own["comment"] is None
    assert bodies(own["ticket"]) == []
    reply = await payload(partner, REPLY, {"id": ticket_id, "body": "Any news?", "key": "msg-1"})
    assert reply["comment"]["body"] == "Any news?" and bodies(reply["ticket"]) == ["Any news?"]
    assert "INTERNAL" not in str(own) + str(reply)
    # The team still reads both notes.
    team = await payload(desk.ann.client, NOTE, {"id": ticket_id, "body": "ok", "visibility": "INTERNAL"})
    assert len(bodies(team["ticket"])) == 4


# ---------------------------------------------------------------- addCustomerReply replays


async def test_a_reply_replay_follows_the_ticket_and_the_comment(desk: Helpdesk) -> None:
    kept, merged_away = await desk.ticket(desk.ann.client, "kept"), await desk.ticket(desk.ann.client, "merged")
    variables = {"id": merged_away, "body": "The kettle leaks too.", "key": "mail-1"}
    first = await payload(desk.ann.client, REPLY, variables)
    assert first["userErrors"] == []
    again = await payload(desk.ann.client, REPLY, variables)
    assert again["comment"]["id"] == first["comment"]["id"]

    # The reply now lives on a ticket of the other group: the replay no longer shows it.
    target = await desk.ticket(desk.admin.client, "target")
    await desk.move_to_second(target)
    merged = await payload(desk.admin.client, MERGE, {"s": merged_away, "t": target})
    assert merged["userErrors"] == []
    assert await desk.sees(desk.ann.client, merged_away) and not await desk.sees(desk.ann.client, target)
    assert looks_not_found(await payload(desk.ann.client, REPLY, variables))

    # A reply replay on a ticket moved away is NOT_FOUND too.
    reply = {"id": kept, "body": "Hello?", "key": "mail-2"}
    assert (await payload(desk.ann.client, REPLY, reply))["userErrors"] == []
    await desk.move_to_second(kept)
    await desk.note(kept)
    assert looks_not_found(await payload(desk.ann.client, REPLY, reply))


# ---------------------------------------------------------------- changes that move the ticket away


async def test_escalating_out_of_sight_stands_and_answers_no_ticket(desk: Helpdesk) -> None:
    ticket_id = await desk.ticket(desk.ann.client)
    escalated = await payload(desk.ann.client, ESCALATE, {"id": ticket_id, "group": gid("Group", desk.second.id)})
    # The escalation happened (no userErrors), but the ticket is the other group's now.
    assert escalated == {"ticket": None, "userErrors": []}
    assert not await desk.sees(desk.ann.client, ticket_id)
    seen = await desk.admin.client.execute("query($id: ID!) { ticket(id: $id) { escalationLevel } }", {"id": ticket_id})
    assert seen["ticket"]["escalationLevel"] == 1
    # Escalating within sight still shows the ticket.
    other = await desk.ticket(desk.ann.client, "other")
    assert (await payload(desk.ann.client, ESCALATE, {"id": other, "group": None}))["ticket"]["id"] == other


async def test_a_sub_ticket_payload_shows_its_parent_by_the_query_rule(desk: Helpdesk) -> None:
    parent = await desk.ticket(desk.ann.client, "parent")
    await desk.note(parent, "INTERNAL: our own note")
    created = await payload(
        desk.ann.client,
        SUB,
        {"parent": parent, "input": ticket_input("pick up the parcel"), "group": gid("Group", desk.second.id)},
    )
    assert created["userErrors"] == []
    child = created["ticket"]
    # The parent's group collaborates on the child, so Ann follows both.
    assert child["group"]["id"] == gid("Group", desk.second.id) and child["parent"]["id"] == parent
    assert child["parent"]["subTickets"] == [{"id": child["id"]}]
    assert bodies(child["parent"]) == ["INTERNAL: our own note"]
    # Bob's group works the sub-ticket, but does not see the parent (nor its note) through it.
    seen = (await desk.bob.client.execute(READ, {"id": child["id"]}))["ticket"]
    assert seen["id"] == child["id"] and seen["parent"] is None
    bob_sub = await payload(desk.bob.client, SUB, {"parent": parent, "input": ticket_input("another"), "group": None})
    assert bob_sub == {"ticket": None, "userErrors": [{"field": ["parentId"], "code": "NOT_FOUND"}]}
    escalated = await payload(desk.bob.client, ESCALATE, {"id": child["id"], "group": None})
    assert escalated["ticket"]["id"] == child["id"] and "our own note" not in str(escalated)


async def test_links_and_merges_show_only_tickets_the_caller_sees(desk: Helpdesk) -> None:
    mine, also_mine, theirs = [await desk.ticket(desk.ann.client, s) for s in ("mine", "also mine", "theirs")]
    await desk.move_to_second(theirs)
    await desk.note(theirs)
    linked = await payload(desk.admin.client, LINK, {"id": mine, "other": theirs})
    assert [link["ticket"]["id"] for link in linked["ticket"]["links"]] == [theirs]  # the admin sees both

    # Ann's own link: the payload lists the ticket she linked, not the one she cannot see.
    own = await payload(desk.ann.client, LINK, {"id": mine, "other": also_mine})
    assert [link["ticket"]["id"] for link in own["ticket"]["links"]] == [also_mine]
    read = (await desk.ann.client.execute(READ, {"id": mine}))["ticket"]
    assert [link["ticket"]["id"] for link in read["links"]] == [also_mine]
    # Linking to a ticket she cannot see is NOT_FOUND on that argument.
    refused = await payload(desk.ann.client, LINK, {"id": mine, "other": theirs})
    assert refused == {"ticket": None, "userErrors": [{"field": ["otherId"], "code": "NOT_FOUND"}]}

    # Merging: the target's links leave out the other group's ticket, its comments carry no one else's notes.
    merged = await payload(desk.ann.client, MERGE, {"s": also_mine, "t": mine})
    assert merged["userErrors"] == [] and merged["ticket"]["id"] == mine
    assert theirs not in str(merged) and "chargeback" not in str(merged)
    refused = await payload(desk.ann.client, MERGE, {"s": mine, "t": theirs})
    assert refused == {"ticket": None, "userErrors": [{"field": ["targetId"], "code": "NOT_FOUND"}]}


async def test_customers_come_back_to_every_agent_as_a_query_shows_them(desk: Helpdesk) -> None:
    """Customers are readable by every signed-in agent (READ_CUSTOMERS), so a payload shows them."""
    ticket_id = await desk.ticket(desk.ann.client)
    customer = (
        await desk.ann.client.execute("query($id: ID!) { ticket(id: $id) { customer { id } } }", {"id": ticket_id})
    )["ticket"]["customer"]["id"]
    updated = await payload(desk.bob.client, CUSTOMER, {"id": customer})
    assert updated["userErrors"] == [] and updated["customer"]["company"] == "ACME"
    # Bob cannot see the first group's ticket, so it is not in his count.
    assert updated["customer"]["openTicketCount"] == 0
    assert (await payload(desk.ann.client, CUSTOMER, {"id": customer}))["customer"]["openTicketCount"] == 1


def test_only_resolvers_payloads_puts_a_ticket_comment_or_customer_into_a_payload() -> None:
    """By construction: every payload that carries one is built where the rule is applied."""
    built_elsewhere = re.compile(r"(Ticket|Comment|Customer)Payload\(\s*(ticket|comment|customer)=")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "resolvers").rglob("*.py"))
        if path.name != "payloads.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if built_elsewhere.search(line)
    ]
    assert offenders == []
