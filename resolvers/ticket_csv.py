"""GET /exports/tickets.csv?filter=<TicketFilter as JSON>: the ticket list as a spreadsheet.

The filter is the GraphQL input itself, validated and converted by the schema (so every key the
API knows works, customFields included, and a wrong one is refused with the same words); the
caller is authenticated as /graphql authenticates, and only agents (a session or an API token)
may export; the rows are those the ticket list shows the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import graphql
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from strawberry.types.arguments import convert_argument

from app.auth.tokens import bearer
from app.domain.principal import CredentialKind, Principal
from app.domain.ticket_query import TicketFilter as DomainTicketFilter
from app.services import auth as auth_service
from app.services.runtime import Runtime
from app.services.ticket_csv_export import ticket_csv
from resolvers.query import to_domain_filter
from resolvers.schema import HelpdeskSchema
from schema.inputs import TicketFilter

# Who may export: agents' credentials. A customer's session (a kind of its own) never passes.
AGENT_CREDENTIALS = frozenset({CredentialKind.SESSION, CredentialKind.API_TOKEN})
MAX_FILTER = 16 * 1024


class BadFilter(Exception):
    """The filter parameter is not a TicketFilter: a 400 with this short message."""


def filter_parser(schema: HelpdeskSchema) -> Callable[[str | None], DomainTicketFilter]:
    """Parses `filter` as the GraphQL variable of type TicketFilter would be."""
    input_type = schema._schema.get_type("TicketFilter")
    assert isinstance(input_type, graphql.GraphQLInputObjectType)
    registry, config = schema.schema_converter.scalar_registry, schema.config

    def parse(text: str | None) -> DomainTicketFilter:
        if text is None or not text.strip():
            return DomainTicketFilter()
        if len(text) > MAX_FILTER:
            raise BadFilter(f"filter: longer than {MAX_FILTER} characters")
        try:
            value: Any = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BadFilter("filter: not JSON") from exc
        problems: list[str] = []
        graphql.validate_input_value(
            value, input_type, lambda error, *_: problems.append(error.message), hide_suggestions=True
        )
        if problems:
            raise BadFilter(f"filter: not a TicketFilter: {problems[0][:200]}")
        coerced = graphql.coerce_input_value(value, input_type)
        converted = convert_argument(coerced, TicketFilter, registry, config)
        assert isinstance(converted, TicketFilter)
        try:
            return to_domain_filter(converted)
        except graphql.GraphQLError as exc:
            raise BadFilter(f"filter: {exc.message[:200]}") from exc

    return parse


async def _agent(rt: Runtime, request: Request) -> Principal | None:
    token = bearer(request.headers.get("authorization"))
    principal = await auth_service.authenticate(rt, token) if token else None
    if not isinstance(principal, Principal) or principal.credential not in AGENT_CREDENTIALS:
        return None
    return principal


def ticket_csv_endpoint(schema: HelpdeskSchema) -> Callable[[Request], Awaitable[Response]]:
    parse = filter_parser(schema)

    async def export(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        principal = await _agent(rt, request)
        if principal is None:
            return PlainTextResponse(
                "authentication required (an agent's bearer token)",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            f = parse(request.query_params.get("filter"))
        except BadFilter as exc:
            return PlainTextResponse(str(exc), status_code=400)
        body = (chunk.encode() async for chunk in ticket_csv(rt, principal, f))
        headers = {
            "Content-Disposition": 'attachment; filename="tickets.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)

    return export
