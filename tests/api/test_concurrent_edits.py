"""Two agents working one ticket at the same moment, through the real server: one change wins,
the other is told why, and nothing is lost or recorded twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.domain.enums import AgentRole
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

MakeActor = Callable[..., Awaitable[Actor]]

CREATE = "console/CreateTicket.graphql"
DETAIL = "console/TicketDetail.graphql"
UPDATE = "console/UpdateTicket.graphql"
START = "console/StartTicket.graphql"
PENDING = "console/SetTicketPending.graphql"
ADD_COMMENT = "console/AddComment.graphql"

ROUNDS = 10


async def create_ticket(client: GraphQLClient, subject: str) -> str:
    payload = await client.mutate(
        CREATE,
        {
            "input": {
                "subject": subject,
                "description": "Order #5521 arrived with a cracked screen.",
                "channel": "EMAIL",
                "customer": {"email": "kofi.mensah@example.gh", "name": "Kofi Mensah"},
            }
        },
    )
    ticket_id: str = payload["ticket"]["id"]
    return ticket_id


async def send(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload  # type: ignore[no-any-return]


async def detail(client: GraphQLClient, ticket_id: str) -> dict[str, Any]:
    ticket: dict[str, Any] | None = (await client.run(DETAIL, {"id": ticket_id}))["ticket"]
    assert ticket is not None
    return ticket


def events(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in ticket["history"]["edges"]]


def split(payloads: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """(winning payloads, error codes of the losing ones)."""
    won = [p for p in payloads if not p["userErrors"]]
    lost = [[e["code"] for e in p["userErrors"]] for p in payloads if p["userErrors"]]
    return won, lost


@pytest.fixture
async def two_agents(admin: Actor, make_actor: MakeActor) -> tuple[Actor, Actor]:
    return admin, await make_actor(AgentRole.SUPERVISOR, name="Sam Supervisor")


async def test_update_and_set_pending_with_the_same_version_one_wins(two_agents: tuple[Actor, Actor]) -> None:
    alice, bob = two_agents
    for round_ in range(ROUNDS):
        ticket_id = await create_ticket(alice.client, f"Cracked screen, race {round_}")
        await alice.client.mutate(START, {"id": ticket_id, "expectedVersion": 1})
        before = await detail(alice.client, ticket_id)
        assert (before["status"], before["version"]) == ("OPEN", 2)

        update, pending = await asyncio.gather(
            send(alice.client, UPDATE, {"id": ticket_id, "input": {"priority": "URGENT"}, "expectedVersion": 2}),
            send(bob.client, PENDING, {"id": ticket_id, "reason": "Asked for a photo", "expectedVersion": 2}),
        )

        won, lost = split([update, pending])
        assert len(won) == 1 and lost == [["VERSION_CONFLICT"]], (update, pending)
        after = await detail(alice.client, ticket_id)
        assert after["version"] == 3
        new_events = events(after)[len(events(before)) :]
        assert [e["data"]["version"] for e in new_events] == [3]
        if won[0] is update:
            assert (after["status"], after["priority"]) == ("OPEN", "URGENT")
            assert new_events[0]["type"] == "PRIORITY_CHANGED"
            assert new_events[0]["actorAgent"]["name"] == "Ada Admin"
        else:
            assert (after["status"], after["priority"]) == ("PENDING", before["priority"])
            assert new_events[0]["type"] == "STATUS_CHANGED"
            assert new_events[0]["actorAgent"]["name"] == "Sam Supervisor"


@pytest.mark.parametrize("with_version", [True, False], ids=["expectedVersion", "no-expectedVersion"])
async def test_two_agents_start_the_same_ticket_once(two_agents: tuple[Actor, Actor], with_version: bool) -> None:
    alice, bob = two_agents
    # Without expectedVersion the loser finds the ticket already OPEN: NEW -> OPEN cannot happen twice.
    loser_code = "VERSION_CONFLICT" if with_version else "INVALID_TRANSITION"
    for round_ in range(ROUNDS):
        ticket_id = await create_ticket(alice.client, f"Cracked screen, start race {round_}")
        variables: dict[str, Any] = {"id": ticket_id, **({"expectedVersion": 1} if with_version else {})}

        payloads = await asyncio.gather(send(alice.client, START, variables), send(bob.client, START, variables))

        won, lost = split(list(payloads))
        assert len(won) == 1 and lost == [[loser_code]], payloads
        assert (won[0]["ticket"]["status"], won[0]["ticket"]["version"]) == ("OPEN", 2)
        after = await detail(alice.client, ticket_id)
        assert (after["status"], after["version"]) == ("OPEN", 2)
        changes = [e for e in events(after) if e["type"] == "STATUS_CHANGED"]
        assert [(e["data"]["from"], e["data"]["to"]) for e in changes] == [("NEW", "OPEN")]
        assert [e["type"] for e in events(after)] == ["CREATED", "STATUS_CHANGED"]


async def test_concurrent_comments_are_all_kept(two_agents: tuple[Actor, Actor]) -> None:
    alice, bob = two_agents
    ticket_id = await create_ticket(alice.client, "Cracked screen, many replies")
    before = await detail(alice.client, ticket_id)
    assert (before["status"], before["version"]) == ("NEW", 1)

    payloads = await asyncio.gather(
        *(
            send(
                (alice, bob)[i % 2].client,
                ADD_COMMENT,
                {"ticketId": ticket_id, "body": f"Reply number {i}", "visibility": "PUBLIC"},
            )
            for i in range(10)
        )
    )

    assert all(p["userErrors"] == [] for p in payloads), payloads
    # Each comment saw its own version: they were applied one after another, none lost.
    assert sorted(p["ticket"]["version"] for p in payloads) == list(range(2, 12))
    after = await detail(alice.client, ticket_id)
    assert after["version"] == before["version"] + 10
    assert after["comments"]["totalCount"] == 10
    assert sorted(e["node"]["body"] for e in after["comments"]["edges"]) == sorted(
        f"Reply number {i}" for i in range(10)
    )
    # Only the first public reply starts the ticket and sets the first response time.
    assert after["status"] == "OPEN"
    changes = [e for e in events(after) if e["type"] == "STATUS_CHANGED"]
    assert len(changes) == 1
    first = min(payloads, key=lambda p: p["ticket"]["version"])
    assert after["firstRespondedAt"] == first["ticket"]["firstRespondedAt"]
    assert all(p["ticket"]["firstRespondedAt"] == after["firstRespondedAt"] for p in payloads)
    assert sorted(e["data"]["version"] for e in events(after) if e["type"] == "COMMENTED") == list(range(2, 12))
