"""The GraphQL endpoint: builds each request's context (who is calling, request id)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from app.auth.tokens import bearer
from app.services import auth as auth_service
from app.services.runtime import Runtime
from schema.context import Context


class HelpdeskGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None = None) -> Context:
        rt: Runtime = request.app.state.runtime
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        principal = None
        token = None
        if isinstance(request, Request):
            # A bad credential leaves the caller anonymous: every field that needs a caller
            # then answers UNAUTHENTICATED, while login and public reads still work.
            token = bearer(request.headers.get("authorization"))
            principal = await auth_service.authenticate(rt, token) if token else None
        client = request.client.host if request.client else None
        state = request.app.state
        return Context(
            rt=rt,
            principal=principal,
            request_id=request_id,
            client_address=client,
            token=token if isinstance(request, Request) else None,
            hub=getattr(state, "hub", None),
            wallboard=getattr(state, "wallboard", None),
        )

    async def on_ws_connect(self, context: Context) -> dict[str, Any] | None:
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if raw is None:
            return None
        token = bearer(raw) or (raw if isinstance(raw, str) else None)
        principal = await auth_service.authenticate(context.rt, token) if token else None
        if principal is None:
            raise ConnectionRejectionError({"message": "invalid credentials"})
        context.principal = principal
        context.token = token
        context.fresh_loaders()
        return None
