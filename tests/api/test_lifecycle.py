"""The ticket lifecycle through the real server and the console's documents: every legal move,
every illegal one, versions, visibility, history, and the conversation's effect on status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

CREATE = "console/CreateTicket.graphql"
DETAIL = "console/TicketDetail.graphql"
ADD_COMMENT = "console/AddComment.graphql"
CUSTOMER_REPLY = "partner/AddCustomerReply.graphql"

REASON = "Waiting for the customer's order number"
RESOLUTION = "Reset the router to factory settings; the connection is stable again."

# mutation field -> (document, extra variables, status it asks for)
MUTATIONS: dict[str, tuple[str, dict[str, Any], str]] = {
    "startTicket": ("console/StartTicket.graphql", {}, "OPEN"),
    "setTicketPending": ("console/SetTicketPending.graphql", {"reason": REASON}, "PENDING"),
    "holdTicket": ("console/HoldTicket.graphql", {"reason": REASON}, "ON_HOLD"),
    "resumeTicket": ("console/ResumeTicket.graphql", {}, "OPEN"),
    "resolveTicket": ("console/ResolveTicket.graphql", {"resolution": RESOLUTION}, "RESOLVED"),
    "reopenTicket": ("console/ReopenTicket.graphql", {"reason": "The customer says it is back"}, "OPEN"),
    "closeTicket": ("console/CloseTicket.graphql", {}, "CLOSED"),
}

# The contract's graph: (from, mutation) pairs that are allowed.
LEGAL: set[tuple[str, str]] = {
    ("NEW", "startTicket"),
    ("OPEN", "setTicketPending"),
    ("OPEN", "holdTicket"),
    ("PENDING", "resumeTicket"),
    ("ON_HOLD", "resumeTicket"),
    ("OPEN", "resolveTicket"),
    ("PENDING", "resolveTicket"),
    ("ON_HOLD", "resolveTicket"),
    ("RESOLVED", "reopenTicket"),
    ("RESOLVED", "closeTicket"),
}
STATUSES = ["NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED"]
ILLEGAL = [(s, m) for s in STATUSES for m in MUTATIONS if (s, m) not in LEGAL]

# How to bring a new ticket to each status.
PATH_TO: dict[str, list[str]] = {
    "NEW": [],
    "OPEN": ["startTicket"],
    "PENDING": ["startTicket", "setTicketPending"],
    "ON_HOLD": ["startTicket", "holdTicket"],
    "RESOLVED": ["startTicket", "resolveTicket"],
    "CLOSED": ["startTicket", "resolveTicket", "closeTicket"],
}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def create_ticket(client: GraphQLClient) -> str:
    payload = await client.mutate(
        CREATE,
        {
            "input": {
                "subject": "Internet drops every evening",
                "description": "The connection drops around 8pm every day.",
                "channel": "PHONE",
                "customer": {"email": "ines.garcia@example.es", "name": "Inés García"},
            }
        },
    )
    assert payload["ticket"]["status"] == "NEW"
    ticket_id: str = payload["ticket"]["id"]
    return ticket_id


async def call(
    client: GraphQLClient, mutation: str, ticket_id: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Runs a lifecycle document; returns (ticket, userErrors)."""
    document, extra, _ = MUTATIONS[mutation]
    result = await client.post(load_document(document), {"id": ticket_id, **extra, **variables})
    assert not result.get("errors"), result["errors"]
    payload = result["data"][mutation]
    return payload["ticket"], payload["userErrors"]


async def move(client: GraphQLClient, mutation: str, ticket_id: str, **variables: Any) -> dict[str, Any]:
    ticket, errors = await call(client, mutation, ticket_id, **variables)
    assert errors == [], errors
    assert ticket is not None
    return ticket


async def ticket_in(client: GraphQLClient, status: str) -> str:
    ticket_id = await create_ticket(client)
    for mutation in PATH_TO[status]:
        await move(client, mutation, ticket_id)
    return ticket_id


async def detail(client: GraphQLClient, ticket_id: str) -> dict[str, Any]:
    ticket: dict[str, Any] | None = (await client.run(DETAIL, {"id": ticket_id}))["ticket"]
    assert ticket is not None
    return ticket


def history(ticket: dict[str, Any], type: str | None = None) -> list[dict[str, Any]]:
    nodes = [edge["node"] for edge in ticket["history"]["edges"]]
    return [n for n in nodes if type is None or n["type"] == type]


def state(ticket: dict[str, Any]) -> tuple[Any, ...]:
    """What a refused mutation must leave alone."""
    return (
        ticket["status"],
        ticket["version"],
        ticket["updatedAt"],
        ticket["resolvedAt"],
        ticket["closedAt"],
        len(history(ticket)),
        ticket["comments"]["totalCount"],
    )


async def set_group(rt: Runtime, ticket_id: str, group_id: int) -> None:
    pk = ids.decode_as(ticket_id, "Ticket")
    async with rt.engine.begin() as conn:
        await conn.execute(update(tables.tickets).where(tables.tickets.c.id == pk).values(group_id=group_id))


# ---------------------------------------------------------------- legal transitions


async def test_start_moves_new_to_open(admin: Actor) -> None:
    ticket_id = await create_ticket(admin.client)
    ticket = await move(admin.client, "startTicket", ticket_id, expectedVersion=1)
    assert (ticket["status"], ticket["version"]) == ("OPEN", 2)
    after = await detail(admin.client, ticket_id)
    assert (after["status"], after["version"]) == ("OPEN", 2)
    (event,) = history(after, "STATUS_CHANGED")
    assert event["data"]["from"] == "NEW" and event["data"]["to"] == "OPEN"


@pytest.mark.parametrize(("mutation", "status"), [("setTicketPending", "PENDING"), ("holdTicket", "ON_HOLD")])
async def test_pending_and_hold_record_their_reason_and_resume_returns_to_open(
    admin: Actor, mutation: str, status: str
) -> None:
    ticket_id = await ticket_in(admin.client, "OPEN")
    ticket = await move(admin.client, mutation, ticket_id, expectedVersion=2)
    assert (ticket["status"], ticket["version"]) == (status, 3)
    assert history(await detail(admin.client, ticket_id), "STATUS_CHANGED")[-1]["data"] == {
        "from": "OPEN",
        "to": status,
        "reason": REASON,
        "version": 3,
    }

    resumed = await move(admin.client, "resumeTicket", ticket_id, expectedVersion=3)
    assert (resumed["status"], resumed["version"]) == ("OPEN", 4)
    last = history(await detail(admin.client, ticket_id), "STATUS_CHANGED")[-1]["data"]
    assert (last["from"], last["to"]) == (status, "OPEN")


@pytest.mark.parametrize("source", ["OPEN", "PENDING", "ON_HOLD"])
async def test_resolve_stores_the_resolution_and_sets_resolved_at(admin: Actor, source: str) -> None:
    ticket_id = await ticket_in(admin.client, source)
    before = await detail(admin.client, ticket_id)
    assert before["resolvedAt"] is None

    ticket = await move(admin.client, "resolveTicket", ticket_id, expectedVersion=before["version"])
    assert ticket["status"] == "RESOLVED"
    assert ticket["version"] == before["version"] + 1
    assert ticket["resolvedAt"] is not None

    after = await detail(admin.client, ticket_id)
    assert after["resolvedAt"] == ticket["resolvedAt"]
    assert parse_time(after["resolvedAt"]) >= parse_time(before["updatedAt"])
    event = history(after, "STATUS_CHANGED")[-1]
    assert (event["data"]["from"], event["data"]["to"]) == (source, "RESOLVED")
    assert event["data"]["resolution"] == RESOLUTION
    assert event["occurredAt"] == after["resolvedAt"]


async def test_resolution_text_is_stored_on_the_ticket(admin: Actor, rt: Runtime) -> None:
    ticket_id = await ticket_in(admin.client, "RESOLVED")
    async with rt.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(tables.tickets.c.resolution).where(tables.tickets.c.id == ids.decode_as(ticket_id, "Ticket"))
            )
        ).scalar_one()
    assert stored == RESOLUTION


async def test_reopen_clears_resolved_at(admin: Actor) -> None:
    ticket_id = await ticket_in(admin.client, "RESOLVED")
    ticket = await move(admin.client, "reopenTicket", ticket_id, expectedVersion=3)
    assert (ticket["status"], ticket["version"], ticket["resolvedAt"]) == ("OPEN", 4, None)
    after = await detail(admin.client, ticket_id)
    assert (after["status"], after["resolvedAt"], after["closedAt"]) == ("OPEN", None, None)
    data = history(after, "STATUS_CHANGED")[-1]["data"]
    assert (data["from"], data["to"], data["reason"]) == ("RESOLVED", "OPEN", "The customer says it is back")


async def test_close_sets_closed_at_and_keeps_resolved_at(admin: Actor) -> None:
    ticket_id = await ticket_in(admin.client, "RESOLVED")
    resolved_at = (await detail(admin.client, ticket_id))["resolvedAt"]
    ticket = await move(admin.client, "closeTicket", ticket_id, expectedVersion=3)
    assert (ticket["status"], ticket["version"]) == ("CLOSED", 4)
    assert ticket["closedAt"] is not None
    after = await detail(admin.client, ticket_id)
    assert after["closedAt"] == ticket["closedAt"]
    assert after["resolvedAt"] == resolved_at
    assert parse_time(after["closedAt"]) >= parse_time(resolved_at)


# ---------------------------------------------------------------- illegal transitions


@pytest.mark.parametrize("status", STATUSES)
async def test_every_mutation_not_allowed_from_a_status_is_refused_and_changes_nothing(
    admin: Actor, status: str
) -> None:
    ticket_id = await ticket_in(admin.client, status)
    before = await detail(admin.client, ticket_id)
    assert before["status"] == status
    refused = [m for s, m in ILLEGAL if s == status]
    assert refused, status  # every status refuses something (CLOSED refuses all seven)

    # A refusal changes nothing, so one ticket serves every illegal mutation from this status.
    for mutation in refused:
        ticket, errors = await call(admin.client, mutation, ticket_id, expectedVersion=before["version"])
        assert ticket is None, mutation
        assert [e["code"] for e in errors] == ["INVALID_TRANSITION"], (mutation, errors)
        message = errors[0]["message"]
        requested = MUTATIONS[mutation][2]
        assert status in message and requested in message, (mutation, message)
        assert state(await detail(admin.client, ticket_id)) == state(before), mutation


def test_illegal_table_is_complete() -> None:
    assert len(LEGAL) == 10
    assert len(ILLEGAL) == len(STATUSES) * len(MUTATIONS) - len(LEGAL)
    assert {m for s, m in ILLEGAL if s == "CLOSED"} == set(MUTATIONS)


async def test_resolve_without_resolution_text_is_invalid_input(admin: Actor) -> None:
    ticket_id = await ticket_in(admin.client, "OPEN")
    before = await detail(admin.client, ticket_id)
    for blank in ("", "   "):
        ticket, errors = await call(admin.client, "resolveTicket", ticket_id, resolution=blank)
        assert ticket is None
        assert [(e["field"], e["code"]) for e in errors] == [(["resolution"], "INVALID_INPUT")]
    assert state(await detail(admin.client, ticket_id)) == state(before)


@pytest.mark.parametrize("stale", [1, 3, 99])
async def test_stale_expected_version_is_a_conflict_and_changes_nothing(admin: Actor, stale: int) -> None:
    ticket_id = await ticket_in(admin.client, "OPEN")  # version 2
    before = await detail(admin.client, ticket_id)
    ticket, errors = await call(admin.client, "setTicketPending", ticket_id, expectedVersion=stale)
    assert ticket is None
    assert [(e["field"], e["code"]) for e in errors] == [(["expectedVersion"], "VERSION_CONFLICT")]
    assert state(await detail(admin.client, ticket_id)) == state(before)
    # With the version the caller actually saw, the same change goes through.
    assert (await move(admin.client, "setTicketPending", ticket_id, expectedVersion=2))["status"] == "PENDING"


async def test_agent_who_may_not_see_the_ticket_gets_not_found(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    billing, support = await make_group("Billing"), await make_group("Support")
    agent = await make_actor(AgentRole.AGENT, groups=[support])
    ticket_id = await create_ticket(admin.client)
    await set_group(rt, ticket_id, billing.id)
    before = await detail(admin.client, ticket_id)

    for mutation in MUTATIONS:
        ticket, errors = await call(agent.client, mutation, ticket_id)
        assert ticket is None
        assert [(e["field"], e["code"]) for e in errors] == [(["id"], "NOT_FOUND")], mutation
    assert state(await detail(admin.client, ticket_id)) == state(before)

    # The same agent may work the ticket once it is in their group.
    await set_group(rt, ticket_id, support.id)
    assert (await move(agent.client, "startTicket", ticket_id))["status"] == "OPEN"


async def test_unknown_ticket_id_is_not_found(admin: Actor) -> None:
    ticket, errors = await call(admin.client, "startTicket", ids.encode("Ticket", 987654))
    assert ticket is None
    assert [(e["field"], e["code"]) for e in errors] == [(["id"], "NOT_FOUND")]


# ---------------------------------------------------------------- history


async def test_history_lists_every_status_change_oldest_first_with_actor_and_time(admin: Actor) -> None:
    ticket_id = await create_ticket(admin.client)
    walk = [
        "startTicket",
        "setTicketPending",
        "resumeTicket",
        "holdTicket",
        "resumeTicket",
        "resolveTicket",
        "reopenTicket",
        "resolveTicket",
        "closeTicket",
    ]
    for version, mutation in enumerate(walk, start=1):
        await move(admin.client, mutation, ticket_id, expectedVersion=version)

    ticket = await detail(admin.client, ticket_id)
    assert ticket["version"] == len(walk) + 1
    changes = history(ticket, "STATUS_CHANGED")
    assert [(e["data"]["from"], e["data"]["to"]) for e in changes] == [
        ("NEW", "OPEN"),
        ("OPEN", "PENDING"),
        ("PENDING", "OPEN"),
        ("OPEN", "ON_HOLD"),
        ("ON_HOLD", "OPEN"),
        ("OPEN", "RESOLVED"),
        ("RESOLVED", "OPEN"),
        ("OPEN", "RESOLVED"),
        ("RESOLVED", "CLOSED"),
    ]
    assert [e["data"]["version"] for e in changes] == list(range(2, len(walk) + 2))
    admin_ref = {"id": ids.encode("Agent", admin.agent.id), "name": "Ada Admin"}
    assert all(e["actorAgent"] == admin_ref and e["actorCustomer"] is None for e in changes)
    times = [parse_time(e["occurredAt"]) for e in history(ticket)]
    assert times == sorted(times)
    assert history(ticket)[0]["type"] == "CREATED"
    assert changes[-1]["occurredAt"] == ticket["closedAt"]


# ---------------------------------------------------------------- the conversation


async def customer_reply(client: GraphQLClient, ticket_id: str, body: str = "It is still broken.") -> dict[str, Any]:
    result = await client.post(load_document(CUSTOMER_REPLY), {"ticketId": ticket_id, "body": body})
    assert not result.get("errors"), result["errors"]
    payload: dict[str, Any] = result["data"]["addCustomerReply"]
    return payload


async def comment(client: GraphQLClient, ticket_id: str, visibility: str, body: str = "Looking into it.") -> Any:
    return await client.mutate(ADD_COMMENT, {"ticketId": ticket_id, "body": body, "visibility": visibility})


@pytest.mark.parametrize("status", ["PENDING", "RESOLVED"])
async def test_customer_reply_moves_pending_and_resolved_back_to_open(admin: Actor, status: str) -> None:
    ticket_id = await ticket_in(admin.client, status)
    before = await detail(admin.client, ticket_id)

    payload = await customer_reply(admin.client, ticket_id)
    assert payload["userErrors"] == []
    assert payload["comment"]["authorCustomer"]["name"] == "Inés García"
    assert (payload["ticket"]["status"], payload["ticket"]["version"]) == ("OPEN", before["version"] + 1)

    after = await detail(admin.client, ticket_id)
    assert after["status"] == "OPEN"
    assert after["resolvedAt"] is None
    event = history(after, "STATUS_CHANGED")[-1]
    assert (event["data"]["from"], event["data"]["to"], event["data"]["reason"]) == (status, "OPEN", "CUSTOMER_REPLY")
    assert event["actorCustomer"]["name"] == "Inés García"
    assert event["actorAgent"] is None
    assert after["comments"]["totalCount"] == before["comments"]["totalCount"] + 1


@pytest.mark.parametrize("status", ["NEW", "OPEN", "ON_HOLD"])
async def test_customer_reply_leaves_other_statuses_alone(admin: Actor, status: str) -> None:
    ticket_id = await ticket_in(admin.client, status)
    before = await detail(admin.client, ticket_id)
    payload = await customer_reply(admin.client, ticket_id)
    assert payload["userErrors"] == []
    assert (payload["ticket"]["status"], payload["ticket"]["version"]) == (status, before["version"] + 1)
    after = await detail(admin.client, ticket_id)
    assert after["status"] == status
    assert history(after, "STATUS_CHANGED") == history(before, "STATUS_CHANGED")
    assert after["comments"]["totalCount"] == before["comments"]["totalCount"] + 1


async def test_customer_reply_on_closed_ticket_is_refused_and_changes_nothing(admin: Actor) -> None:
    ticket_id = await ticket_in(admin.client, "CLOSED")
    before = await detail(admin.client, ticket_id)
    payload = await customer_reply(admin.client, ticket_id)
    assert payload["comment"] is None and payload["ticket"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TRANSITION"]
    assert "CLOSED" in payload["userErrors"][0]["message"]
    assert state(await detail(admin.client, ticket_id)) == state(before)


async def test_first_public_agent_comment_starts_a_new_ticket_and_sets_first_response(admin: Actor) -> None:
    ticket_id = await create_ticket(admin.client)

    note = await comment(admin.client, ticket_id, "INTERNAL", "Customer called twice already.")
    assert note["ticket"]["status"] == "NEW"
    assert note["ticket"]["firstRespondedAt"] is None
    after_note = await detail(admin.client, ticket_id)
    assert (after_note["status"], after_note["firstRespondedAt"]) == ("NEW", None)
    assert history(after_note, "STATUS_CHANGED") == []

    reply = await comment(admin.client, ticket_id, "PUBLIC", "We are checking the line now.")
    assert reply["ticket"]["status"] == "OPEN"
    first_response = reply["ticket"]["firstRespondedAt"]
    assert first_response is not None
    after_reply = await detail(admin.client, ticket_id)
    assert (after_reply["status"], after_reply["firstRespondedAt"]) == ("OPEN", first_response)
    (event,) = history(after_reply, "STATUS_CHANGED")
    assert (event["data"]["from"], event["data"]["to"]) == ("NEW", "OPEN")
    assert event["actorAgent"]["id"] == ids.encode("Agent", admin.agent.id)

    # A later reply is not the first response.
    again = await comment(admin.client, ticket_id, "PUBLIC", "Fixed, please check.")
    assert again["ticket"]["firstRespondedAt"] == first_response
    assert len(history(await detail(admin.client, ticket_id), "STATUS_CHANGED")) == 1


async def test_internal_note_after_start_does_not_set_first_response(admin: Actor) -> None:
    ticket_id = await ticket_in(admin.client, "OPEN")
    note = await comment(admin.client, ticket_id, "INTERNAL", "Escalate if it happens again.")
    assert note["ticket"]["firstRespondedAt"] is None
    assert (await detail(admin.client, ticket_id))["firstRespondedAt"] is None


async def test_closed_ticket_refuses_public_replies_but_takes_internal_notes(admin: Actor) -> None:
    ticket_id = await ticket_in(admin.client, "CLOSED")
    before = await detail(admin.client, ticket_id)
    result = await admin.client.post(
        load_document(ADD_COMMENT), {"ticketId": ticket_id, "body": "Any news?", "visibility": "PUBLIC"}
    )
    payload = result["data"]["addComment"]
    assert payload["comment"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TRANSITION"]
    assert state(await detail(admin.client, ticket_id)) == state(before)

    note = await comment(admin.client, ticket_id, "INTERNAL", "Customer may open a follow-up.")
    assert (note["ticket"]["status"], note["ticket"]["version"]) == ("CLOSED", before["version"] + 1)
    after = await detail(admin.client, ticket_id)
    assert (after["status"], after["closedAt"]) == ("CLOSED", before["closedAt"])
