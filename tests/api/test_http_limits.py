"""HTTP-level limits: oversized bodies are refused before they are read; CORS is closed by default."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.settings import Settings
from tests.support import GraphQLClient, ServerThread


async def test_an_oversized_json_body_is_refused_with_413(anonymous: GraphQLClient, server: ServerThread) -> None:
    body = '{"query": "{ __typename }", "variables": {"pad": "' + "x" * 1_100_000 + '"}}'
    response = await anonymous.http.post(
        f"{server.url}/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_chunked_body_without_length_is_cut_off_at_the_limit(
    anonymous: GraphQLClient, server: ServerThread
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(40):
            yield b"y" * 50_000
        yield b'"}}'

    response = await anonymous.http.post(
        f"{server.url}/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_normal_request_still_works(anonymous: GraphQLClient) -> None:
    result = await anonymous.post("{ __typename }")
    assert result == {"data": {"__typename": "Query"}}


async def test_cors_is_closed_by_default(anonymous: GraphQLClient, server: ServerThread) -> None:
    response = await anonymous.http.options(
        f"{server.url}/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture(scope="module")
def cors_server(settings: Settings) -> Iterator[ServerThread]:
    thread = ServerThread(settings.model_copy(update={"cors_origins": "https://console.example"}))
    thread.start()
    yield thread
    thread.stop()


async def test_configured_origins_and_only_those_get_cors_headers(cors_server: ServerThread) -> None:
    async with httpx.AsyncClient() as http:
        allowed = await http.options(
            f"{cors_server.url}/graphql",
            headers={"Origin": "https://console.example", "Access-Control-Request-Method": "POST"},
        )
        other = await http.options(
            f"{cors_server.url}/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert allowed.headers.get("access-control-allow-origin") == "https://console.example"
    assert other.headers.get("access-control-allow-origin") is None
