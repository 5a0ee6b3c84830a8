"""GraphQL over HTTP beyond what the audit checks: status codes and media types a client sees
for the cases our server decides (mutations over GET, subscriptions over HTTP, charsets)."""

from __future__ import annotations

import httpx

from tests.conftest import PASSWORD, Actor
from tests.support import ServerThread

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_a_mutation_over_get_is_405_with_allow_post_and_is_not_executed(
    server: ServerThread, http: httpx.AsyncClient, admin: Actor
) -> None:
    login = f'mutation {{ login(email: "{admin.agent.email}", password: "{PASSWORD}") {{ token }} }}'
    response = await http.get(f"{server.url}/graphql", params={"query": login})
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    # The same document over POST runs (so the 405 was about the method, not the document).
    posted = await http.post(f"{server.url}/graphql", json={"query": login})
    assert posted.status_code == 200 and posted.json()["data"]["login"]["token"]


async def test_a_query_over_get_is_served(server: ServerThread, http: httpx.AsyncClient) -> None:
    response = await http.get(
        f"{server.url}/graphql", params={"query": "{ __typename }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_subscription_over_http_is_a_clear_400_not_an_internal_error(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    response = await http.post(f"{server.url}/graphql", json={"query": "subscription { ticketEvents { type } }"})
    assert response.status_code == 400
    assert "websocket" in response.text


async def test_request_errors_under_graphql_response_json_are_400_without_data(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    headers = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    for document, variables in [
        ("{ __typename", None),  # does not parse
        ("{ noSuchField }", None),  # does not validate
        ("query($n: Int!) { __typename }", {"n": "not a number"}),  # variable does not coerce
    ]:
        response = await http.post(
            f"{server.url}/graphql", json={"query": document, "variables": variables}, headers=headers
        )
        assert response.status_code == 400, (document, response.text)
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        body = response.json()
        assert "data" not in body and body["errors"], body


async def test_field_errors_under_graphql_response_json_are_200_with_data(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{server.url}/graphql", json={"query": "{ __typename me { id } }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"__typename": "Query", "me": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_legacy_application_json_keeps_200_for_request_errors(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    for accept in (None, "application/json", "*/*"):
        headers = {"Accept": accept} if accept else {}
        response = await http.post(f"{server.url}/graphql", json={"query": "{ noSuchField }"}, headers=headers)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == "application/json", accept
        assert response.headers["vary"] == "Accept"
        assert response.json()["errors"], accept


async def test_request_bodies_must_be_utf8(server: ServerThread, http: httpx.AsyncClient) -> None:
    body = b'{"query": "{ __typename }"}'
    ok = await http.post(
        f"{server.url}/graphql", content=body, headers={"Content-Type": "application/json; charset=UTF-8"}
    )
    assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}
    latin1 = await http.post(
        f"{server.url}/graphql", content=body, headers={"Content-Type": "application/json; charset=iso-8859-1"}
    )
    assert latin1.status_code == 415
    invalid_utf8 = await http.post(
        f"{server.url}/graphql",
        content=b'{"query": "{ __typename }", "operationName": "caf\xe9"}',
        headers={"Content-Type": "application/json"},
    )
    assert invalid_utf8.status_code == 400


async def test_a_non_string_operation_name_is_a_400(server: ServerThread, http: httpx.AsyncClient) -> None:
    for operation_name in ({"a": 1}, ["a"], 7, True):
        response = await http.post(
            f"{server.url}/graphql", json={"query": "{ __typename }", "operationName": operation_name}
        )
        assert response.status_code == 400, (operation_name, response.text)
        assert "operationName" in response.text
