"""The websocket protocols on /graphql, message by message, against the real server.

graphql-transport-ws as its PROTOCOL.md (github.com/enisdenjo/graphql-ws) says: the close codes
4400 (invalid message), 4401 (subscribe before acknowledgement), 4403 (rejected credentials,
tests/api/test_smoke.py), 4408 (no connection_init in time), 4409 (duplicate id), 4429 (second
connection_init), 1009 for a message over HELPDESK_MAX_WS_MESSAGE_BYTES; ping/pong; complete.
Then the legacy graphql-ws protocol (subscriptions-transport-ws), which is enabled too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import websockets
from starlette.routing import WebSocketRoute

from tests.conftest import Actor
from tests.support import ServerThread, load_document

TICKET_EVENTS = load_document("console/TicketEventsSubscription.graphql")
TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


def new_ticket(i: int = 0) -> dict[str, Any]:
    return {
        "input": {
            "subject": f"打印机卡纸 #{i}",
            "description": "The printer jams on every second page.",
            "channel": "CHAT",
            "customer": {"email": f"protocol{i}@example.cn"},
        }
    }


class Socket:
    """A raw websocket client: sends exactly what a test gives it, and checks that every server
    message is a JSON object in a text frame (both protocols say so; a browser cannot parse a
    binary frame as JSON)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(json.dumps(message) if isinstance(message, dict) else message)

    async def receive(self, within: float = 10.0, skip: tuple[str, ...] = ("ka",)) -> dict[str, Any]:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), within)
            assert isinstance(frame, str), f"binary frame from the server: {frame!r}"
            message = json.loads(frame)
            assert isinstance(message, dict), message
            if message.get("type") not in skip:
                return message

    async def closed(self, within: float = 10.0) -> tuple[int | None, str]:
        """Reads until the server closes the connection; its close code and reason."""
        deadline = time.monotonic() + within
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), max(deadline - time.monotonic(), 0.01))
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason

    async def nothing_for(self, op_id: str, seconds: float) -> None:
        try:
            while True:
                message = await self.receive(seconds)
                assert message.get("id") != op_id, f"unexpected message: {message}"
        except TimeoutError:
            return


async def connect(server: ServerThread, protocol: str = TRANSPORT_WS) -> Socket:
    url = server.url.replace("http", "ws", 1) + "/graphql"
    ws = await websockets.connect(url, subprotocols=[protocol], max_size=2**22)  # type: ignore[list-item]
    assert ws.subprotocol == protocol
    return Socket(ws)


async def acknowledged(server: ServerThread, token: str | None = None, protocol: str = TRANSPORT_WS) -> Socket:
    socket = await connect(server, protocol)
    await socket.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"} if token else {}})
    assert (await socket.receive()) == {"type": "connection_ack"} | (
        {"payload": None} if protocol == TRANSPORT_WS else {}
    )
    return socket


def subscribe(op_id: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}


async def eventually(predicate: Callable[[], bool], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within}s")
        await asyncio.sleep(0.02)


@pytest.fixture
def listeners(server: ServerThread) -> Callable[[], int]:
    """The hub's live subscription count (a subscription is registered a moment after `subscribe`)."""
    hub = server.app.state.hub
    return lambda: int(hub.listener_count)


# ---------------------------------------------------------------- graphql-transport-ws


async def test_subscribe_before_connection_init_closes_4401(server: ServerThread) -> None:
    socket = await connect(server)
    await socket.send(subscribe("1", "{ __typename }"))
    assert await socket.closed() == (4401, "Unauthorized")


async def test_a_second_connection_init_closes_4429(server: ServerThread) -> None:
    socket = await acknowledged(server)
    await socket.send({"type": "connection_init", "payload": {}})
    assert await socket.closed() == (4429, "Too many initialisation requests")


async def test_connection_init_with_a_null_payload_is_acknowledged(server: ServerThread) -> None:
    socket = await connect(server)
    await socket.send({"type": "connection_init", "payload": None})
    assert (await socket.receive())["type"] == "connection_ack"
    await socket.send(subscribe("1", "{ __typename }"))
    assert await socket.receive() == {"id": "1", "type": "next", "payload": {"data": {"__typename": "Query"}}}
    assert await socket.receive() == {"id": "1", "type": "complete"}
    await socket.ws.close()


async def test_a_duplicate_id_while_the_first_is_live_closes_4409(
    admin: Actor, server: ServerThread, listeners: Callable[[], int]
) -> None:
    before = listeners()
    socket = await acknowledged(server, admin.token)
    await socket.send(subscribe("dup", TICKET_EVENTS))
    await eventually(lambda: listeners() == before + 1, "first subscription live")
    await socket.send(subscribe("dup", TICKET_EVENTS))
    assert await socket.closed() == (4409, "Subscriber for dup already exists")
    await eventually(lambda: listeners() == before, "subscription released on close")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('{"type": "bogus"}', "Unknown message type: bogus"),
        ('{"id": "1", "type": "next", "payload": {}}', "Unknown message type: next"),  # a server message
        ("{not json", "WebSocket message must be valid JSON"),
        ("[]", "Invalid message: expected an object with a string type"),
        ('{"id": "1"}', "Invalid message: expected an object with a string type"),
        ('{"type": "subscribe", "payload": {"query": "{ __typename }"}}', "Invalid subscribe message: id"),
        ('{"id": 1, "type": "subscribe", "payload": {"query": "{ __typename }"}}', "Invalid subscribe message: id"),
        ('{"id": "1", "type": "subscribe"}', "Invalid subscribe payload: query must be a string"),
        ('{"id": "1", "type": "subscribe", "payload": {"query": 5}}', "Invalid subscribe payload: query"),
        (
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "variables": []}}',
            "Invalid subscribe payload: variables",
        ),
        ('{"type": "complete"}', "Invalid complete message: id"),
        ('{"type": "ping", "payload": "x"}', "Invalid ping payload"),
        (b'{"type": "ping"}', "WebSocket message type must be text"),
    ],
)
async def test_an_invalid_message_closes_4400(server: ServerThread, frame: str | bytes, reason: str) -> None:
    socket = await acknowledged(server)
    await socket.send(frame)
    code, got = await socket.closed()
    assert code == 4400 and got.startswith(reason), (code, got)


async def test_a_connection_init_with_a_non_object_payload_closes_4400(server: ServerThread) -> None:
    socket = await connect(server)
    await socket.send({"type": "connection_init", "payload": "token"})
    code, _ = await socket.closed()
    assert code == 4400


@pytest.fixture
def short_init_timeout(server: ServerThread) -> Iterator[None]:
    """The view's connection_init wait (a minute by default) shortened to one second."""
    (route,) = [r for r in server.app.routes if isinstance(r, WebSocketRoute) and r.path == "/graphql"]
    view = route.endpoint
    saved = view.connection_init_wait_timeout
    view.connection_init_wait_timeout = timedelta(seconds=1)
    yield
    view.connection_init_wait_timeout = saved


async def test_no_connection_init_in_time_closes_4408(server: ServerThread, short_init_timeout: None) -> None:
    socket = await connect(server)
    assert await socket.closed(within=15) == (4408, "Connection initialisation timeout")


async def test_a_message_over_the_size_limit_closes_1009_and_one_under_it_is_served(server: ServerThread) -> None:
    limit = server.app.state.runtime.settings.max_ws_message_bytes
    assert limit == 1_048_576  # HELPDESK_MAX_WS_MESSAGE_BYTES's default, not uvicorn's 16 MiB
    socket = await acknowledged(server)
    envelope = len(json.dumps({"type": "ping", "payload": {"pad": ""}}))
    await socket.send({"type": "ping", "payload": {"pad": "x" * (limit - envelope)}})  # exactly the limit
    assert await socket.receive() == {"type": "pong"}
    await socket.send({"type": "ping", "payload": {"pad": "x" * (limit - envelope + 1)}})
    code, _ = await socket.closed()
    assert code == 1009


async def test_ping_gets_pong_and_pong_gets_nothing(server: ServerThread) -> None:
    socket = await acknowledged(server)
    await socket.send({"type": "ping", "payload": {"at": "now"}})
    assert await socket.receive() == {"type": "pong"}
    await socket.send({"type": "pong"})
    await socket.send({"type": "ping"})
    # Messages are handled in order: had the pong been answered, that answer would come first.
    assert await socket.receive() == {"type": "pong"}
    await socket.ws.close()


async def test_queries_and_mutations_run_over_the_socket(admin: Actor, server: ServerThread) -> None:
    socket = await acknowledged(server, admin.token)
    await socket.send(subscribe("q", "{ me { name } }"))
    assert await socket.receive() == {"id": "q", "type": "next", "payload": {"data": {"me": {"name": "Ada Admin"}}}}
    assert await socket.receive() == {"id": "q", "type": "complete"}
    await socket.send(subscribe("v", "{ noSuchField }"))
    error = await socket.receive()
    assert error["id"] == "v" and error["type"] == "error" and "noSuchField" in error["payload"][0]["message"]
    await socket.ws.close()


async def test_complete_stops_delivery_and_frees_the_id(
    admin: Actor, server: ServerThread, listeners: Callable[[], int]
) -> None:
    before = listeners()
    socket = await acknowledged(server, admin.token)
    await socket.send(subscribe("1", TICKET_EVENTS))
    await eventually(lambda: listeners() == before + 1, "subscription 1 live")
    await admin.client.mutate("console/CreateTicket.graphql", new_ticket(1))
    first = await socket.receive()
    assert first["id"] == "1" and first["type"] == "next", first

    await socket.send({"id": "1", "type": "complete"})
    await socket.send(subscribe("2", TICKET_EVENTS))
    await eventually(lambda: listeners() == before + 1, "subscription 1 released, 2 live")
    await admin.client.mutate("console/CreateTicket.graphql", new_ticket(2))
    second = await socket.receive()
    assert second["id"] == "2" and second["type"] == "next", second
    await socket.nothing_for("1", 1.0)

    # The completed id may be used again.
    await socket.send(subscribe("1", TICKET_EVENTS))
    await eventually(lambda: listeners() == before + 2, "subscription 1 live again")
    await admin.client.mutate("console/CreateTicket.graphql", new_ticket(3))
    got = {(await socket.receive())["id"] for _ in range(2)}
    assert got == {"1", "2"}
    await socket.ws.close()
    await eventually(lambda: listeners() == before, "subscriptions released on close")


async def test_a_subscription_over_the_per_connection_limit_gets_an_error_and_the_connection_stays(
    admin: Actor, server: ServerThread, listeners: Callable[[], int]
) -> None:
    limit = server.app.state.runtime.settings.max_subscriptions_per_connection
    before = listeners()
    socket = await acknowledged(server, admin.token)
    for i in range(limit):
        await socket.send(subscribe(str(i), TICKET_EVENTS))
    await eventually(lambda: listeners() == before + limit, f"{limit} subscriptions live")

    await socket.send(subscribe("extra", TICKET_EVENTS))
    error = await socket.receive()
    assert error["id"] == "extra" and error["type"] == "error", error
    (problem,) = error["payload"]
    assert problem["message"] == f"at most {limit} subscriptions per connection"
    assert problem["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit}

    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}
    await socket.send({"id": "0", "type": "complete"})
    await socket.send(subscribe("extra", TICKET_EVENTS))  # the refused id is free, and so is a slot
    await eventually(lambda: listeners() == before + limit, "a freed slot taken again")
    await socket.ws.close()
    await eventually(lambda: listeners() == before, "subscriptions released on close")


# ---------------------------------------------------------------- legacy graphql-ws


async def test_legacy_subscription_delivers_data_and_stop_completes_it(
    admin: Actor, server: ServerThread, listeners: Callable[[], int]
) -> None:
    before = listeners()
    socket = await acknowledged(server, admin.token, LEGACY_WS)
    await socket.send({"id": "1", "type": "start", "payload": {"query": TICKET_EVENTS}})
    await eventually(lambda: listeners() == before + 1, "legacy subscription live")
    await admin.client.mutate("console/CreateTicket.graphql", new_ticket(1))
    data = await socket.receive()
    assert data["type"] == "data" and data["id"] == "1", data
    assert data["payload"]["data"]["ticketEvents"]["type"] == "CREATED"

    await socket.send({"id": "1", "type": "stop"})
    assert await socket.receive() == {"type": "complete", "id": "1"}
    await eventually(lambda: listeners() == before, "legacy subscription released")
    await admin.client.mutate("console/CreateTicket.graphql", new_ticket(2))
    await socket.nothing_for("1", 1.0)

    await socket.send({"type": "connection_terminate"})
    assert await socket.closed() == (1000, "")


async def test_legacy_keep_alive_follows_the_acknowledgement(server: ServerThread) -> None:
    socket = await connect(server, LEGACY_WS)
    await socket.send({"type": "connection_init"})
    assert await socket.receive(skip=()) == {"type": "connection_ack"}
    assert await socket.receive(skip=()) == {"type": "ka"}
    await socket.ws.close()


async def test_legacy_start_before_connection_init_closes_4401(server: ServerThread) -> None:
    socket = await connect(server, LEGACY_WS)
    await socket.send({"id": "1", "type": "start", "payload": {"query": "{ __typename }"}})
    assert await socket.closed() == (4401, "Unauthorized")


async def test_legacy_bad_credentials_get_connection_error(server: ServerThread) -> None:
    socket = await connect(server, LEGACY_WS)
    await socket.send({"type": "connection_init", "payload": {"Authorization": "Bearer hds_forged"}})
    assert await socket.receive() == {"type": "connection_error", "payload": {"message": "invalid credentials"}}
    code, _ = await socket.closed()
    assert code == 1011


async def test_legacy_invalid_messages_get_an_error_and_the_connection_stays(server: ServerThread) -> None:
    socket = await acknowledged(server, protocol=LEGACY_WS)
    for frame in ("[]", "7", '{"type": "bogus"}', '{"type": "start", "payload": {"query": "{ __typename }"}}'):
        await socket.send(frame)
        message = await socket.receive()
        assert message["type"] == "error" and message["payload"]["message"].startswith("Invalid"), (frame, message)
    await socket.send({"id": "1", "type": "start", "payload": {}})
    assert await socket.receive() == {
        "type": "error",
        "id": "1",
        "payload": {"message": "Invalid start payload: query required"},
    }
    await socket.send({"id": "2", "type": "start", "payload": {"query": "{ __typename }"}})
    assert await socket.receive() == {"type": "data", "id": "2", "payload": {"data": {"__typename": "Query"}}}
    assert await socket.receive() == {"type": "complete", "id": "2"}
    await socket.ws.close()
