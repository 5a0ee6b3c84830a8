"""The GraphQL endpoint: builds each request's context (who is calling, request id), serves known
query documents through their compiled plans, and speaks JSON through orjson."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import ExecutionResult

from app.auth.tokens import bearer
from app.services import auth as auth_service
from app.services.runtime import Runtime
from resolvers.compiled import COMPILED, Abandon, CompiledDocuments, execute_plan
from schema.context import Context


class HelpdeskGraphQL(GraphQL[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled = CompiledDocuments(self.schema._schema)  # type: ignore[attr-defined]

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: Any,
    ) -> ExecutionResult:
        query, operation_name = request_data.query, request_data.operation_name
        compilable = isinstance(query, str) and request_adapter.method == "POST"
        if compilable and (plan := self.compiled.lookup(query, operation_name)) is not None:
            context.fresh_loaders()
            try:
                data = await execute_plan(plan, context, request_data.variables)
            except Abandon:
                COMPILED.labels("fallback").inc()
            else:
                COMPILED.labels("served").inc()
                return ExecutionResult(data=data, errors=None)
        result: ExecutionResult = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if (
            compilable
            and not result.errors
            and result.data is not None
            and not self.compiled.knows(query, operation_name)
        ):
            self.compiled.learn(query, operation_name)
        return result

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
