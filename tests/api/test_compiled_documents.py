"""Compiled execution (resolvers/compiled.py) answers exactly what the ordinary executor answers.

Every query document in frontend_examples/ is sent twice by each kind of caller over a real server:
the first answer comes from the ordinary executor, which is when the document is compiled; the
second from its plan. The two must be identical, byte for byte after decoding. The clock stands
still, so SLA figures cannot differ between the two requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, seed_demo
from app.domain.global_ids import encode
from app.services import auth as auth_service
from app.services import knowledge, sla
from app.services.runtime import Runtime
from app.settings import Settings
from tests.support import EXAMPLES, ServerThread

pytestmark = pytest.mark.slow

NOW = datetime(2031, 3, 14, 10, 0, tzinfo=UTC)
# The documents a console, a partner or a wallboard sends most: they must take the compiled path.
MUST_COMPILE = {
    "console/TicketList.graphql",
    "console/TicketDetail.graphql",
    "console/TicketByNumber.graphql",
    "console/TicketComments.graphql",
    "console/TicketHistory.graphql",
    "console/TicketSla.graphql",
    "console/AtRiskTickets.graphql",
    "console/SearchTickets.graphql",
    "console/Me.graphql",
    "console/Groups.graphql",
    "console/Customer.graphql",
    "console/Customers.graphql",
    "console/Agents.graphql",
    "wallboard/Groups.graphql",
    "partner/TicketStatus.graphql",
}
ARTICLES = [
    ("如何申请退款 How to request a refund", "在订单页面点击申请退款。 Open the order and choose Request refund."),
    ("VPN drops every night", "The nightly key renegotiation drops idle tunnels; enable keep-alive."),
]


def query_documents() -> list[Path]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.graphql")):
        operations = [d for d in parse(path.read_text()).definitions if isinstance(d, OperationDefinitionNode)]
        if operations and all(o.operation is OperationType.QUERY for o in operations):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture(scope="module")
def still_server(settings: Settings, clock: ManualClock) -> Iterator[ServerThread]:
    server = ServerThread(settings.model_copy(update={"run_scheduler": False}), clock=clock)
    server.start()
    yield server
    server.stop()


async def served_compiled(http: httpx.AsyncClient, server: ServerThread) -> float:
    text = (await http.get(f"{server.url}/metrics")).text
    for line in text.splitlines():
        if line.startswith('helpdesk_graphql_compiled_total{outcome="served"}'):
            return float(line.split()[-1])
    return 0.0


async def test_compiled_plans_answer_like_the_ordinary_executor(
    engine: AsyncEngine, settings: Settings, clock: ManualClock, still_server: ServerThread
) -> None:
    rt = Runtime(engine=engine, settings=settings, clock=clock)
    await seed_demo(rt)
    login = await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)
    admin = await auth_service.authenticate(rt, login.token)
    assert admin is not None
    calendar = await sla.create_calendar(
        rt,
        admin,
        sla.CalendarInput(
            name="Office", timezone="Asia/Shanghai", hours=[sla.HoursInput(d, "09:00", "18:00") for d in range(5)]
        ),
    )
    await sla.create_policy(
        rt,
        admin,
        sla.PolicyInput(
            name="Everyone", first_response_seconds=3600, resolution_seconds=86400, calendar_id=calendar.id
        ),
    )
    for title, body in ARTICLES:
        draft = await knowledge.create_article(rt, admin, knowledge.ArticleInput(title=title, body=body))
        await knowledge.publish_article(rt, admin, draft.id)
    async with engine.connect() as conn:
        # The busiest ticket: the most comments, so pages, authors and history all have content.
        busiest = (
            await conn.execute(
                select(tables.comments.c.ticket_id)
                .group_by(tables.comments.c.ticket_id)
                .order_by(func.count().desc(), tables.comments.c.ticket_id)
                .limit(1)
            )
        ).scalar_one()
        ticket = (await conn.execute(select(tables.tickets).where(tables.tickets.c.id == busiest))).one()
        article = (
            await conn.execute(
                select(tables.knowledge_articles.c.id).where(tables.knowledge_articles.c.status == "PUBLISHED").limit(1)
            )
        ).scalar()
        agent_email = (
            await conn.execute(
                select(tables.agents.c.email)
                .join(tables.group_members, tables.group_members.c.agent_id == tables.agents.c.id)
                .where(tables.group_members.c.group_id == ticket.group_id, tables.agents.c.role == "AGENT")
                .limit(1)
            )
        ).scalar_one()
    variables: dict[str, Any] = {
        "id": encode("Ticket", ticket.id),
        "number": ticket.number,
        "groupId": encode("Group", ticket.group_id),
        "search": "VPN",
        "query": "退款 refund",
        "subject": "My order has not arrived",
        "from": "2031-01-01T00:00:00Z",
        "to": "2031-04-01T00:00:00Z",
        "timezone": "Asia/Shanghai",
        "filter": {"status": ["NEW", "OPEN", "PENDING"]},
        "first": 5,
    }
    callers = {"admin": login.token, "agent": await _token(rt, agent_email), "anonymous": None}
    served: set[str] = set()
    compared = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for path in query_documents():
            name = str(path.relative_to(EXAMPLES))
            document = path.read_text()
            wanted = _variables_for(document, variables, ticket_customer=ticket.customer_id, article=article)
            for caller, token in callers.items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = {"query": document, "variables": wanted}
                first = await http.post(f"{still_server.url}/graphql", json=body, headers=headers)
                before = await served_compiled(http, still_server)
                second = await http.post(f"{still_server.url}/graphql", json=body, headers=headers)
                if await served_compiled(http, still_server) > before:
                    served.add(name)
                    compared += 1
                elif "viewCount" in document:
                    continue  # reading an article counts a view, so two ordinary answers differ
                # Not served from a plan: either never compiled, or the plan gave up (an anonymous
                # caller, say) and the ordinary executor answered; the same either way.
                assert second.status_code == first.status_code, (name, caller)
                assert second.json() == first.json(), (name, caller)
    assert served >= MUST_COMPILE, sorted(MUST_COMPILE - served)
    assert compared >= 2 * len(MUST_COMPILE)  # at least the admin's and the agent's requests


def _variables_for(document: str, known: dict[str, Any], *, ticket_customer: int, article: int | None) -> dict:
    operation = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    wanted: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name == "search" and "customers(" in document:
            continue  # every customer
        if name == "id" and "customer(id" in document:
            wanted[name] = encode("Customer", ticket_customer)
        elif name == "id" and "knowledgeArticle(" in document:
            wanted[name] = encode("KnowledgeArticle", article or 0)
        elif name in known:
            wanted[name] = known[name]
    return wanted


async def _token(rt: Runtime, email: str) -> str:
    # Demo agents share the demo admin's password.
    return (await auth_service.login(rt, email, DEMO_ADMIN_PASSWORD, None)).token


async def test_a_compiled_document_reports_bad_input_like_the_ordinary_executor(
    engine: AsyncEngine, settings: Settings, clock: ManualClock, still_server: ServerThread
) -> None:
    rt = Runtime(engine=engine, settings=settings, clock=clock)
    await seed_demo(rt)
    token = (await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)).token
    document = (EXAMPLES / "console/TicketList.graphql").read_text()
    url, headers = f"{still_server.url}/graphql", {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        good = await http.post(url, json={"query": document, "variables": {"first": 2}}, headers=headers)
        assert good.json()["data"]["tickets"]["edges"]
        before = await served_compiled(http, still_server)
        again = await http.post(url, json={"query": document, "variables": {"first": 2}}, headers=headers)
        assert again.json() == good.json()
        assert await served_compiled(http, still_server) == before + 1
        # Each of these leaves the plan for the ordinary executor, which explains what is wrong.
        bad_cursor = await http.post(url, json={"query": document, "variables": {"after": "nonsense"}}, headers=headers)
        assert bad_cursor.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        bad_type = await http.post(url, json={"query": document, "variables": {"first": "many"}}, headers=headers)
        assert "Int cannot represent" in bad_type.json()["errors"][0]["message"]
        nul = await http.post(
            url, json={"query": document, "variables": {"filter": {"search": "a\x00"}}}, headers=headers
        )
        assert nul.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        anonymous = await http.post(url, json={"query": document, "variables": {"first": 2}})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert await served_compiled(http, still_server) == before + 1


async def test_the_cost_limit_still_applies_when_variables_ask_for_bigger_pages(
    engine: AsyncEngine, settings: Settings, clock: ManualClock, still_server: ServerThread
) -> None:
    rt = Runtime(engine=engine, settings=settings, clock=clock)
    await seed_demo(rt)
    token = (await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)).token
    document = (
        "query Bomb($n: Int) { tickets(first: $n) { edges { node {"
        " comments(first: $n) { edges { node { body } } } } } } }"
    )
    url, headers = f"{still_server.url}/graphql", {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(2):  # learnt, then served from its plan
            small = await http.post(url, json={"query": document, "variables": {"n": 2}}, headers=headers)
            assert "errors" not in small.json()
        big = await http.post(url, json={"query": document, "variables": {"n": 100}}, headers=headers)
        assert big.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert big.json().get("data") is None


async def test_a_planned_answer_has_the_views_status_headers_and_body(
    engine: AsyncEngine, settings: Settings, clock: ManualClock, still_server: ServerThread
) -> None:
    """Plans answer by a leaner route than Strawberry's view (resolvers/http.py); what the client
    gets is the view's: status, headers, media type, body."""
    rt = Runtime(engine=engine, settings=settings, clock=clock)
    await seed_demo(rt)
    token = (await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)).token
    document = (EXAMPLES / "console/TicketList.graphql").read_text()
    url = f"{still_server.url}/graphql"
    varying = {"date", "content-length"}
    async with httpx.AsyncClient(timeout=30) as http:
        for accept in (None, "application/json", "application/graphql-response+json", "*/*"):
            headers = {"Authorization": f"Bearer {token}"} | ({"Accept": accept} if accept else {})
            text = f"{document}\n# {accept}"  # new to the server: the view answers, and it is compiled
            body = {"query": text, "variables": {"first": 3}}
            by_view = await http.post(url, json=body, headers=headers)
            before = await served_compiled(http, still_server)
            by_plan = await http.post(url, json=body, headers=headers)
            assert await served_compiled(http, still_server) == before + 1
            assert by_plan.status_code == by_view.status_code == 200
            assert {k: v for k, v in by_plan.headers.items() if k not in varying} == {
                k: v for k, v in by_view.headers.items() if k not in varying
            }, accept
            assert by_plan.json() == by_view.json()
