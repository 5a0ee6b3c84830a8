"""`Customer.openTicketCount` and `Agent.openTicketCount` count only tickets the caller may see.

Through the real server: an agent's counts leave out other groups' tickets (the `visible_to`
predicate every ticket query uses); supervisors and admins count them all; the count stays one
batched statement per page whatever the page size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, update

from app.db import tables
from app.domain.enums import AgentRole, AssignmentStrategy, Channel
from app.domain.records import GroupRecord
from app.services import assignment
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

COUNTS = """query($customer: ID!, $group: ID) {
  customer(id: $customer) { openTicketCount }
  agents(groupId: $group) { id openTicketCount }
}"""
PAGE = "query($first: Int) { customers(first: $first) { edges { node { id openTicketCount } } } }"


async def open_ticket(rt: Runtime, admin: Actor, email: str, group: GroupRecord, assignee: Actor | None) -> int:
    data = ticket_service.NewTicket(
        subject="Invoice",
        description="Wrong amount.",
        channel=Channel.EMAIL,
        customer=CustomerRef(email=email),
    )
    ticket, _ = await ticket_service.create_ticket(rt, admin.principal, data)
    agent_id = assignee.agent.id if assignee else None
    await assignment.assign_ticket(rt, admin.principal, ticket.id, agent_id, group.id, None)
    return ticket.id


async def counts(client: GraphQLClient, customer: int, agent: Actor, group: GroupRecord) -> tuple[int, int]:
    data = await client.execute(
        COUNTS, {"customer": ids.encode("Customer", customer), "group": ids.encode("Group", group.id)}
    )
    (found,) = [a for a in data["agents"] if a["id"] == ids.encode("Agent", agent.agent.id)]
    return data["customer"]["openTicketCount"], found["openTicketCount"]


async def test_counts_leave_out_tickets_the_caller_cannot_see(
    rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    manual = AssignmentStrategy.MANUAL
    billing, fraud = (
        await make_group("账务", assignment_strategy=manual),
        await make_group("风控", assignment_strategy=manual),
    )
    both = await make_actor(AgentRole.AGENT, groups=[billing, fraud], name="Both")
    billing_agent = await make_actor(AgentRole.AGENT, groups=[billing])
    fraud_agent = await make_actor(AgentRole.AGENT, groups=[fraud])
    supervisor = await make_actor(AgentRole.SUPERVISOR)

    # One customer: two open tickets in billing (one assigned to Both), one in fraud (assigned to
    # Both), and a resolved one in billing that no count includes.
    first = await open_ticket(rt, admin, "wang.fang@example.cn", billing, both)
    await open_ticket(rt, admin, "wang.fang@example.cn", billing, None)
    await open_ticket(rt, admin, "wang.fang@example.cn", fraud, both)
    resolved = await open_ticket(rt, admin, "wang.fang@example.cn", billing, None)
    async with rt.engine.begin() as conn:
        await conn.execute(update(tables.tickets).where(tables.tickets.c.id == resolved).values(status="RESOLVED"))
        customer = (await conn.execute(tables.tickets.select().where(tables.tickets.c.id == first))).one().customer_id

    assert await counts(billing_agent.client, customer, both, billing) == (2, 1)
    assert await counts(fraud_agent.client, customer, both, billing) == (1, 1)
    assert await counts(both.client, customer, both, billing) == (3, 2)
    assert await counts(supervisor.client, customer, both, billing) == (3, 2)
    assert await counts(admin.client, customer, both, billing) == (3, 2)


async def test_an_agents_customer_counts_are_one_statement_per_page(
    rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread
) -> None:
    group = await make_group("售后", assignment_strategy=AssignmentStrategy.MANUAL)
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    for i in range(30):
        await open_ticket(rt, admin, f"c{i}@example.com", group, None)
    engine = server.app.state.runtime.engine
    sent: dict[int, list[str]] = {}
    for first in (5, 30):
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any, statements: list[str] = statements) -> None:
            # The process's event reader follows the log on the same engine; its reads are not the
            # request's. Authentication is per credential (then cached), not per page.
            if not statement.startswith(("SELECT ticket_events.", "SELECT sessions.")):
                statements.append(statement.split(" FROM ")[0][:60])

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            data = await agent.client.execute(PAGE, {"first": first})
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert [edge["node"]["openTicketCount"] for edge in data["customers"]["edges"]] == [1] * first
        sent[first] = statements
    # The page, its total, one batched count: whatever the page size.
    assert len(sent[5]) == len(sent[30]) == 3, sent
