"""Defects the schema fuzzing found, each pinned by the smallest request that showed it.

Before their fixes each of these answered HTTP 500 or INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread, load_document

CREATE_TICKET = "console/CreateTicket.graphql"
COMMENTS = "console/TicketComments.graphql"
CREATE_CALENDAR = "console/admin/CreateBusinessCalendar.graphql"
REPORT = load_document("reports/Report.graphql")

ADD_COMMENT_LITERAL = """mutation($ticketId: ID!) {
  addComment(ticketId: $ticketId, body: "see attached", attachments: ["not a file"]) {
    comment { id } userErrors { message }
  }
}"""
ADD_COMMENT_VARIABLE = """mutation($ticketId: ID!, $files: [Upload!]) {
  addComment(ticketId: $ticketId, body: "see attached", attachments: $files) {
    comment { id } userErrors { message }
  }
}"""


async def new_ticket(client: GraphQLClient) -> str:
    payload = await client.mutate(
        CREATE_TICKET,
        {
            "input": {
                "subject": "Cannot attach",
                "description": "The upload button does nothing.",
                "channel": "EMAIL",
                "customer": {"email": "uma@example.com", "name": "Uma"},
            }
        },
    )
    return str(payload["ticket"]["id"])


async def comment_count(client: GraphQLClient, ticket_id: str) -> int:
    data = await client.run(COMMENTS, {"id": ticket_id})
    return int(data["ticket"]["comments"]["totalCount"])


@pytest.mark.parametrize(
    ("document", "extra"),
    [(ADD_COMMENT_LITERAL, {}), (ADD_COMMENT_VARIABLE, {"files": ["not a file"]})],
    ids=["literal", "variable"],
)
async def test_an_upload_that_is_not_a_file_is_refused_before_execution(
    admin: Actor, document: str, extra: dict[str, Any]
) -> None:
    """Files travel only as multipart parts; a string where an Upload goes (written in the query
    or sent in a JSON body's variables) is a request error, and nothing is written."""
    ticket_id = await new_ticket(admin.client)

    result = await admin.client.post(document, {"ticketId": ticket_id, **extra})

    assert result.get("data") is None, result
    (error,) = result["errors"]
    assert "Upload" in error["message"] and "multipart" in error["message"], error
    assert (error.get("extensions") or {}).get("code") != "INTERNAL_SERVER_ERROR"
    assert await comment_count(admin.client, ticket_id) == 0


@pytest.mark.parametrize("zone", ["Europe", "America", "x" * 300])
async def test_a_time_zone_name_that_is_a_directory_or_too_long_is_invalid_input(admin: Actor, zone: str) -> None:
    """zoneinfo looks names up as files: "Europe" is a directory and a 300-character name is
    too long for a file name. Both are just unknown zones."""
    result = await admin.client.run(
        CREATE_CALENDAR,
        {"input": {"name": "Office", "timezone": zone, "hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}]}},
    )

    payload = result["createBusinessCalendar"]
    assert payload["calendar"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "timezone"], "INVALID_INPUT")]

    report = await admin.client.post(
        REPORT, {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "timezone": zone}
    )
    assert report["data"] is None
    assert [(e["extensions"]["code"], e["extensions"].get("argument")) for e in report["errors"]] == [
        ("BAD_USER_INPUT", "timezone")
    ]


@pytest.mark.parametrize("body", [b"null", b"5", b'"{ __typename }"', b"true", b"1.5"])
async def test_a_json_body_that_is_not_an_object_is_a_bad_request(
    server: ServerThread, http: httpx.AsyncClient, body: bytes
) -> None:
    response = await http.post(f"{server.url}/graphql", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.text == "expected a JSON object"


OPERATIONS = json.dumps(
    {
        "query": 'mutation($f: [Upload!]) { addComment(ticketId: "x", body: "b", attachments: $f) { __typename } }',
        "variables": {"f": [None]},
    }
)


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        (OPERATIONS, '["variables.f.0"]'),  # the map is a list, not an object
        (OPERATIONS, '{"0": ["variables.f.x"]}'),  # "x" is no list index
        (OPERATIONS, '{"0": ["variables.g.0"]}'),  # no variable g
        (OPERATIONS, '{"0": "variables.f.0"}'),  # paths must be a list
        ('"a string"', '{"0": ["variables.f.0"]}'),  # operations is not an object
    ],
)
async def test_a_multipart_map_that_does_not_match_its_operations_is_a_bad_request(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient, operations: str, files_map: str
) -> None:
    response = await http.post(
        f"{server.url}/graphql",
        data={"operations": operations, "map": files_map},
        files={"0": ("a.txt", b"hello", "text/plain")},
        headers={"Authorization": f"Bearer {admin.token}"},
    )

    assert response.status_code == 400, response.text
    assert "Internal" not in response.text


def forged(tag: str, payload: object) -> str:
    """A cursor with one of our tags around contents our encoders never write."""
    raw = tag.encode() + (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_CURSORS = [
    ("console/Customers.graphql", {}, forged("cu1:", ["\x00", 1])),  # PostgreSQL text holds no NUL
    ("console/Customers.graphql", {}, forged("cu1:", ["Carl", 2**63])),  # past bigint
    ("console/Customers.graphql", {}, forged("cu1:", ["Carl", True])),
    ("console/knowledge/KnowledgeArticles.graphql", {}, forged("ka1:", ["2026-12-04T00:00:00+00:00", 2**63])),
    ("console/knowledge/KnowledgeArticles.graphql", {}, forged("ka1:", ["0001-01-01T00:00:00+14:00", 1])),
    ("console/TicketList.graphql", {}, forged("tk1:", ["CREATED_AT", "DESC", {"t": "0001-01-01T00:00:00+14:00"}, 1])),
    ("console/TicketHistory.graphql", {"ticket": True}, forged("ev1:", f"{2**63}:1")),
    ("console/TicketHistory.graphql", {"ticket": True}, forged("ev1:", f"1:{10**30}")),
    ("console/TicketHistory.graphql", {"ticket": True}, forged("ev1:", "-1:-1")),
]


@pytest.mark.parametrize(("document", "needs", "cursor"), FORGED_CURSORS)
async def test_a_forged_cursor_is_bad_user_input(
    admin: Actor, document: str, needs: dict[str, bool], cursor: str
) -> None:
    """A cursor that carries our tag but contents our encoders never write (a NUL, an id past
    PostgreSQL's bigint, a time that is out of range in UTC) is refused like any bad cursor."""
    variables: dict[str, Any] = {"after": cursor}
    if needs.get("ticket"):
        variables["id"] = await new_ticket(admin.client)

    result = await admin.client.post(load_document(document), variables)

    codes = [(e.get("extensions") or {}).get("code") for e in result.get("errors") or []]
    assert codes == ["BAD_USER_INPUT"], result


EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
TIME_ARGUMENTS = [
    ("console/TicketList.graphql", lambda t: {"filter": {"createdAfter": t}}),
    ("console/TicketList.graphql", lambda t: {"filter": {"createdBefore": t}}),
    ("console/admin/CreateApiToken.graphql", lambda t: {"name": "edge", "expiresAt": t}),
    ("reports/Report.graphql", lambda t: {"from": t, "to": "2026-03-02T00:00:00Z"}),
    ("reports/Report.graphql", lambda t: {"from": "2026-03-01T00:00:00Z", "to": t}),
]


@pytest.mark.parametrize("moment", EDGE_TIMES)
@pytest.mark.parametrize(("document", "variables"), TIME_ARGUMENTS)
async def test_a_time_outside_the_utc_range_is_refused(
    admin: Actor, document: str, variables: Any, moment: str
) -> None:
    """Valid ISO 8601, but before year 1 or after year 9999 once in UTC: the variable does not
    coerce (a request error), where it used to reach the database driver (a 500)."""
    result = await admin.client.post(load_document(document), variables(moment))

    assert result.get("data") is None, result
    (error,) = result["errors"]
    assert "cannot represent a DateTime" in error["message"] and "Out of range" in error["message"], error


@pytest.mark.parametrize("escape", ["\\u{0}", "\\u{00000}", "\\u0000"])
async def test_a_nul_written_as_any_unicode_escape_is_refused(admin: Actor, escape: str) -> None:
    """GraphQL strings may spell a NUL as \\u0000 or, since the 2021 spec, \\u{0}: each is refused
    up front (PostgreSQL text cannot hold it), not sent to the database."""
    document = f'mutation {{ createCustomer(input: {{name: "Nul{escape}Customer"}}) {{ customer {{ id }} }} }}'

    result = await admin.client.post(document)

    assert result.get("data") is None, result
    assert [(e["message"], e["extensions"]["code"]) for e in result["errors"]] == [
        ("input must not contain NUL characters", "BAD_USER_INPUT")
    ]


NUL_LITERALS = [
    'query { searchArticles(query: "refund\\u{0}") { score } }',
    'query { tickets(filter: {search: "printer\\u{0}"}) { totalCount } }',
    'mutation { createTicket(input: {subject: "s", description: "d", channel: EMAIL,'
    ' customer: {email: "n@example.com"}, customFields: {note: "a\\u{0}b"}}) { ticket { id } } }',
]


@pytest.mark.parametrize("document", NUL_LITERALS)
async def test_a_nul_in_a_search_or_json_literal_is_refused(admin: Actor, document: str) -> None:
    """Searches and JSON values are not validated as text by the services: the NUL used to reach
    PostgreSQL (a 500)."""
    result = await admin.client.post(document)

    assert result.get("data") is None, result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]


async def test_a_login_with_an_email_longer_than_any_email_is_a_wrong_login(anonymous: GraphQLClient) -> None:
    # The failed attempt was recorded under the whole address, which did not fit the index: 500.
    login = load_document("console/Login.graphql")
    for _ in range(2):
        answer = await anonymous.post(login, {"email": "a" * 5000 + "@example.com", "password": "x"})
        assert "errors" not in answer, answer
        assert answer["data"]["login"]["token"] is None
        assert [e["message"] for e in answer["data"]["login"]["userErrors"]] == ["wrong email or password"]
