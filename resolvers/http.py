"""The GraphQL endpoint: builds each request's context (who is calling, request id), serves known
query documents through their compiled plans, takes documents by hash (automatic persisted
queries), and speaks JSON through orjson."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.auth.tokens import CUSTOMER_SESSION_PREFIX, bearer
from app.limits import json_nesting
from app.services import auth as auth_service
from app.services import customer_sign_in
from app.services.live_access import LiveAccess
from app.services.runtime import Runtime
from app.web import graphiql_page
from resolvers.compiled import COMPILED, Abandon, CompiledDocuments, Plan, execute_plan
from resolvers.graphql_over_http import (
    GRAPHQL_RESPONSE_JSON,
    negotiate_media_type,
    refuse_unsupported_charset,
    request_error_status,
)
from resolvers.graphql_ws import LegacyWSHandler, TextFrames, TransportWSHandler
from resolvers.persisted_queries import PersistedDocuments, PersistedQuery, not_found
from schema.context import Context

# The keys of a request body the lean route takes (anything else, such as extensions, goes the
# view's way).
_LEAN_KEYS = frozenset({"query", "variables", "operationName"})


@dataclass
class PersistedRequestData(GraphQLRequestData):
    """A request that named its document by hash (resolvers/persisted_queries.py)."""

    persisted: PersistedQuery | None = None


class HelpdeskGraphQL(GraphQL[Context, None]):
    def __init__(self, *args: Any, max_json_nesting: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled = CompiledDocuments(self.schema._schema)  # type: ignore[attr-defined]
        self.persisted = PersistedDocuments()
        self.max_json_nesting = max_json_nesting

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's own GraphiQL page loads its scripts from a CDN: a blank page offline.
        return graphiql_page()

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry reaches into what it parsed (.get, .items): any JSON but an object (or a
        # list: a batch, refused later) is a bad request, not a 500.
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "expected a JSON object")
        # Every JSON part of a request comes through here (a body, a multipart form's
        # `operations`, a GET's `variables`): bounded before anything walks it recursively.
        if (nesting := json_nesting(parsed)) > self.max_json_nesting:
            raise HTTPException(
                400, f"the request's JSON nests {nesting} levels deep, the limit is {self.max_json_nesting}"
            )
        return parsed

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        # Strawberry follows the form's `map` into its `operations` without checking that either
        # has the spec's shape; a map that points nowhere is the client's mistake.
        try:
            return await super().parse_multipart(request)
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            raise HTTPException(400, "the multipart form's `map` does not match its `operations`") from exc

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: Any,
    ) -> ExecutionResult:
        persisted = request_data.persisted if isinstance(request_data, PersistedRequestData) else None
        if persisted is not None and persisted.document is None:
            return ExecutionResult(data=None, errors=[not_found()])
        result = await self._execute_single(request, request_adapter, sub_response, context, request_data)
        # Registered only once accepted: it passed the limits and validation and ran (a field
        # error has a path; a refused document has none and no data).
        if (
            persisted is not None
            and persisted.sent
            and (result.data is not None or any(e.path for e in result.errors or []))
        ):
            self.persisted.register(persisted)
        return result

    async def _execute_single(
        self, request: Request, request_adapter: Any, sub_response: Response, context: Context, request_data: Any
    ) -> ExecutionResult:
        query, operation_name = request_data.query, request_data.operation_name
        # Customer sessions never take the compiled fast path: its plans know nothing of the
        # customer allowlist or of customer scoping; the ordinary path applies both.
        compilable = isinstance(query, str) and request_adapter.method == "POST" and context.customer is None
        tried = getattr(request.state, "plan_tried", False)  # the lean route ran the plan already
        if compilable and not tried and (plan := self.compiled.lookup(query, operation_name)) is not None:
            data = await self._answer_by_plan(plan, context, request_data.variables)
            if data is not None:
                return ExecutionResult(data=data, errors=None)
        result: ExecutionResult = await super().execute_single(
            request, request_adapter, sub_response, context, None, request_data
        )
        if (
            compilable
            and not result.errors
            and result.data is not None
            and not self.compiled.knows(query, operation_name)
        ):
            settings = context.rt.settings
            self.compiled.learn(query, operation_name, settings.max_query_cost, settings.max_page_size)
        return result

    @staticmethod
    async def _answer_by_plan(plan: Plan, context: Context, variables: dict[str, Any] | None) -> dict[str, Any] | None:
        """The `data` of the plan's answer, or None when it gave up (the ordinary executor answers)."""
        context.fresh_loaders()
        try:
            data = await execute_plan(plan, context, variables)
        except Abandon:
            COMPILED.labels("fallback").inc()
            return None
        COMPILED.labels("served").inc()
        return data

    async def _lean_route(self, request: Request) -> Response | None:
        """A known query document answered by its plan without the rest of the view.

        Taken only by the plainest request (a POST of a JSON object in UTF-8 with `query` and
        optionally `variables` and `operationName`, a document the server has compiled, an agent
        or anonymous caller), which is the whole console's traffic. It makes the checks the view
        makes for such a request (JSON nesting, and in the plan the variables and limits) and
        builds the response with the view's own methods, so status, headers and body are the
        view's. Anything else, or a plan that gives up, is None: the view answers as always."""
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "application/json":
            return None
        try:
            refuse_unsupported_charset(content_type)
            body = orjson.loads(await request.body())
        except (HTTPException, orjson.JSONDecodeError):
            return None
        if not isinstance(body, dict) or not body.keys() <= _LEAN_KEYS:
            return None
        query, variables, operation_name = body.get("query"), body.get("variables"), body.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        if not isinstance(operation_name, str | None) or json_nesting(body) > self.max_json_nesting:
            return None
        plan = self.compiled.lookup(query, operation_name)
        if plan is None:
            return None
        context = await self.get_context(request)
        if context.customer is not None:
            return None
        request.state.plan_tried = True
        data = await self._answer_by_plan(plan, context, variables)
        if data is None:
            return None
        sub_response = await self.get_sub_response(request)
        return self.create_response(await self.process_result(request, ExecutionResult(data, None)), sub_response)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None = None) -> Context:
        rt: Runtime = request.app.state.runtime
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        principal = None
        customer = None
        token = None
        state = request.app.state
        access: LiveAccess | None = getattr(state, "access", None)
        if isinstance(request, Request):
            # A bad credential leaves the caller anonymous: every field that needs a caller
            # then answers UNAUTHENTICATED, while login and public reads still work. Callers
            # come from the process's cache (app.services.live_access).
            token = bearer(request.headers.get("authorization"))
            if token and token.startswith(CUSTOMER_SESSION_PREFIX):
                customer = await (
                    access.customer(token) if access else customer_sign_in.authenticate_customer(rt, token)
                )
            elif token:
                principal = await (access.principal(token) if access else auth_service.authenticate(rt, token))
        client = request.client.host if request.client else None
        return Context(
            rt=rt,
            principal=principal,
            customer=customer,
            request_id=request_id,
            client_address=client,
            token=token if isinstance(request, Request) else None,
            hub=getattr(state, "hub", None),
            wallboard=getattr(state, "wallboard", None),
            access=access,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, Any] | None:
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if raw is None:
            return None
        token = bearer(raw) or (raw if isinstance(raw, str) else None)
        if token and token.startswith(CUSTOMER_SESSION_PREFIX):
            context.customer = await customer_sign_in.authenticate_customer(context.rt, token)
            if context.customer is None:
                raise ConnectionRejectionError({"message": "invalid credentials"})
        else:
            principal = await auth_service.authenticate(context.rt, token) if token else None
            if principal is None:
                raise ConnectionRejectionError({"message": "invalid credentials"})
            context.principal = principal
        context.token = token
        context.fresh_loaders()
        return None

    # GraphQL over HTTP and the websocket protocols, as their specs say (resolvers/graphql_over_http.py,
    # resolvers/graphql_ws.py; tests/protocol/ runs graphql-http's audit against a real server).
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = TextFrames

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        if scope["method"] == "POST" and (lean := await self._lean_route(request)) is not None:
            await lean(scope, receive, send)
            return
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
            cause = exc.__cause__
            if isinstance(cause, InvalidOperationTypeError) and cause.operation_type == OperationType.MUTATION:
                # The spec: a mutation over GET is 405, and 405 names the methods that work.
                response = PlainTextResponse(exc.reason, status_code=405, headers={"Allow": "POST"})
            elif isinstance(cause, InvalidOperationTypeError) and cause.operation_type == OperationType.SUBSCRIPTION:
                reason = "subscriptions are served over the websocket at this URL (graphql-transport-ws), not over HTTP"
                response = PlainTextResponse(reason, status_code=400)
        await response(scope, receive, send)

    async def parse_http_body(self, request: Any) -> Any:
        refuse_unsupported_charset(request.content_type)
        data = await super().parse_http_body(request)
        if not isinstance(data, GraphQLRequestData):
            return data  # a batch, refused later
        # Strawberry checks the types of query, variables and extensions, but not this one.
        if not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null, if provided.")
        persisted = self.persisted.resolve(data.query, data.extensions)
        if persisted is None:
            return data
        return PersistedRequestData(
            persisted.document, data.variables, data.operation_name, data.extensions, data.protocol, persisted
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiate_media_type(request.headers.get("accept"))
        sub_response.headers["vary"] = "Accept"
        request.state.graphql_sub_response = sub_response
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response_data = await super().process_result(request, result)
        sub_response: Response = request.state.graphql_sub_response
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON and (status := request_error_status(result)):
            sub_response.status_code = status
            response_data.pop("data", None)  # nothing was executed, so there is no data entry
        return response_data

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response
