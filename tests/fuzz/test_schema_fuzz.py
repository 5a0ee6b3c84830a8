"""Property-based fuzzing of every query and mutation of the schema against a real server.

Operations are generated from the schema by hypothesis-graphql, valid ones (POSITIVE) and ones
with one schema violation each (NEGATIVE), with our scalar strategies (values.py) supplying real
and hostile IDs, texts, numbers, dates and JSON; they go out as an ADMIN, a SUPERVISOR, an AGENT,
a customer session, anonymously and with a bad token. Operations cut down to what a customer
may select go out as two customer sessions, whose answers customer_view.py checks too. Further
tests send every argument as hostile JSON variables, the frontends' own documents with
generated variables, and broken HTTP requests. Every answer must satisfy oracle.py; afterwards
the database must satisfy tests/invariants.py.

HELPDESK_FUZZ_EXAMPLES sets the examples per test (default 250: about 2,400 requests in all);
a nightly run uses e.g. HELPDESK_FUZZ_EXAMPLES=20000. `pytest -rP` shows what the answers were.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode
from sqlalchemy import create_engine

from app.db.engine import sync_url
from tests.conftest import PASSWORD
from tests.fuzz import oracle, values, variables
from tests.fuzz.operations import (
    CUSTOMER_ROLES,
    ROLES,
    customer_schema,
    declared_variables,
    example_documents,
    generated_mutations,
    generated_queries,
    mutation_fields,
    one_field_mutations,
    schema,
)
from tests.fuzz.requests import REQUESTS, RawRequest
from tests.fuzz.world import World
from tests.invariants import ALWAYS, CAPACITY, assert_no_violations_sync, digest_sync

T = TypeVar("T")
EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "250"))
CREATE_FIELD = "console/admin/CreateTicketField.graphql"
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { token userErrors { field message code } }
}"""


def fuzz(examples: int, strategy: st.SearchStrategy[T], send: Callable[[T], None]) -> None:
    """Draws `examples` cases and sends each. No shrinking: the server's state moves on, so a
    shrunk case would not replay; a failure's message carries the whole request instead."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        send(data.draw(strategy, label="case"))

    run()


def report(world: World) -> None:
    """What the answers were (shown with `pytest -rP`): proof the run got past validation."""
    print(f"{world.requests} requests:", ", ".join(f"{k} {v}" for k, v in world.outcomes.most_common()))


def as_anyone(operations: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(st.sampled_from(ROLES), operations)


def test_generated_queries(world: World, database_url: str) -> None:
    fuzz(EXAMPLES, as_anyone(generated_queries(world)), lambda case: world.check(*case))
    report(world)
    assert_no_violations_sync(database_url)


def test_generated_mutations(world: World, database_url: str) -> None:
    fuzz(EXAMPLES, as_anyone(generated_mutations(world)), lambda case: world.check(*case))
    report(world)
    assert_no_violations_sync(database_url)


def test_generated_customer_operations(world: World, database_url: str) -> None:
    """Queries and mutations of the schema cut down to the customer allowlist, as two customer
    sessions (with every ID of the world): they get past the allowlist, so the row scoping
    beneath is what keeps other customers' tickets, INTERNAL notes and their files out of the
    answers (customer_view.py). Budgeted at half a test: customers' operations are few.

    A field customers may fill and one for agents only are defined first: the customers'
    ticketFields (and submitWebForm's checks) meet both, and customer_view.py flags the ID of
    the agents-only one wherever it would show."""
    for key, visible in (("giftWrap", True), ("fraudScore", False)):
        world.mutate(
            "admin",
            CREATE_FIELD,
            {"input": {"key": key, "label": key, "type": "CHECKBOX", "visibleToCustomer": visible}},
        )
    for role in CUSTOMER_ROLES:
        shown = world.check(role, "query { ticketFields { id key } }")["data"]["ticketFields"]
        assert [f["key"] for f in shown] == ["giftWrap"]
    operations = st.one_of(
        generated_queries(world, of=customer_schema()),
        generated_mutations(world, fields=list(customer_schema().mutation_type.fields), of=customer_schema()),  # type: ignore[union-attr]
    )
    fuzz(EXAMPLES // 2, st.tuples(st.sampled_from(CUSTOMER_ROLES), operations), lambda case: world.check(*case))
    report(world)
    assert_no_violations_sync(database_url)


def test_operations_with_one_schema_violation(world: World, database_url: str) -> None:
    """NEGATIVE operations (a wrong argument type, a missing required argument, an unknown enum
    value...) are refused as request errors: never executed, never a 500."""
    operations = st.one_of(generated_queries(world, Mode.NEGATIVE), generated_mutations(world, mode=Mode.NEGATIVE))

    def send(document: str) -> None:
        result = world.check("admin", document)
        assert result.get("errors") and not result.get("data"), f"an invalid operation was executed:\n{document}"

    fuzz(EXAMPLES, operations, send)
    report(world)
    assert_no_violations_sync(database_url)


def test_hostile_variables(world: World, database_url: str) -> None:
    """Every argument of every root field passed as a JSON variable: of its type or of any other,
    huge, negative, deeply nested, missing."""
    pool = lambda: world.pool  # noqa: E731
    query_type = schema().query_type
    assert query_type is not None
    fields = [("query", name) for name in query_type.fields] + [("mutation", name) for name in mutation_fields()]

    @st.composite
    def cases(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
        kind, name = draw(st.sampled_from(fields))
        document = variables.operation(schema(), kind, name)
        return draw(st.sampled_from(ROLES)), document, draw(variables.arguments(schema(), kind, name, pool))

    fuzz(EXAMPLES, cases(), lambda case: world.check(*case))
    report(world)
    assert_no_violations_sync(database_url)


def test_example_documents_with_generated_variables(world: World, database_url: str) -> None:
    """The frontends' own documents, each sent many times with generated variables (of their
    declared types or not), so repeated documents also run through their compiled plans."""
    pool = lambda: world.pool  # noqa: E731

    @st.composite
    def cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
        document, operation = draw(st.sampled_from(example_documents()))
        body = {
            "query": document,
            "operationName": operation.name.value if operation.name else None,
            "variables": draw(variables.values_for(declared_variables(operation), pool)),
        }
        return draw(st.sampled_from(ROLES)), body

    fuzz(EXAMPLES, cases(), lambda case: world.exchange(*case))
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
    """Every other mutation, generated and sent as the admin and at the same time as an agent
    (two connections, so assignments race): afterwards no agent holds more open tickets than
    their capacity, and every other invariant holds."""
    operations = generated_mutations(world, mutation_fields(without=PAST_CAPACITY))
    with ThreadPoolExecutor(2) as pool:

        def send(document: str) -> None:
            for done in [pool.submit(world.check, role, document) for role in ("admin", "agent")]:
                done.result()

        fuzz(EXAMPLES // 2, operations, send)
    report(world)
    assert_no_violations_sync(database_url, (*ALWAYS, CAPACITY))


# The SLA scheduler changes tickets on its own while the run goes on; without SLA policies of
# seconds nothing but the requests writes.
SCHEDULED = ("createSlaPolicy", "updateSlaPolicy")


@pytest.mark.parametrize("short_sla", [False])
def test_refused_mutations_write_nothing(world: World, database_url: str) -> None:
    """One generated mutation at a time, as an admin, a supervisor or an agent: when it is
    refused (userErrors, or an error instead of its payload), every table is exactly as before."""
    operations = one_field_mutations(world, mutation_fields(without=SCHEDULED))
    engine = create_engine(sync_url(database_url))

    def send(case: tuple[str, str]) -> None:
        role, document = case
        with engine.connect() as conn:
            before = digest_sync(conn)
            result = world.check(role, document)
            payloads = list((result.get("data") or {}).values()) or [None]
            if not any(p is None or (isinstance(p, dict) and p.get("userErrors")) for p in payloads):
                return
            world.outcomes["refused"] += 1
            conn.rollback()  # a fresh snapshot
            after = digest_sync(conn)
        changed = sorted(name for name in before if before[name] != after[name])
        world.judge(role, document, [f"a refused mutation changed {changed}: {result}"] if changed else [])

    try:
        fuzz(EXAMPLES, st.tuples(st.sampled_from(["admin", "supervisor", "agent"]), operations), send)
    finally:
        engine.dispose()
    report(world)
    assert_no_violations_sync(database_url)


def test_generated_logins(world: World) -> None:
    """login with real and made-up emails and passwords: a token or a userErrors entry."""
    credentials = st.tuples(
        st.one_of(st.sampled_from(world.emails), values.TEXT), st.one_of(st.just(PASSWORD), values.TEXT)
    )

    def send(case: tuple[str, str]) -> None:
        result = world.check("anonymous", LOGIN, {"email": case[0], "password": case[1]})
        payload = result["data"]["login"] if result.get("data") else None
        assert payload is None or bool(payload["token"]) != bool(payload["userErrors"]), result

    fuzz(max(10, EXAMPLES // 5), credentials, send)
    report(world)
