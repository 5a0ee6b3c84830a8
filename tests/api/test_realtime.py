"""Subscriptions through a real server and a real websocket client: live, replayed, filtered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.domain.enums import AgentPresence, AgentRole, AssignmentStrategy
from app.services import agents as agent_service
from tests.conftest import Actor
from tests.support import GraphQLWebSocket, ServerThread, load_document

TICKET_EVENTS = load_document("console/TicketEventsSubscription.graphql")
ASSIGNMENTS = load_document("console/AssignmentEventsSubscription.graphql")
WALLBOARD = load_document("wallboard/WallboardSubscription.graphql")


def new_ticket(subject: str = "手表一直死机", email: str = "wang@example.cn") -> dict:
    return {
        "input": {
            "subject": subject,
            "description": "The watch keeps freezing after the update.",
            "channel": "CHAT",
            "customer": {"email": email},
        }
    }


async def test_ticket_events_arrive_live_in_order(admin: Actor, server: ServerThread) -> None:
    async with GraphQLWebSocket(server.url, admin.token) as ws:
        op = await ws.subscribe(TICKET_EVENTS)
        created = await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        ticket_id = created["ticket"]["id"]
        await admin.client.mutate("console/StartTicket.graphql", {"id": ticket_id})
        first = (await ws.next_data(op))["ticketEvents"]
        second = (await ws.next_data(op))["ticketEvents"]
    assert (first["type"], second["type"]) == ("CREATED", "STATUS_CHANGED")
    assert first["ticket"]["id"] == ticket_id and second["data"]["to"] == "OPEN"
    assert first["cursor"] != second["cursor"]


async def test_resume_from_cursor_replays_missed_events_once_then_continues_live(
    admin: Actor, server: ServerThread
) -> None:
    created = await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
    ticket_id = created["ticket"]["id"]
    history = await admin.client.run("console/TicketHistory.graphql", {"id": ticket_id, "first": 10})
    saved = history["ticket"]["history"]["edges"][-1]["cursor"]
    # Missed while disconnected:
    await admin.client.mutate("console/StartTicket.graphql", {"id": ticket_id})
    await admin.client.mutate("console/SetTicketPending.graphql", {"id": ticket_id, "reason": "asked for photos"})
    async with GraphQLWebSocket(server.url, admin.token) as ws:
        op = await ws.subscribe(TICKET_EVENTS, {"ticketId": ticket_id, "after": saved})
        replayed = [(await ws.next_data(op))["ticketEvents"] for _ in range(2)]
        assert [e["data"]["to"] for e in replayed] == ["OPEN", "PENDING"]
        await admin.client.mutate("console/ResumeTicket.graphql", {"id": ticket_id})
        live = (await ws.next_data(op))["ticketEvents"]
        assert live["data"]["to"] == "OPEN"
        await ws.nothing_for(op, 1.0)  # no duplicate of anything replayed


async def test_agent_receives_only_events_of_tickets_they_may_see(
    admin: Actor,
    make_actor: Callable[..., Awaitable[Actor]],
    make_group: Callable[..., Awaitable],
    server: ServerThread,
) -> None:
    mine, other = await make_group("mine"), await make_group("other")
    agent = await make_actor(AgentRole.AGENT, groups=[mine])
    async with GraphQLWebSocket(server.url, agent.token) as ws:
        op = await ws.subscribe(TICKET_EVENTS)
        hidden = await admin.client.mutate("console/CreateTicket.graphql", new_ticket("secret", "a@example.com"))
        await admin.client.mutate(
            "console/AssignTicket.graphql", {"id": hidden["ticket"]["id"], "groupId": _gid("Group", other.id)}
        )
        shown = await admin.client.mutate("console/CreateTicket.graphql", new_ticket("visible", "b@example.com"))
        await admin.client.mutate(
            "console/AssignTicket.graphql", {"id": shown["ticket"]["id"], "groupId": _gid("Group", mine.id)}
        )
        # Visibility is decided when an event is delivered: the shown ticket's CREATED event may
        # arrive (the ticket is the agent's by then); nothing of the hidden ticket ever does.
        received = []
        while not received or received[-1]["type"] != "UNASSIGNED":
            received.append((await ws.next_data(op))["ticketEvents"])
        await ws.nothing_for(op, 1.0)
    assert {e["ticket"]["id"] for e in received} == {shown["ticket"]["id"]}
    assert received[-1]["ticket"]["group"]["id"] == _gid("Group", mine.id)


async def test_assignment_arrives_for_the_agent(
    admin: Actor,
    make_actor: Callable[..., Awaitable[Actor]],
    make_group: Callable[..., Awaitable],
    server: ServerThread,
    rt,
) -> None:
    group = await make_group("support", assignment_strategy=AssignmentStrategy.LEAST_LOADED)
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    await agent_service.set_presence(rt, agent.principal, AgentPresence.ONLINE)
    async with GraphQLWebSocket(server.url, agent.token) as ws:
        op = await ws.subscribe(ASSIGNMENTS, {"agentId": _gid("Agent", agent.agent.id)})
        created = await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        await admin.client.mutate(
            "console/AssignTicket.graphql", {"id": created["ticket"]["id"], "groupId": _gid("Group", group.id)}
        )
        await admin.client.mutate("console/AutoAssignTicket.graphql", {"id": created["ticket"]["id"]})
        event = (await ws.next_data(op))["assignmentEvents"]
    assert event["assignee"]["id"] == _gid("Agent", agent.agent.id)
    assert event["reason"] == "LEAST_LOADED"
    assert event["ticket"]["id"] == created["ticket"]["id"]


async def test_wallboard_pushes_a_fresh_snapshot_when_a_ticket_arrives(admin: Actor, server: ServerThread) -> None:
    async with GraphQLWebSocket(server.url, admin.token) as ws:
        op = await ws.subscribe(WALLBOARD)
        before = (await ws.next_data(op))["wallboard"]
        await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        after = (await ws.next_data(op))["wallboard"]
    assert after["createdToday"] == before["createdToday"] + 1
    assert after["unassigned"] == before["unassigned"] + 1
    counts = {c["status"]: c["count"] for c in after["countsByStatus"]}
    assert counts["NEW"] >= 1 and set(counts) == {"NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED"}


def _gid(type_name: str, pk: int) -> str:
    from app.domain.global_ids import encode

    return encode(type_name, pk)
