"""Automatic persisted queries against a real server, as Apollo's PersistedQueryLink drives them:
the hash alone first, the document with its hash when the server does not know it, the hash
alone from then on. Only accepted documents are registered, and a hash never skips who may see
what."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from tests.conftest import Actor
from tests.support import ServerThread

GRAPHQL_RESPONSE = "application/graphql-response+json"
AGENTS = "query Agents { agents { id email } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def apq(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def post(
    server: ServerThread, http: httpx.AsyncClient, body: dict[str, Any], token: str | None = None, **headers: str
) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post(f"{server.url}/graphql", json=body, headers=headers)


async def test_a_document_sent_once_with_its_hash_is_then_run_by_the_hash_alone(
    server: ServerThread, http: httpx.AsyncClient, admin: Actor
) -> None:
    first = await post(server, http, {"extensions": apq(sha(AGENTS))}, admin.token)
    assert first.status_code == 200
    assert first.json() == {
        "data": None,
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}],
    }

    sent = await post(server, http, {"query": AGENTS, "extensions": apq(sha(AGENTS))}, admin.token)
    assert sent.status_code == 200 and sent.json()["data"]["agents"], sent.text
    by_hash = await post(server, http, {"extensions": apq(sha(AGENTS))}, admin.token)
    assert by_hash.json() == sent.json()
    # Over GET too, as the link sends queries when told to (useGETForHashedQueries).
    got = await http.get(
        f"{server.url}/graphql",
        params={"extensions": json.dumps(apq(sha(AGENTS)))},
        headers={"Authorization": f"Bearer {admin.token}", "Accept": "application/json"},
    )
    assert got.status_code == 200 and got.json() == sent.json()


async def test_an_unknown_hash_is_a_request_error_under_graphql_response_json(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    response = await post(server, http, {"extensions": apq(sha("{ __typename }"))}, Accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_refused_document_is_not_registered(server: ServerThread, http: httpx.AsyncClient) -> None:
    deep = "{ __schema { types { " + "fields { type { " * 6 + "name" + " } }" * 6 + " } } }"  # past the depth limit
    for document in ["{ noSuchField }", "{ __typename", deep]:
        refused = await post(server, http, {"query": document, "extensions": apq(sha(document))})
        assert refused.json()["errors"], document
        again = await post(server, http, {"extensions": apq(sha(document))})
        assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND", document


async def test_a_hash_runs_with_the_callers_own_rights(
    server: ServerThread, http: httpx.AsyncClient, admin: Actor
) -> None:
    await post(server, http, {"query": AGENTS, "extensions": apq(sha(AGENTS))}, admin.token)
    anonymous = (await post(server, http, {"extensions": apq(sha(AGENTS))})).json()
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_bad_persisted_query_extension_is_a_clear_400(server: ServerThread, http: httpx.AsyncClient) -> None:
    document = "{ __typename }"
    for extensions, reason in [
        (apq(sha("{ other }")), "does not match"),
        ({"persistedQuery": {"version": 2, "sha256Hash": sha(document)}}, "version: 1"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "XYZ"}}, "64 lowercase hex"),
        ({"persistedQuery": "yes"}, "version: 1"),
    ]:
        response = await post(server, http, {"query": document, "extensions": extensions})
        assert response.status_code == 400 and reason in response.text, (extensions, response.text)
    # Nothing was registered by the refusals.
    response = await post(server, http, {"extensions": apq(sha(document))})
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
