"""Fan-out through a real server and real websockets: an event reaching many subscribers of one
document and one caller is resolved once (resolvers/event_results.py), and a different caller's
subscribers get their own resolution."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from app.domain.enums import AgentRole
from resolvers.event_results import SHARE_SECONDS
from tests.conftest import Actor
from tests.support import GraphQLWebSocket, ServerThread

EVENTS = """subscription($ticket: ID!) { ticketEvents(ticketId: $ticket) {
  cursor type ticket { subject customer { name } } } }"""
SOCKETS_PER_CALLER = 4
MakeActor = Callable[..., Awaitable[Actor]]


async def test_an_event_is_resolved_once_per_caller_however_many_subscribers_they_have(
    admin: Actor, make_actor: MakeActor, server: ServerThread
) -> None:
    other = await make_actor(AgentRole.ADMIN, name="Otto Admin")
    created = await admin.client.mutate(
        "console/CreateTicket.graphql",
        {
            "input": {
                "subject": "手表一直死机",
                "description": "The watch keeps freezing.",
                "channel": "CHAT",
                "customer": {"email": "wang@example.cn", "name": "王伟"},
            }
        },
    )
    ticket_id = created["ticket"]["id"]
    callers = [admin] * SOCKETS_PER_CALLER + [other] * SOCKETS_PER_CALLER
    sockets = [GraphQLWebSocket(server.url, caller.token) for caller in callers]
    for ws in sockets:
        await ws.__aenter__()
    engine = server.app.state.runtime.engine
    customer_reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("SELECT customers."):
            customer_reads.append(statement)

    try:
        ops = [await ws.subscribe(EVENTS, {"ticket": ticket_id}) for ws in sockets]
        await asyncio.sleep(0.5)  # every subscription is listening
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            await admin.client.mutate("console/StartTicket.graphql", {"id": ticket_id})
            received: list[list[dict[str, Any]]] = []
            for ws, op in zip(sockets, ops, strict=True):
                got = [(await ws.next_data(op))["ticketEvents"]]
                while got[-1]["type"] != "STATUS_CHANGED":
                    got.append((await ws.next_data(op))["ticketEvents"])
                received.append(got)
            # Any event after the status change arrives within this too.
            for ws, op, got in zip(sockets, ops, received, strict=True):
                try:
                    while True:
                        got.append((await ws.next_data(op, within=0.5))["ticketEvents"])
                except TimeoutError:
                    pass
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    finally:
        for ws in sockets:
            await ws.__aexit__(None, None, None)

    # Every subscriber got the same events, each with the ticket and its customer resolved.
    assert all(got == received[0] for got in received), received
    assert all(e["ticket"] == {"subject": "手表一直死机", "customer": {"name": "王伟"}} for e in received[0])
    # One customer read per event and caller, not one per subscriber.
    assert len(customer_reads) == 2 * len(received[0]), customer_reads


async def test_an_event_replayed_later_is_resolved_afresh(admin: Actor, server: ServerThread) -> None:
    """A result is shared by the live delivery only: a subscriber resuming from a cursor later
    (the same document and variables as a live one) sees the ticket as it is now, not as it was
    when the event was first delivered."""
    live_query = "subscription { ticketEvents { cursor } }"
    resume_query = "subscription($after: String) { ticketEvents(after: $after) { cursor type ticket { id status } } }"
    ticket = {"subject": "开不了机", "description": "Won't start.", "channel": "CHAT"}
    async with GraphQLWebSocket(server.url, admin.token) as first_socket:
        op = await first_socket.subscribe(live_query)
        await asyncio.sleep(0.3)
        await admin.client.mutate(
            "console/CreateTicket.graphql", {"input": {**ticket, "customer": {"email": "a@example.cn"}}}
        )
        before = (await first_socket.next_data(op))["ticketEvents"]["cursor"]
    async with GraphQLWebSocket(server.url, admin.token) as live:
        op = await live.subscribe(resume_query, {"after": before})
        await asyncio.sleep(0.3)
        created = await admin.client.mutate(
            "console/CreateTicket.graphql", {"input": {**ticket, "customer": {"email": "b@example.cn"}}}
        )
        first = (await live.next_data(op))["ticketEvents"]
    assert first["type"] == "CREATED" and first["ticket"]["status"] == "NEW"
    await admin.client.mutate("console/StartTicket.graphql", {"id": created["ticket"]["id"]})
    await asyncio.sleep(SHARE_SECONDS + 0.2)

    async with GraphQLWebSocket(server.url, admin.token) as resumed:
        op = await resumed.subscribe(resume_query, {"after": before})
        replayed = (await resumed.next_data(op))["ticketEvents"]

    assert replayed["cursor"] == first["cursor"]
    assert replayed["ticket"] == {"id": created["ticket"]["id"], "status": "OPEN"}
