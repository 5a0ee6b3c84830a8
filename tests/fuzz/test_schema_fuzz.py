"""Property-based fuzzing of every query and mutation of the schema against a real server.

Operations are generated from the exported schema by hypothesis-graphql, valid ones (POSITIVE)
and ones with one schema violation each (NEGATIVE), with our scalar strategies (tests/fuzz/
values.py) supplying real and hostile IDs, texts, numbers, dates and JSON. They are sent as an
ADMIN (the most surface), an AGENT, and anonymously; further tests send hostile variables and
broken HTTP requests. Every answer must satisfy tests/fuzz/oracle.py, and afterwards the
database must satisfy tests/invariants.py.

HELPDESK_FUZZ_EXAMPLES sets the examples per test (default 150, about 3,000 requests in all);
a nightly run uses e.g. HELPDESK_FUZZ_EXAMPLES=20000.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries
from sqlalchemy import create_engine

from app.db.engine import sync_url
from app.settings import Settings
from tests.conftest import PASSWORD
from tests.fuzz import oracle, values, variables
from tests.fuzz.requests import REQUESTS, RawRequest
from tests.fuzz.world import World
from tests.invariants import ALWAYS, CAPACITY, assert_no_violations_sync, digest_sync

T = TypeVar("T")
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { token userErrors { field message code } }
}"""
EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "150"))
SCHEMA: graphql.GraphQLSchema | None = None


def schema() -> graphql.GraphQLSchema:
    global SCHEMA
    if SCHEMA is None:
        from resolvers.schema import build_schema

        SCHEMA = build_schema(Settings())._schema
    return SCHEMA


def mutation_fields(*, without: tuple[str, ...] = ()) -> list[str]:
    mutation = schema().mutation_type
    assert mutation is not None
    # login has its own test: generated logins would otherwise mostly lock the address out.
    return [name for name in mutation.fields if name not in ("login", *without)]


def _field(name: str, *subfields: str) -> graphql.FieldNode:
    selection = graphql.SelectionSetNode(selections=tuple(_field(f) for f in subfields)) if subfields else None
    return graphql.FieldNode(name=graphql.NameNode(value=name), selection_set=selection)


def with_user_errors(document: graphql.DocumentNode) -> str:
    """Prints a generated mutation with `userErrors { field message code }` selected in every
    payload, so the oracle reads the messages the business rules wrote."""
    mutation = schema().mutation_type
    assert mutation is not None

    def widen(root: graphql.SelectionNode) -> graphql.SelectionNode:
        if not isinstance(root, graphql.FieldNode) or root.selection_set is None:
            return root
        payload = graphql.get_named_type(mutation.fields[root.name.value].type)
        if not isinstance(payload, graphql.GraphQLObjectType) or "userErrors" not in payload.fields:
            return root
        selections = (*root.selection_set.selections, _field("userErrors", "field", "message", "code"))
        return replace(root, selection_set=replace(root.selection_set, selections=selections))

    definitions = [
        replace(d, selection_set=replace(d.selection_set, selections=tuple(map(widen, d.selection_set.selections))))
        if isinstance(d, graphql.OperationDefinitionNode)
        else d
        for d in document.definitions
    ]
    return graphql.print_ast(replace(document, definitions=tuple(definitions)))


def fuzz(examples: int, strategy: st.SearchStrategy[T], send: Callable[[T], None]) -> None:
    """Draws `examples` operations and sends each; no shrinking (the server's state moves on, so a
    shrunk case would not replay; the failure message carries the whole request instead)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        send(data.draw(strategy, label="operation"))

    run()


def report(world: World) -> None:
    """The outcome statistics, shown with `pytest -rP` (or -s)."""
    print(f"{world.requests} requests:", ", ".join(f"{k} {v}" for k, v in world.outcomes.most_common()))


def scalars(world: World) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    return values.scalar_literals(lambda: world.pool)


@pytest.mark.parametrize("role", ["admin", "agent", "anonymous"])
def test_generated_queries(world: World, role: str, database_url: str) -> None:
    strategy = queries(schema(), custom_scalars=scalars(world))
    fuzz(EXAMPLES, strategy, lambda q: world.check(role, q))
    report(world)
    assert_no_violations_sync(database_url)


@pytest.mark.parametrize("role", ["admin", "agent", "anonymous"])
def test_generated_mutations(world: World, role: str, database_url: str) -> None:
    strategy = mutations(schema(), fields=mutation_fields(), custom_scalars=scalars(world), print_ast=with_user_errors)
    fuzz(EXAMPLES, strategy, lambda q: world.check(role, q))
    report(world)
    assert_no_violations_sync(database_url)


@pytest.mark.parametrize("kind", ["query", "mutation"])
def test_operations_with_one_schema_violation(world: World, kind: str, database_url: str) -> None:
    """NEGATIVE operations (a wrong argument type, a missing required argument, an unknown enum
    value...) are refused as validation errors: never executed, never a 500."""
    if kind == "query":
        strategy = queries(schema(), custom_scalars=scalars(world), mode=Mode.NEGATIVE)
    else:
        strategy = mutations(schema(), fields=mutation_fields(), custom_scalars=scalars(world), mode=Mode.NEGATIVE)

    def send(document: str) -> None:
        result = world.check("admin", document)
        assert result.get("errors"), f"an invalid operation was answered without errors:\n{document}"

    fuzz(EXAMPLES, strategy, send)
    report(world)
    assert_no_violations_sync(database_url)


def root_fields() -> list[tuple[str, str]]:
    fields = [("query", name) for name in schema().query_type.fields]  # type: ignore[union-attr]
    return fields + [("mutation", name) for name in mutation_fields()]


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_hostile_variables(world: World, role: str, database_url: str) -> None:
    """Every argument of every root field passed as a JSON variable: of its type or of any other,
    huge, negative, deeply nested, missing."""
    pool = lambda: world.pool  # noqa: E731

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[str, dict]:
        kind, name = draw(st.sampled_from(root_fields()))
        return variables.operation(schema(), kind, name), draw(variables.arguments(schema(), kind, name, pool))

    fuzz(EXAMPLES, requests(), lambda r: world.check(role, *r))
    report(world)
    assert_no_violations_sync(database_url)


def test_broken_http_requests(world: World, database_url: str) -> None:
    """Malformed JSON bodies, wrong content types and methods, lying multipart forms, oversized
    and deeply nested bodies: a 4xx (or a GraphQL error), never a 5xx or exception text."""

    def send(request: RawRequest) -> None:
        world.requests += 1
        try:
            response = world.http.request(
                request.method,
                f"{world.base_url}/graphql",
                params=request.params,
                content=request.body,
                headers={
                    **world.headers("admin"),
                    **({"Content-Type": request.content_type} if request.content_type is not None else {}),
                },
            )
        except httpx.TransportError as exc:
            world.judge("admin", request.describe(), [f"connection failed: {exc!r}"])
            return
        is_json = response.headers.get("content-type", "").startswith(("application/json", "application/graphql"))
        found = oracle.problems(response, request.describe(), graphql_answer=is_json and request.method != "HEAD")
        world.outcomes[f"HTTP {response.status_code}"] += 1
        world.judge("admin", request.describe(), found)

    fuzz(EXAMPLES, REQUESTS, send)
    report(world)
    assert_no_violations_sync(database_url)


# What may legitimately leave an agent above capacity: a supervisor's manual assignment, a
# lowered capacity, and a reopen (the ticket goes back to the agent who had it).
PAST_CAPACITY = ("assignTicket", "updateAgent", "reopenTicket", "addCustomerReply")


def test_automatic_assignment_keeps_capacity(world: World, database_url: str) -> None:
    """Every other mutation, generated as the admin and at the same time as an agent (two
    connections, so assignments race): afterwards no agent holds more open tickets than their
    capacity, and every other invariant holds."""
    strategy = mutations(
        schema(),
        fields=mutation_fields(without=PAST_CAPACITY),
        custom_scalars=scalars(world),
        print_ast=with_user_errors,
    )
    with ThreadPoolExecutor(2) as pool:

        def send(document: str) -> None:
            for done in [pool.submit(world.check, role, document) for role in ("admin", "agent")]:
                done.result()

        fuzz(EXAMPLES, strategy, send)
    report(world)
    assert_no_violations_sync(database_url, (*ALWAYS, CAPACITY))


def test_generated_logins(world: World) -> None:
    """login with real and made-up emails and passwords: a token or a userErrors entry."""
    emails = st.one_of(st.sampled_from(world.emails), values.TEXT)
    strategy = st.tuples(emails, st.one_of(st.just(PASSWORD), values.TEXT))

    def send(credentials: tuple[str, str]) -> None:
        result = world.check("anonymous", LOGIN, {"email": credentials[0], "password": credentials[1]})
        payload = result["data"]["login"] if result.get("data") else None
        assert payload is None or bool(payload["token"]) != bool(payload["userErrors"]), result

    fuzz(max(10, EXAMPLES // 5), strategy, send)
    report(world)


# The SLA scheduler changes tickets on its own while the run goes on; without SLA policies of
# seconds nothing but the requests writes.
SCHEDULED = ("createSlaPolicy", "updateSlaPolicy")


@pytest.mark.parametrize("short_sla", [False])
def test_refused_mutations_write_nothing(world: World, database_url: str) -> None:
    """One generated mutation at a time, as an admin, a supervisor or an agent: when it is
    refused (userErrors, or an error instead of its payload), every table is exactly as before."""
    fields = mutation_fields(without=SCHEDULED)
    one_field = st.sampled_from(fields).flatmap(
        lambda name: mutations(schema(), fields=[name], custom_scalars=scalars(world), print_ast=with_user_errors)
    )
    engine = create_engine(sync_url(database_url))
    refused = 0

    def send(case: tuple[str, str]) -> None:
        nonlocal refused
        role, document = case
        with engine.connect() as conn:
            before = digest_sync(conn)
            result = world.check(role, document)
            payloads = list((result.get("data") or {}).values()) or [None]
            if not any(p is None or (isinstance(p, dict) and p.get("userErrors")) for p in payloads):
                return
            refused += 1
            conn.rollback()  # a fresh snapshot
            after = digest_sync(conn)
        changed = sorted(name for name in before if before[name] != after[name])
        world.judge(role, document, [f"a refused mutation changed {changed}: {result}"] if changed else [])

    try:
        fuzz(EXAMPLES, st.tuples(st.sampled_from(["admin", "supervisor", "agent"]), one_field), send)
    finally:
        engine.dispose()
    world.outcomes["refused"] = refused
    report(world)
    assert_no_violations_sync(database_url)
