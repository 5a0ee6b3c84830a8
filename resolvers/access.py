"""Authentication and read permissions at the root fields, with the contract's error codes."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action, allows
from app.domain.principal import Principal
from schema import errors
from schema.context import Context

Info = strawberry.Info[Context, None]


def principal_of(info: Info) -> Principal:
    """The caller, or a GraphQL error with extensions.code UNAUTHENTICATED."""
    principal = info.context.principal
    if principal is None:
        raise errors.unauthenticated()
    return principal


def may_read(info: Info, action: Action) -> Principal:
    """For root query fields: a role that may not read gets a GraphQL error FORBIDDEN."""
    principal = principal_of(info)
    if not allows(principal, action):
        raise errors.forbidden()
    return principal
