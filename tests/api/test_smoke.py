"""The service answers over HTTP and websockets."""

from __future__ import annotations

import json

import websockets

from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread


async def test_healthz_reports_database(anonymous: GraphQLClient, server: ServerThread) -> None:
    response = await anonymous.http.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_metrics_are_exposed(anonymous: GraphQLClient, server: ServerThread) -> None:
    await anonymous.http.get(f"{server.url}/healthz")
    response = await anonymous.http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert 'helpdesk_http_requests_total{method="GET",path="/healthz",status="200"}' in response.text


async def test_graphiql_is_served_to_browsers(anonymous: GraphQLClient, server: ServerThread) -> None:
    response = await anonymous.http.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_query_over_graphql_transport_ws_with_token_in_connection_init(
    admin: Actor, server: ServerThread
) -> None:
    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {admin.token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ me { name role } }"}}))
        message = json.loads(await ws.recv())
        assert message == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"me": {"name": "Ada Admin", "role": "ADMIN"}}},
        }
        assert json.loads(await ws.recv()) == {"id": "1", "type": "complete"}


async def test_legacy_graphql_ws_protocol_is_served(admin: Actor, server: ServerThread) -> None:
    # The legacy protocol's `start` runs any operation: a query answers with data, then complete.
    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {admin.token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": "{ me { name } }"}}))
        messages: list[dict] = []
        while len(messages) < 2:
            message = json.loads(await ws.recv())
            if message["type"] != "ka":  # keep-alives may come at any time
                messages.append(message)
        assert messages == [
            {"type": "data", "id": "1", "payload": {"data": {"me": {"name": "Ada Admin"}}}},
            {"type": "complete", "id": "1"},
        ]


async def test_websocket_with_bad_token_is_rejected(server: ServerThread) -> None:
    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer hds_forged"}}))
        try:
            await ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4403
        else:
            raise AssertionError("connection was not closed")
