"""Mutation payloads: the changed object, or `userErrors` saying why not."""

from __future__ import annotations

import strawberry

from schema.common import UserError
from schema.people import Agent, Customer, Group
from schema.tickets import Comment, Ticket
from schema.tokens import ApiToken


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(
        default=None,
        description="Bearer token for the Authorization header and the websocket connection_init payload.",
    )
    agent: Agent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TicketPayload:
    ticket: Ticket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CommentPayload:
    comment: Comment | None = None
    ticket: Ticket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AgentPayload:
    agent: Agent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class GroupPayload:
    group: Group | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiTokenPayload:
    token: str | None = strawberry.field(default=None, description="The secret, returned only here and only once.")
    api_token: ApiToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
