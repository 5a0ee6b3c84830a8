"""Authentication and read permissions at the root fields, with the contract's error codes."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action, allows
from app.domain.principal import CustomerPrincipal, Principal
from schema import errors
from schema.context import Context

Info = strawberry.Info[Context, None]


def principal_of(info: Info) -> Principal:
    """The agent calling, or a GraphQL error with extensions.code UNAUTHENTICATED; a customer
    session is signed in but no agent, so FORBIDDEN."""
    principal = info.context.principal
    if principal is None:
        if info.context.customer is not None:
            raise errors.forbidden("a customer session may not run agent operations")
        raise errors.unauthenticated()
    return principal


def customer_of(info: Info) -> CustomerPrincipal | None:
    """The customer signed in by link, when the caller is one."""
    return info.context.customer


def may_read(info: Info, action: Action) -> Principal:
    """For root query fields: a role that may not read gets a GraphQL error FORBIDDEN."""
    principal = principal_of(info)
    if not allows(principal, action):
        raise errors.forbidden()
    return principal
