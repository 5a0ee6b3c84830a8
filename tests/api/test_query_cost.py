"""A list query costs a fixed number of SQL statements whatever its page size (no N+1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update

from app.db import tables
from app.db.engine import StatementCounter
from app.domain.enums import AgentRole, Channel
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.tickets import NewTicket, create_ticket
from tests.conftest import Actor
from tests.support import ServerThread, load_document


async def _seed(rt: Runtime, admin: Actor, make_actor: Callable[..., Awaitable[Actor]], groups: list) -> None:
    agents = [await make_actor(AgentRole.AGENT, groups=[g]) for g in groups]
    for i in range(120):
        ticket, _ = await create_ticket(
            rt,
            admin.principal,
            NewTicket(
                subject=f"Ticket {i}",
                description="The smartwatch keeps freezing",
                channel=Channel.EMAIL,
                customer=CustomerRef(email=f"customer{i}@example.com", name=f"Customer {i}"),
                tags=["watch", f"t{i % 7}"],
            ),
        )
        async with rt.engine.begin() as conn:
            await conn.execute(
                update(tables.tickets)
                .where(tables.tickets.c.id == ticket.id)
                .values(group_id=groups[i % len(groups)].id, assignee_id=agents[i % len(agents)].agent.id)
            )
        if i % 10 == 0:  # some tickets have sub-tickets, so subTicketProgress has something to count
            child, _ = await create_ticket(
                rt,
                admin.principal,
                NewTicket(subject=f"Sub {i}", description="part", channel=Channel.API, customer=CustomerRef(id=1)),
            )
            async with rt.engine.begin() as conn:
                await conn.execute(
                    update(tables.tickets)
                    .where(tables.tickets.c.id == child.id)
                    .values(parent_id=ticket.id, group_id=groups[0].id, assignee_id=agents[0].agent.id)
                )


async def test_ticket_list_statement_count_does_not_grow_with_page_size(
    rt: Runtime,
    admin: Actor,
    make_actor: Callable[..., Awaitable[Actor]],
    make_group: Callable[..., Awaitable],
    server: ServerThread,
) -> None:
    groups = [await make_group(f"g{i}") for i in range(3)]
    await _seed(rt, admin, make_actor, groups)
    document = load_document("console/TicketList.graphql")
    counts = {}
    for first in (10, 100):
        counter = StatementCounter(server.app.state.runtime.engine, ignore="FROM ticket_events")
        try:
            data = await admin.client.execute(document, {"first": first})
        finally:
            counter.close()
        edges = data["tickets"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["customer"] and e["node"]["assignee"] and e["node"]["group"] for e in edges)
        counts[first] = counter.count
    print(f"\nSQL statements per TicketList request: first=10 -> {counts[10]}, first=100 -> {counts[100]}")
    assert counts[100] == counts[10]
    # authentication, page, count, customers, agents, groups, sub-ticket progress
    assert counts[100] <= 8
