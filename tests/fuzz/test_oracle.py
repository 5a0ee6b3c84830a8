"""The fuzz oracle itself: it must flag each kind of defect, or the fuzz tests could not fail."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.domain.global_ids import encode
from tests.fuzz.customer_view import CustomerView
from tests.fuzz.oracle import problems


def answer(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("response", "flagged"),
    [
        (httpx.Response(500, text="Internal Server Error"), "HTTP 500"),
        (httpx.Response(200, text="<html>oops</html>"), "not JSON"),
        (answer([1, 2]), "not a GraphQL response"),
        (
            answer(
                {
                    "data": None,
                    "errors": [{"message": "x", "path": ["a"], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
                }
            ),
            "INTERNAL_SERVER_ERROR",
        ),
        (
            answer({"data": None, "errors": [{"message": "Cannot return null", "path": ["a"]}]}),
            "without one of our codes",
        ),
        (
            answer({"errors": [{"message": 'Traceback (most recent call last):\n  File "/app/x.py"'}]}),
            "exception text in error",
        ),
        (
            answer({"data": {"x": {"userErrors": [{"message": "duplicate key value violates unique constraint"}]}}}),
            "exception text in .x.userErrors",
        ),
        (answer({"data": {"x": {"userErrors": [{"message": "KeyError('email')"}]}}}), "exception text"),
        (answer({"errors": [{"message": "(psycopg2.errors.DataError) invalid input syntax for type"}]}), "exception"),
    ],
)
def test_the_oracle_flags_each_kind_of_defect(response: httpx.Response, flagged: str) -> None:
    found = problems(response, '{"query": "{ a }"}')

    assert any(flagged in p for p in found), found


def test_the_oracle_accepts_our_errors_and_echoed_input() -> None:
    fine = answer(
        {
            "data": {"createTicket": {"userErrors": [{"message": "'Traceback' is not an email address"}]}},
            "errors": [
                {"message": "authentication required", "path": ["me"], "extensions": {"code": "UNAUTHENTICATED"}},
                {"message": "Cannot query field 'nope' on type 'Query'."},
            ],
        }
    )

    assert problems(fine, '{"query": "mutation { createTicket(input: {customer: {email: \\"Traceback\\"}}) }"}') == []


def customer_view() -> CustomerView:
    # No database: the cases below never reach the ID checks that need one.
    return CustomerView(customer_id=1, engine=None, secrets=("quokkafraud",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("document", "result", "flagged"),
    [
        (
            "query { ticket(number: 1) { id tags } }",
            {"data": {"ticket": None}},
            "selected Ticket.tags and got data or no FORBIDDEN",
        ),
        (
            "query { me { id } }",
            {"data": None, "errors": [{"message": "no", "extensions": {"code": "UNAUTHENTICATED"}}]},
            "selected Query.me",
        ),
        (
            'query { node(id: "x") { id } }',
            {"data": {"node": {"id": encode("Group", 3)}}},
            "the ID of a Group",
        ),
        (
            "query { ticket(number: 1) { comments { edges { node { body } } } } }",
            {"data": {"ticket": {"comments": {"edges": [{"node": {"body": "internal: quokkafraud"}}]}}}},
            "read 'quokkafraud'",
        ),
    ],
)
def test_the_customer_oracle_flags_each_kind_of_leak(document: str, result: dict[str, Any], flagged: str) -> None:
    found = customer_view().problems(document, result, document)

    assert any(flagged in p for p in found), found


def test_the_customer_oracle_accepts_a_refusal_and_an_allowed_answer() -> None:
    refused = {"data": None, "errors": [{"message": "no", "extensions": {"code": "FORBIDDEN"}}]}
    allowed = {"data": {"currentCustomer": {"id": None, "name": "Carl"}}}

    assert customer_view().problems("query { me { id } }", refused, "") == []
    assert customer_view().problems("query { currentCustomer { id name } }", allowed, "") == []
