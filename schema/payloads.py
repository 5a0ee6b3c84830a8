"""Mutation payloads: the changed object, or `userErrors` saying why not."""

from __future__ import annotations

import strawberry

from schema.common import JSON, Payload
from schema.email import Mailbox
from schema.enums import EmailIngestOutcome
from schema.people import Agent, Customer, Group
from schema.tickets import Comment, Ticket
from schema.tokens import ApiToken


@strawberry.type
class LoginPayload(Payload):
    token: str | None = strawberry.field(
        default=None,
        description="Bearer token for the Authorization header and the websocket connection_init payload.",
    )
    agent: Agent | None = None


@strawberry.type
class CustomerPayload(Payload):
    customer: Customer | None = None


@strawberry.type
class CustomerDataExportPayload(Payload):
    export: JSON | None = strawberry.field(
        default=None,
        description="Everything held about the customer: profile, tickets, their comments and attachments' "
        "metadata, ratings, events.",
    )


@strawberry.type
class TicketPayload(Payload):
    ticket: Ticket | None = None


@strawberry.type
class CommentPayload(Payload):
    comment: Comment | None = None
    ticket: Ticket | None = None


@strawberry.type
class AgentPayload(Payload):
    agent: Agent | None = None


@strawberry.type
class GroupPayload(Payload):
    group: Group | None = None


@strawberry.type
class ApiTokenPayload(Payload):
    token: str | None = strawberry.field(default=None, description="The secret, returned only here and only once.")
    api_token: ApiToken | None = None


@strawberry.type
class DeletePayload(Payload):
    deleted_id: strawberry.ID | None = None


@strawberry.type
class MailboxPayload(Payload):
    mailbox: Mailbox | None = None


@strawberry.type
class IngestEmailPayload(Payload):
    outcome: EmailIngestOutcome | None = None
    ticket: Ticket | None = None
    comment: Comment | None = None


@strawberry.type
class RequestSignInPayload(Payload):
    accepted: bool = strawberry.field(
        default=False,
        description="Always true for a well-formed address, known or not: the answer never reveals who is a customer.",
    )


@strawberry.type
class CustomerSignInPayload(Payload):
    token: str | None = strawberry.field(
        default=None,
        description=(
            "Bearer token of a customer session: the customer's own tickets, PUBLIC comments, replies, ratings."
        ),
    )
    customer: Customer | None = None
