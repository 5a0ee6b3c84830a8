"""The planned path answers exactly what the ordinary executor answers: generated, not hand-listed.

The selections come from the schema itself: every field of Ticket, each with a selection of its
type's fields to a few levels (so a field added to Ticket, or to a type Ticket reaches, is covered
with no edit here). One request per Ticket field covers every field for certain; Hypothesis then
draws random sets of them with aliases, named and inline fragments, every order, filters and page
sizes. Each request is sent twice over a real server: once with a comment that makes its text new,
so the ordinary executor answers it, and once as the document the server has compiled, so its plan
answers (PostgreSQL-written nodes, fields without an SQL form resolved in Python). Both answers
must be equal, as an admin, an agent, an API token and a signed-in customer, on the deliberately
awkward data of tests/api/test_ticket_json.py with the clock standing still."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    is_leaf_type,
    is_object_type,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD
from app.services import auth as auth_service
from app.services.runtime import Runtime
from app.settings import Settings
from resolvers.schema import build_schema
from tests.api.test_authorization_matrix import customer_session_of
from tests.api.test_ticket_json import NOW, awkward_data
from tests.support import ServerThread

pytestmark = pytest.mark.slow

# Fields whose answer may differ between two requests for reasons of their own.
_UNSTABLE = {"viewCount"}


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def selection_of(object_type: GraphQLObjectType, depth: int) -> list[str]:
    """Each field of the type that needs no argument value, objects to `depth` levels; connections
    ask for two items."""
    out = []
    for name, field in object_type.fields.items():
        if name in _UNSTABLE or any(
            isinstance(arg.type, GraphQLNonNull) and arg.default_value is None for arg in field.args.values()
        ):
            continue
        arguments = "(first: 2)" if "first" in field.args else ""
        named = _named(field.type)
        if is_leaf_type(named):
            out.append(name + arguments)
        elif is_object_type(named) and depth > 0:
            inner = selection_of(named, depth - 1)
            if inner:
                out.append(f"{name}{arguments} {{ {' '.join(inner)} }}")
    return out


def ticket_field_selections(schema: GraphQLSchema) -> dict[str, str]:
    """Every field of Ticket, with a selection of what it leads to."""
    ticket = schema.type_map["Ticket"]
    assert isinstance(ticket, GraphQLObjectType)
    found = {}
    for text in selection_of(ticket, 3):
        found[text.split("(")[0].split(" ")[0]] = text
    assert set(found) >= {"id", "customer", "sla", "comments", "history", "customFields"}, sorted(found)
    return found


def response_key(pick: tuple[str | None, str, str]) -> str:
    """The key a picked field answers under: its alias, or its name (keys must not clash)."""
    alias, text, _ = pick
    return alias or text.split("(")[0].split(" ")[0]


def ticket_document(role: str, fields: list[tuple[str | None, str, str]]) -> str:
    """A query whose ticket nodes select `fields`: (alias, selection, where) with where one of
    "plain", "fragment" (a named fragment) or "inline" (an inline fragment). An agent's reads
    Query.tickets; a customer's, their own tickets through currentCustomer."""
    plain, fragment, inline = [], [], []
    for alias, text, where in fields:
        item = f"{alias}: {text}" if alias else text
        {"plain": plain, "fragment": fragment, "inline": inline}[where].append(item)
    node = " ".join(plain)
    if inline:
        node += " ... on Ticket { " + " ".join(inline) + " }"
    if fragment:
        node += " ...Picked"
    page = f"{{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ id {node} }} }} }}"
    if role == "customer":
        document = (
            "query Planned($first: Int, $after: String) { "
            f"currentCustomer {{ id tickets(first: $first, after: $after) {page} }} }}"
        )
    else:
        document = (
            "query Planned($filter: TicketFilter, $orderBy: TicketOrder, $first: Int, $after: String) { "
            f"tickets(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {page} }}"
        )
    if fragment:
        document += " fragment Picked on Ticket { " + " ".join(fragment) + " }"
    return document


class Differ:
    """Sends a request as the ordinary executor and as the plan, and compares the answers."""

    def __init__(self, server: ServerThread) -> None:
        self.url = f"{server.url}/graphql"
        self.metrics = f"{server.url}/metrics"
        self.http = httpx.Client(timeout=30)
        self.fresh = itertools.count()
        self.compared = 0
        self.served = 0

    def served_total(self) -> float:
        for line in self.http.get(self.metrics).text.splitlines():
            if line.startswith('helpdesk_graphql_compiled_total{outcome="served"}'):
                return float(line.split()[-1])
        return 0.0

    def compare(self, token: str, document: str, variables: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        headers = {"Authorization": f"Bearer {token}"}
        body = {"query": document, "variables": variables}
        self.http.post(self.url, json=body, headers=headers)  # compiled, if it answers without errors
        ordinary = self.http.post(
            self.url, json={**body, "query": f"{document}\n# {next(self.fresh)}"}, headers=headers
        )
        before = self.served_total()
        planned = self.http.post(self.url, json=body, headers=headers)
        served = self.served_total() > before
        assert planned.status_code == ordinary.status_code, (document, variables)
        assert planned.json() == ordinary.json(), (document, variables)
        self.compared += 1
        self.served += served
        answer: dict[str, Any] = ordinary.json()
        return answer, served


def page_of(answer: dict[str, Any]) -> dict[str, Any] | None:
    data = answer.get("data") or {}
    if "tickets" in data:
        page: dict[str, Any] | None = data["tickets"]
        return page
    customer = data.get("currentCustomer")
    return customer["tickets"] if customer else None


@pytest.fixture(scope="module")
def still_server(settings: Settings) -> Iterator[ServerThread]:
    server = ServerThread(settings.model_copy(update={"run_scheduler": False}), clock=ManualClock(NOW))
    server.start()
    yield server
    server.stop()


async def with_microseconds(engine: AsyncEngine) -> None:
    """Times with and without a fraction of a second side by side (the ISO forms differ)."""
    shift = "make_interval(secs => (id % 3) * 0.123457)"
    async with engine.begin() as conn:
        for table, columns in (
            ("tickets", ["created_at", "updated_at", "first_responded_at", "resolved_at", "closed_at"]),
            ("customers", ["created_at"]),
            ("sla_clocks", ["due_at", "warned_at", "breached_at", "met_at"]),
            ("comments", ["created_at"]),
        ):
            assignments = ", ".join(f"{c} = {c} + {shift}" for c in columns)
            await conn.execute(sql(f"UPDATE {table} SET {assignments}"))


async def callers(rt: Runtime) -> dict[str, str]:
    admin = await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)
    async with rt.engine.connect() as conn:
        agent_email = (
            await conn.execute(select(tables.agents.c.email).where(tables.agents.c.role == "AGENT").limit(1))
        ).scalar_one()
        t, c = tables.tickets, tables.customers
        customer_id = (
            await conn.execute(
                select(t.c.customer_id).join(c, c.c.id == t.c.customer_id).where(c.c.email.isnot(None)).limit(1)
            )
        ).scalar_one()
    agent = await auth_service.login(rt, agent_email, DEMO_ADMIN_PASSWORD, None)
    admin_principal = await auth_service.authenticate(rt, admin.token)
    assert admin_principal is not None
    token = await auth_service.create_api_token(rt, admin_principal, "partner", agent.agent.id, None)
    return {
        "admin": admin.token,
        "agent": agent.token,
        "api token": token.secret,
        "customer": await customer_session_of(rt, customer_id),
    }


async def test_generated_selections_answer_alike_on_both_paths(
    engine: AsyncEngine, settings: Settings, still_server: ServerThread
) -> None:
    rt = Runtime(engine=engine, settings=settings, clock=ManualClock(NOW))
    made = await awkward_data(rt)
    await with_microseconds(engine)
    tokens = await callers(rt)
    fields = ticket_field_selections(build_schema(settings)._schema)
    differ = Differ(still_server)

    # Every field of Ticket, alone, for every caller; as an admin, the plan must serve each one
    # that answers without errors (that is: every field is planned, by SQL or in Python).
    not_served = []
    for role, token in tokens.items():
        for name, text in fields.items():
            answer, served = differ.compare(token, ticket_document(role, [(None, text, "plain")]), {"first": 4})
            if role == "admin" and not answer.get("errors") and not served:
                not_served.append(name)
            assert page_of(answer) is not None or answer.get("errors"), (role, name, answer)
    assert not not_served, not_served
    # An empty page: no edges, no cursors, no next page, on both paths alike.
    empty, served = differ.compare(
        tokens["admin"],
        ticket_document("admin", [(None, "subject", "plain")]),
        {"first": 3, "filter": {"search": "zzqqxx"}},
    )
    assert served and empty["data"]["tickets"]["edges"] == [], empty
    assert empty["data"]["tickets"]["pageInfo"] == {"hasNextPage": False, "endCursor": None}

    schema = build_schema(settings)._schema
    order_fields = schema.type_map["TicketOrderField"]
    assert isinstance(order_fields, GraphQLEnumType)
    statuses = ["NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED"]
    filters = st.fixed_dictionaries(
        {},
        optional={
            "status": st.lists(st.sampled_from(statuses), min_size=1, max_size=3, unique=True),
            "priority": st.lists(st.sampled_from(["LOW", "NORMAL", "HIGH", "URGENT"]), min_size=1, unique=True),
            "unassigned": st.booleans(),
            "slaAtRisk": st.booleans(),
            "groupId": st.just(made["group"]),
            "search": st.sampled_from(["退款", "order", "Quote"]),
            "createdAfter": st.just("2020-01-01T00:00:00+00:00"),
        },
    )
    orders = st.fixed_dictionaries(
        {"field": st.sampled_from(list(order_fields.values)), "direction": st.sampled_from(["ASC", "DESC"])}
    )
    picks = st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
            st.sampled_from(sorted(fields.values())),
            st.sampled_from(["plain", "plain", "fragment", "inline"]),
        ),
        min_size=1,
        max_size=8,
        unique_by=response_key,
    )

    @hypothesis_settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        role=st.sampled_from(sorted(tokens)),
        picked=picks,
        filter_=st.one_of(st.none(), filters),
        order=st.one_of(st.none(), orders),
        first=st.integers(min_value=1, max_value=6),
    )
    def alike(role: str, picked: list[tuple[str | None, str, str]], filter_: Any, order: Any, first: int) -> None:
        document = ticket_document(role, picked)
        variables: dict[str, Any] = {"first": first}
        if role != "customer":
            variables |= {"filter": filter_, "orderBy": order}
        answer, _ = differ.compare(tokens[role], document, variables)
        page = page_of(answer)
        if page and page["pageInfo"]["hasNextPage"]:  # the next page too, so cursors are compared
            differ.compare(tokens[role], document, {**variables, "after": page["pageInfo"]["endCursor"]})

    alike()
    assert differ.served > len(fields), (differ.served, differ.compared)
