"""Ticket pages whose nodes PostgreSQL writes (app/db/repositories/ticket_json.py) answer exactly
what the ordinary executor answers.

Each request is sent twice over a real server: once with a comment that makes its text new to the
server, so the ordinary executor answers it, and once as the document the server has compiled,
so its plan answers, with the nodes as JSON built in the page's own SQL statement. The data is
made awkward on purpose: quotes, backslashes, control characters, emoji and Chinese in text;
whole-second and microsecond times; no assignee, no group, no email; sub-tickets; SLA clocks
running, warned, breached, met, and one detached from its policy. The clock stands still, so
nothing differs between the two requests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, seed_demo
from app.domain.global_ids import encode
from app.services import auth as auth_service
from app.services.runtime import Runtime
from app.settings import Settings
from tests.support import EXAMPLES, ROOT, ServerThread

pytestmark = pytest.mark.slow

NOW = datetime(2031, 3, 14, 10, 0, tzinfo=UTC)
_STATEMENTS = re.compile(r'^helpdesk_db_statements_total\{path="/graphql"\} ([0-9.e+]+)$', re.MULTILINE)

EVERYTHING = """
query Everything($filter: TicketFilter, $orderBy: TicketOrder, $first: Int, $after: String) {
  tickets(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        __typename id number subject description status priority channel category tags externalRef
        language sentiment escalationLevel version createdAt updatedAt firstRespondedAt resolvedAt closedAt
        ref: number
        customer { __typename id name email phone company tier language tags createdAt }
        who: customer { name }
        assignee { id name email role presence onVacation skills languages capacity }
        group { id name description assignmentStrategy }
        subTicketProgress { __typename total resolved open }
        sla {
          __typename
          firstResponse { target state dueAt warnedAt breachedAt metAt }
          resolution { target state dueAt warnedAt breachedAt metAt }
        }
        ...More
      }
    }
  }
}
fragment More on Ticket { slaAgain: sla { resolution { state } } }
"""
# What each request sends (page, count, ...): the ordinary plan loads customers, agents,
# groups, clocks and policies in statements of their own; PostgreSQL-written nodes need none.
CONSOLE_LIST = (ROOT / "benchmarks/documents/ConsoleList.graphql").read_text()
TICKET_LIST = (EXAMPLES / "console/TicketList.graphql").read_text()


@pytest.fixture(scope="module")
def still_server(settings: Settings) -> Iterator[ServerThread]:
    server = ServerThread(settings.model_copy(update={"run_scheduler": False}), clock=ManualClock(NOW))
    server.start()
    yield server
    server.stop()


async def statements(http: httpx.AsyncClient, server: ServerThread) -> float:
    found = _STATEMENTS.search((await http.get(f"{server.url}/metrics")).text)
    return float(found.group(1)) if found else 0.0


async def awkward_data(rt: Runtime) -> dict[str, Any]:
    """The demo data, bent into the shapes the SQL must get right."""
    await seed_demo(rt)
    t, k, c = tables.tickets, tables.sla_clocks, tables.customers
    async with rt.engine.begin() as conn:
        ids = list((await conn.execute(select(t.c.id).order_by(t.c.id))).scalars())
        odd = 'Quote " backslash \\ tab \t newline \n bell \x07 emoji 😀 中文「退款」 </script>'
        await conn.execute(
            update(t)
            .where(t.c.id == ids[0])
            .values(
                subject=odd,
                description=odd * 3,
                tags=['a"b', "c\\d", "标签", ""],
                external_ref="ORD-'1'",
                created_at=datetime(2031, 3, 1, 8, 0, 0, tzinfo=UTC),
                updated_at=datetime(2031, 3, 1, 8, 0, 0, 1, tzinfo=UTC),
                category=None,
                language=None,
            )
        )
        await conn.execute(update(t).where(t.c.id == ids[1]).values(assignee_id=None, group_id=None))
        await conn.execute(update(t).where(t.c.id.in_([ids[2], ids[3]])).values(parent_id=ids[4]))
        await conn.execute(update(t).where(t.c.id == ids[2]).values(status="RESOLVED"))
        first_customer = (await conn.execute(select(t.c.customer_id).where(t.c.id == ids[0]))).scalar_one()
        await conn.execute(update(c).where(c.c.id == first_customer).values(email=None, company=None, tags=[]))
        # One clock detached from its policy (what deleting or disabling a policy leaves).
        detached = (await conn.execute(select(k.c.id).where(k.c.ticket_id == ids[5]).limit(1))).scalar()
        if detached is not None:
            await conn.execute(update(k).where(k.c.id == detached).values(policy_id=None))
        states = set((await conn.execute(select(k.c.state).distinct())).scalars())
        group_id = (await conn.execute(select(t.c.group_id).where(t.c.status == "OPEN").limit(1))).scalar_one()
    assert {"RUNNING", "MET"} <= states, states  # the demo's clocks cover the usual states
    return {"group": encode("Group", group_id)}


async def test_postgresql_written_nodes_answer_like_the_ordinary_executor(
    engine: AsyncEngine, settings: Settings, still_server: ServerThread
) -> None:
    rt = Runtime(engine=engine, settings=settings, clock=ManualClock(NOW))
    made = await awkward_data(rt)
    admin = (await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)).token
    async with engine.connect() as conn:
        agent_email = (
            await conn.execute(select(tables.agents.c.email).where(tables.agents.c.role == "AGENT").limit(1))
        ).scalar_one()
    agent = (await auth_service.login(rt, agent_email, DEMO_ADMIN_PASSWORD, None)).token
    requests: list[tuple[str, dict[str, Any]]] = [
        (CONSOLE_LIST, {"groupId": made["group"]}),
        (TICKET_LIST, {"first": 50}),
        (EVERYTHING, {"first": 100}),
        (EVERYTHING, {"first": 7, "orderBy": {"field": "PRIORITY", "direction": "DESC"}}),
        (EVERYTHING, {"first": 7, "orderBy": {"field": "SLA_DUE_AT", "direction": "ASC"}}),
        (EVERYTHING, {"first": 5, "orderBy": {"field": "NUMBER", "direction": "ASC"}, "filter": {"unassigned": True}}),
        (EVERYTHING, {"first": 5, "filter": {"status": ["RESOLVED", "CLOSED"]}}),
        (EVERYTHING, {"first": 3, "filter": {"search": "退款"}}),
    ]
    url = f"{still_server.url}/graphql"
    seen_nodes = 0
    fresh = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for token in (admin, agent):
            headers = {"Authorization": f"Bearer {token}"}
            for document, variables in requests:
                # Every page of the answer, following endCursor, so cursors are compared too.
                after: str | None = None
                for _ in range(3):
                    body = {"query": document, "variables": {**variables, "after": after}}
                    if document is CONSOLE_LIST:
                        body["variables"].pop("after")
                    await http.post(url, json=body, headers=headers)  # compiled, if it was not yet
                    fresh += 1
                    ordinary_before = await statements(http, still_server)
                    ordinary = await http.post(url, json={**body, "query": f"{document}\n# {fresh}"}, headers=headers)
                    ordinary_statements = await statements(http, still_server) - ordinary_before
                    compiled_before = await statements(http, still_server)
                    compiled = await http.post(url, json=body, headers=headers)
                    compiled_statements = await statements(http, still_server) - compiled_before
                    assert ordinary.status_code == compiled.status_code == 200
                    assert "errors" not in ordinary.json(), ordinary.json()
                    assert compiled.json() == ordinary.json(), (document[:40], variables)
                    page = compiled.json()["data"]["tickets"]
                    seen_nodes += len(page["edges"])
                    if page["edges"]:
                        # The plan's answer took the SQL-written path: the whole connection in one
                        # statement, and the caller's lookup when its cache entry (half a second in
                        # the tests) ran out.
                        assert compiled_statements in (1, 2), (document[:40], compiled_statements)
                        assert compiled_statements < ordinary_statements, (document[:40], ordinary_statements)
                    if not page["pageInfo"]["hasNextPage"] or document is CONSOLE_LIST:
                        break
                    after = page["pageInfo"]["endCursor"]
    assert seen_nodes > 100


async def test_written_nodes_keep_the_ordinary_errors_and_fall_back_for_what_sql_cannot_write(
    engine: AsyncEngine, settings: Settings, still_server: ServerThread
) -> None:
    rt = Runtime(engine=engine, settings=settings, clock=ManualClock(NOW))
    await awkward_data(rt)
    token = (await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)).token
    url, headers = f"{still_server.url}/graphql", {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(2):
            good = await http.post(url, json={"query": EVERYTHING, "variables": {"first": 2}}, headers=headers)
            assert len(good.json()["data"]["tickets"]["edges"]) == 2
        bad = await http.post(url, json={"query": EVERYTHING, "variables": {"after": "nonsense"}}, headers=headers)
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        anonymous = await http.post(url, json={"query": EVERYTHING, "variables": {"first": 2}})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # remainingSeconds needs the business calendar: Python computes it, on the ordinary plan.
        queue = (EXAMPLES / "console/Queue.graphql").read_text()
        answers = [
            (await http.post(url, json={"query": queue, "variables": {"first": 20}}, headers=headers)).json()
            for _ in range(2)
        ]
        assert answers[0] == answers[1]
        assert any(e["node"]["sla"] and e["node"]["sla"]["resolution"] for e in answers[0]["data"]["tickets"]["edges"])
