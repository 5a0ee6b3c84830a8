"""GraphQL errors, each built by one named constructor with its `extensions.code`.

Mutations report expected failures as userErrors (resolvers.mutations' mapping); these are the
errors of queries, subscriptions and arguments, where a field has no payload to carry them.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, Node

from app.domain.errors import DomainError


def unauthenticated() -> GraphQLError:
    return GraphQLError("authentication required", extensions={"code": "UNAUTHENTICATED"})


def forbidden(message: str = "your role may not read this") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


def not_found(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "NOT_FOUND"})


def invalid_argument(message: str, **details: Any) -> GraphQLError:
    """An argument the field cannot take (a bad cursor, id, page size, period...)."""
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", **details})


def from_domain(error: DomainError, **details: Any) -> GraphQLError:
    """A typed domain refusal met while reading: an invalid argument naming its field."""
    return invalid_argument(error.message, **details)


def unavailable(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAVAILABLE"})


def too_complex(message: str, node: Node | None = None, **details: Any) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": "QUERY_TOO_COMPLEX", **details})


def invalid_document(message: str, node: Node | None = None) -> GraphQLError:
    """A validation error, worded and shaped as graphql-core's and Strawberry's own (no code)."""
    return GraphQLError(message, node)


def internal(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """What the client sees of an unexpected failure: where it happened and the request id to
    find it in the log, nothing of the exception itself."""
    return GraphQLError(
        message="Internal server error",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def limit_reached(code: str, message: str, **details: Any) -> GraphQLError:
    """A per-connection limit (TOO_MANY_SUBSCRIPTIONS, SUBSCRIBER_TOO_SLOW)."""
    return GraphQLError(message, extensions={"code": code, **details})
