"""What an intake costs: `createTicket` through the real server, with a routing rule that fires,
a group that hands the ticket to an available agent, an SLA policy that starts clocks and the
events written, takes a fixed, small number of SQL statements (issue 20: at most 10). The
statements are printed, so a failure shows where they went."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update

from app.db import tables
from app.domain.enums import AgentRole, AssignmentStrategy
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread, load_document

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

CREATE = "console/CreateTicket.graphql"
PARTNER_CREATE = "partner/CreateTicket.graphql"
MAX_STATEMENTS = 10
# Statements of the server's own background work on the same engine (the event hub following
# the log, the SLA scheduler's timer, the credential cache's session reads), never the intake's.
BACKGROUND = ("FROM ticket_events", "FROM sessions", "sla_clocks.next_check_at)", "FROM sla_reevaluations")


class Statements:
    """Records the SQL the server sends while in the block (background work left out)."""

    def __init__(self, engine: Any) -> None:
        self.sql: list[str] = []
        self._engine = engine

    def _record(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if not any(marker in statement for marker in BACKGROUND):
            self.sql.append(statement)

    @contextmanager
    def recording(self) -> Iterator[Statements]:
        self.sql.clear()
        event.listen(self._engine.sync_engine, "before_cursor_execute", self._record)
        try:
            yield self
        finally:
            event.remove(self._engine.sync_engine, "before_cursor_execute", self._record)

    def report(self, label: str) -> str:
        lines = [f"{label}: {len(self.sql)} statements"]
        lines += [f"--- {i + 1}\n{' '.join(sql.split())}" for i, sql in enumerate(self.sql)]
        return "\n".join(lines)


@pytest.fixture
async def intake(admin: Actor, make_actor: MakeActor, make_group: MakeGroup) -> dict[str, Any]:
    """A helpdesk set up as in production: a calendar and two SLA policies (one that applies),
    two routing rules (one routes 'refund' to Billing), Billing handing tickets round-robin
    to two available agents, and a customer who wrote before."""
    billing = await make_group("Billing", assignment_strategy=AssignmentStrategy.ROUND_ROBIN)
    other = await make_group("Tech")
    agents = [await make_actor(AgentRole.AGENT, groups=[billing]) for _ in range(2)]
    await make_actor(AgentRole.AGENT, groups=[other])
    for agent in agents:
        await agent.client.mutate("console/SetPresence.graphql", {"presence": "ONLINE"})
    await admin.client.mutate(
        "console/admin/CreateRoutingRule.graphql",
        {"input": {"name": "network", "matchKeywords": ["wifi"], "routeToGroupId": ids.encode("Group", other.id)}},
    )
    await admin.client.mutate(
        "console/admin/CreateRoutingRule.graphql",
        {
            "input": {
                "name": "refunds",
                "matchKeywords": ["refund"],
                "setCategory": "billing",
                "addTags": ["refund"],
                "routeToGroupId": ids.encode("Group", billing.id),
            }
        },
    )
    calendar = (
        await admin.client.mutate(
            "console/admin/CreateBusinessCalendar.graphql",
            {
                "input": {
                    "name": "Office",
                    "timezone": "Europe/Berlin",
                    "hours": [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(5)],
                    "holidays": ["2031-12-25"],
                }
            },
        )
    )["calendar"]
    await admin.client.mutate(
        "console/admin/CreateSlaPolicy.graphql",
        {"input": {"name": "VIP", "matchTiers": ["VIP"], "firstResponseSeconds": 600}},
    )
    await admin.client.mutate(
        "console/admin/CreateSlaPolicy.graphql",
        {
            "input": {
                "name": "Billing",
                "matchCategories": ["billing"],
                "firstResponseSeconds": 3600,
                "resolutionSeconds": 86400,
                "calendarId": calendar["id"],
            }
        },
    )
    customer = await admin.client.mutate(
        "console/CreateCustomer.graphql", {"input": {"name": "Li Lei", "email": "li.lei@example.cn"}}
    )
    # The server has compiled both documents and cached the admin's credential: what follows
    # measures a steady intake, not the first request after start.
    await _create(admin.client, CREATE, {"input": _input("warm-up@example.cn")})
    return {"billing": billing, "agents": agents, "customer": customer["customer"]}


def _input(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject": "Refund for order SO-1001",
        "description": "I was charged twice, please refund one payment.",
        "channel": "EMAIL",
        "customer": {"email": email},
        **extra,
    }


async def _create(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["ticket"]  # type: ignore[no-any-return]


async def _check_intake(rt: Runtime, ticket_id: str, intake: dict[str, Any]) -> None:
    """Routed, assigned, SLA clocks running, events written: what the statements bought."""
    pk = ids.decode_as(ticket_id, "Ticket")
    t, sc, te = tables.tickets, tables.sla_clocks, tables.ticket_events
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(select(t.c.group_id, t.c.assignee_id, t.c.category, t.c.sla_due_at).where(t.c.id == pk))
        ).one()
        clocks = (
            await conn.execute(select(sc.c.target, sc.c.running_since, sc.c.due_at).where(sc.c.ticket_id == pk))
        ).all()
        events = (await conn.execute(select(te.c.type, te.c.data).where(te.c.ticket_id == pk).order_by(te.c.id))).all()
    assert row.group_id == intake["billing"].id
    assert row.assignee_id in {agent.agent.id for agent in intake["agents"]}
    assert row.category == "billing"
    assert sorted(c.target for c in clocks) == ["FIRST_RESPONSE", "RESOLUTION"]
    assert all(c.running_since is not None for c in clocks)
    assert row.sla_due_at == min(c.due_at for c in clocks)
    assert [e.type for e in events] == ["CREATED", "ASSIGNED"]
    assert [rule["name"] for rule in events[0].data["routing"]["rules"]] == ["refunds"]
    assert events[1].data["assigneeId"] == row.assignee_id


async def test_create_ticket_for_a_known_customer_takes_at_most_ten_statements(
    rt: Runtime, admin: Actor, server: ServerThread, intake: dict[str, Any]
) -> None:
    statements = Statements(server.app.state.runtime.engine)
    with statements.recording():
        ticket = await _create(admin.client, CREATE, {"input": _input("LI.LEI@example.cn")})
    print(statements.report("createTicket, known customer"))
    assert ticket["customer"]["id"] == intake["customer"]["id"]
    assert ticket["group"]["name"] == "Billing" and ticket["assignee"] is not None
    assert "refund" in ticket["tags"] and ticket["category"] == "billing"
    await _check_intake(rt, ticket["id"], intake)
    assert len(statements.sql) <= MAX_STATEMENTS, statements.report("createTicket, known customer")


async def test_create_ticket_for_a_new_customer_takes_at_most_ten_statements(
    rt: Runtime, admin: Actor, server: ServerThread, intake: dict[str, Any]
) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.cn"
    statements = Statements(server.app.state.runtime.engine)
    with statements.recording():
        ticket = await _create(admin.client, CREATE, {"input": _input(email)})
    print(statements.report("createTicket, new customer"))
    assert ticket["customer"]["email"] == email and ticket["customer"]["id"] != intake["customer"]["id"]
    await _check_intake(rt, ticket["id"], intake)
    assert len(statements.sql) <= MAX_STATEMENTS, statements.report("createTicket, new customer")


async def test_partner_create_ticket_with_an_idempotency_key_takes_at_most_ten_statements(
    rt: Runtime, admin: Actor, make_actor: MakeActor, server: ServerThread, intake: dict[str, Any]
) -> None:
    integration = await make_actor(AgentRole.SUPERVISOR, name="Shop integration")
    token = (
        await admin.client.mutate(
            "console/admin/CreateApiToken.graphql",
            {"name": "online shop", "agentId": ids.encode("Agent", integration.agent.id)},
        )
    )["token"]
    partner = admin.client.as_(token)
    variables = {"input": _input("li.lei@example.cn", externalRef="SO-1001"), "idempotencyKey": "SO-1001"}
    await _create(partner, PARTNER_CREATE, {**variables, "idempotencyKey": "warm-up"})
    statements = Statements(server.app.state.runtime.engine)
    with statements.recording():
        ticket = await _create(partner, PARTNER_CREATE, variables)
    first = statements.report("partner createTicket, first time")
    print(first)
    await _check_intake(rt, ticket["id"], intake)
    assert len(statements.sql) <= MAX_STATEMENTS, first

    with statements.recording():
        again = await _create(partner, PARTNER_CREATE, variables)
    retry = statements.report("partner createTicket, retried")
    print(retry)
    assert again == ticket
    assert len(statements.sql) <= MAX_STATEMENTS, retry


async def test_configuration_changed_elsewhere_is_followed_by_the_next_intake(
    rt: Runtime, admin: Actor, make_group: MakeGroup, server: ServerThread, intake: dict[str, Any]
) -> None:
    """The server caches routing rules, SLA policies and groups; a change committed by another
    process (here: plain SQL on another connection, no announcement) holds for the very next
    intake, because each intake checks the cached copy's version in its own transaction."""
    first = await _create(admin.client, CREATE, {"input": _input("li.lei@example.cn")})
    assert first["group"]["name"] == "Billing" and first["category"] == "billing"
    rr, sp, g = tables.routing_rules, tables.sla_policies, tables.groups
    async with rt.engine.begin() as conn:
        await conn.execute(update(rr).where(rr.c.name == "refunds").values(set_category="payments"))
        await conn.execute(update(sp).where(sp.c.name == "Billing").values(match_categories=["payments"]))
        await conn.execute(update(g).where(g.c.name == "Billing").values(assignment_strategy="MANUAL"))
    second = await _create(admin.client, CREATE, {"input": _input("li.lei@example.cn")})
    assert second["group"]["name"] == "Billing" and second["category"] == "payments"
    assert second["assignee"] is None  # the group now hands out nothing: it waits in the queue
    pk = ids.decode_as(second["id"], "Ticket")
    sc = tables.sla_clocks
    async with rt.engine.connect() as conn:
        targets = (await conn.execute(select(sc.c.target).where(sc.c.ticket_id == pk))).scalars().all()
    assert sorted(targets) == ["FIRST_RESPONSE", "RESOLUTION"]  # the policy follows the new category

    async with rt.engine.begin() as conn:
        await conn.execute(delete(rr).where(rr.c.name == "refunds"))
    third = await _create(admin.client, CREATE, {"input": _input("li.lei@example.cn")})
    assert third["group"] is None and third["category"] is None
