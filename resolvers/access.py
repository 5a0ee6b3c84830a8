"""Authentication and read permissions at the root fields, with the contract's error codes."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from app.auth.policy import Action, allows
from app.domain.principal import Principal
from schema.context import Context

Info = strawberry.Info[Context, None]


def unauthenticated() -> GraphQLError:
    return GraphQLError("authentication required", extensions={"code": "UNAUTHENTICATED"})


def principal_of(info: Info) -> Principal:
    """The caller, or a GraphQL error with extensions.code UNAUTHENTICATED."""
    principal = info.context.principal
    if principal is None:
        raise unauthenticated()
    return principal


def forbidden() -> GraphQLError:
    return GraphQLError("your role may not read this", extensions={"code": "FORBIDDEN"})


def may_read(info: Info, action: Action) -> Principal:
    """For root query fields: a role that may not read gets a GraphQL error FORBIDDEN."""
    principal = principal_of(info)
    if not allows(principal, action):
        raise forbidden()
    return principal
