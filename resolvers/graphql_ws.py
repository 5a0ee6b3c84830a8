"""The websocket protocols, held to their specs where Strawberry's handlers are lenient.

graphql-transport-ws (github.com/enisdenjo/graphql-ws, PROTOCOL.md): a message that is not an
object of the protocol's shape closes the socket with 4400. Strawberry's handler checks only the
`type`, so `[]`, a `subscribe` without an object payload or a string query, or a non-string id
crashed the handler (an abnormal close, no code) or was run anyway; and it refused the spec's
`connection_init` with `"payload": null`.

Both: server messages go out as text frames.

Legacy graphql-ws (subscriptions-transport-ws): a `start` may carry any operation, and a message
that is not an object gets an `error` message instead of tearing the connection down.

Both: the connection's credential is re-read before every operation and every few seconds
while the socket is open; once it is gone the socket is closed with 4403
(resolvers/ws_credentials.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyConnectionInit
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage

from app.limits import json_nesting
from resolvers.ws_credentials import ConnectionCredential
from schema.context import Context


class TextFrames(ASGIWebSocketAdapter):
    """Every message in a text frame, as both protocols have it: the view encodes JSON to bytes
    (orjson), which Strawberry's adapter would send as binary frames, and a browser client's
    JSON.parse cannot read a Blob."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        try:
            await self.ws.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _optional_object(message: Mapping[str, Any], key: str) -> bool:
    return message.get(key) is None or isinstance(message[key], dict)


def transport_ws_violation(message: object) -> str | None:
    """Why `message` is not a well-formed graphql-transport-ws message from a client, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "Invalid message: expected an object with a string type"
    kind = message["type"]
    if kind in ("connection_init", "ping", "pong") and not _optional_object(message, "payload"):
        return f"Invalid {kind} payload"
    if kind in ("subscribe", "complete") and not _is_id(message.get("id")):
        return f"Invalid {kind} message: id must be a non-empty string"
    if kind == "subscribe":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "Invalid subscribe payload: query must be a string"
        if not (_optional_object(payload, "variables") and _optional_object(payload, "extensions")):
            return "Invalid subscribe payload: variables and extensions must be objects"
        if payload.get("operationName") is not None and not isinstance(payload["operationName"], str):
            return "Invalid subscribe payload: operationName must be a string"
    return None


class _JsonNestingLimit(Protocol):
    max_json_nesting: int


def _nesting_limit(view: object) -> int:
    """The view's limit (resolvers.http.HelpdeskGraphQL, which builds these handlers)."""
    return cast("_JsonNestingLimit", view).max_json_nesting


def too_deep(message: object, limit: int) -> str | None:
    """Why a message is refused for nesting deeper than an HTTP request may (else None)."""
    if (nesting := json_nesting(message)) > limit:
        return f"Invalid message: its JSON nests {nesting} levels deep, the limit is {limit}"
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credential = ConnectionCredential(self.context, self.websocket)

    async def handle_message(self, message: Message) -> None:
        violation = transport_ws_violation(message) or too_deep(message, _nesting_limit(self.view))
        if violation is not None:
            await self.handle_invalid_message(violation)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # The spec allows "payload": null; Strawberry only an object or no payload at all.
        if message.get("payload", {}) is None:
            message = {"type": "connection_init"}
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.credential.watch()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # Every operation (query, mutation, subscription) runs as the caller is now.
        if self.connection_acknowledged and await self.credential.refuse_if_gone():
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        await self.credential.stop()
        await super().shutdown()


class _AnyOperation:
    """The schema as the legacy handler sees it: its `subscribe` streams any operation, as the
    legacy protocol's `start` allows (Strawberry's own `subscribe` refuses queries and mutations
    with an exception that reached the client as an internal server error)."""

    def __init__(self, schema: BaseSchema) -> None:
        self._schema = schema

    async def subscribe(self, **kwargs: Any) -> Any:
        return await self._schema.stream(**kwargs)


LEGACY_CLIENT_MESSAGES = frozenset({"connection_init", "start", "stop", "connection_terminate"})


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = cast("BaseSchema", _AnyOperation(self.schema))
        self.credential = ConnectionCredential(self.context, self.websocket)

    async def handle_connection_init(self, message: LegacyConnectionInit) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.credential.watch()

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged and await self.credential.refuse_if_gone():
            return
        await super().handle_start(message)

    async def cleanup(self) -> None:
        await self.credential.stop()
        await super().cleanup()

    async def handle_message(self, message: OperationMessage) -> None:
        raw: object = message
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            await self.websocket.send_json({"type": "error", "payload": {"message": "Invalid message"}})
            return
        if raw["type"] not in LEGACY_CLIENT_MESSAGES:
            await self.websocket.send_json({"type": "error", "payload": {"message": "Invalid message type"}})
            return
        if raw["type"] in ("start", "stop") and not _is_id(raw.get("id")):
            await self.websocket.send_json({"type": "error", "payload": {"message": "Invalid message: id required"}})
            return
        if (violation := too_deep(raw, _nesting_limit(self.view))) is not None:
            await self.websocket.send_json({"type": "error", "id": raw.get("id"), "payload": {"message": violation}})
            return
        if raw["type"] == "start" and not (
            isinstance(raw.get("payload"), dict) and isinstance(raw["payload"].get("query"), str)
        ):
            await self.websocket.send_json(
                {"type": "error", "id": raw["id"], "payload": {"message": "Invalid start payload: query required"}}
            )
            return
        await super().handle_message(message)
