"""Root mutations of working a ticket: lifecycle, conversation, sub-tickets, links, escalation, rating."""

from __future__ import annotations

import strawberry

from app.domain import enums
from app.domain.lifecycle import Action
from app.services import conversation, customer_tickets, escalation, lifecycle, relations, satisfaction, subtickets
from resolvers.access import Info, customer_of, principal_of
from resolvers.mutation import new_ticket
from resolvers.payloads import (
    Outcome,
    comment_payload,
    decode_id,
    decode_optional_id,
    reports_user_errors,
    ticket_payload,
)
from resolvers.uploads import incoming
from schema.common import Upload
from schema.enums import CommentVisibility, TicketLinkKind
from schema.inputs import CreateTicketInput
from schema.payloads import CommentPayload, TicketPayload


async def _transition(
    info: Info,
    id: strawberry.ID,
    action: Action,
    expected_version: int | None,
    *,
    reason: str | None = None,
    resolution: str | None = None,
) -> TicketPayload:
    principal = principal_of(info)
    pk = decode_id(id, "Ticket", ["id"])
    record = await lifecycle.transition(
        info.context.rt, principal, pk, action, expected_version, reason=reason, resolution=resolution
    )
    return await ticket_payload(info, record)


@strawberry.type
class TicketWorkMutation:
    # ------------------------------------------------------------ lifecycle

    @strawberry.mutation(description="NEW -> OPEN.")
    @reports_user_errors(TicketPayload)
    async def start_ticket(self, info: Info, id: strawberry.ID, expected_version: int | None = None) -> TicketPayload:
        return await _transition(info, id, Action.START, expected_version)

    @strawberry.mutation(description="OPEN -> PENDING (waiting for the customer).")
    @reports_user_errors(TicketPayload)
    async def set_ticket_pending(
        self, info: Info, id: strawberry.ID, reason: str | None = None, expected_version: int | None = None
    ) -> TicketPayload:
        return await _transition(info, id, Action.SET_PENDING, expected_version, reason=reason)

    @strawberry.mutation(description="OPEN -> ON_HOLD (waiting for a third party).")
    @reports_user_errors(TicketPayload)
    async def hold_ticket(
        self, info: Info, id: strawberry.ID, reason: str | None = None, expected_version: int | None = None
    ) -> TicketPayload:
        return await _transition(info, id, Action.HOLD, expected_version, reason=reason)

    @strawberry.mutation(description="PENDING or ON_HOLD -> OPEN.")
    @reports_user_errors(TicketPayload)
    async def resume_ticket(self, info: Info, id: strawberry.ID, expected_version: int | None = None) -> TicketPayload:
        return await _transition(info, id, Action.RESUME, expected_version)

    @strawberry.mutation(description="OPEN, PENDING or ON_HOLD -> RESOLVED. Refused while a sub-ticket is unresolved.")
    @reports_user_errors(TicketPayload)
    async def resolve_ticket(
        self, info: Info, id: strawberry.ID, resolution: str, expected_version: int | None = None
    ) -> TicketPayload:
        return await _transition(info, id, Action.RESOLVE, expected_version, resolution=resolution)

    @strawberry.mutation(description="RESOLVED -> OPEN (the customer says it is not solved).")
    @reports_user_errors(TicketPayload)
    async def reopen_ticket(
        self, info: Info, id: strawberry.ID, reason: str | None = None, expected_version: int | None = None
    ) -> TicketPayload:
        if (customer := customer_of(info)) is not None:
            pk = decode_id(id, "Ticket", ["id"])
            record = await customer_tickets.reopen(info.context.rt, customer, pk, reason, expected_version)
            return await ticket_payload(info, record)
        return await _transition(info, id, Action.REOPEN, expected_version, reason=reason)

    @strawberry.mutation(description="RESOLVED -> CLOSED.")
    @reports_user_errors(TicketPayload)
    async def close_ticket(self, info: Info, id: strawberry.ID, expected_version: int | None = None) -> TicketPayload:
        return await _transition(info, id, Action.CLOSE, expected_version)

    @strawberry.mutation(description="Raises escalationLevel, optionally moves to another group, notifies supervisors.")
    @reports_user_errors(TicketPayload)
    async def escalate_ticket(
        self, info: Info, id: strawberry.ID, reason: str, to_group_id: strawberry.ID | None = None
    ) -> TicketPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Ticket", ["id"])
        group = decode_optional_id(to_group_id, "Group", ["toGroupId"])
        record = await escalation.escalate_ticket(info.context.rt, principal, pk, reason, group)
        return await ticket_payload(info, record)

    @strawberry.mutation(description="Customer satisfaction, on a RESOLVED or CLOSED ticket, once.")
    @reports_user_errors(TicketPayload)
    async def rate_ticket(self, info: Info, id: strawberry.ID, score: int, comment: str | None = None) -> TicketPayload:
        # An agent relays the customer's rating; a customer signed in gives their own.
        rater = customer_of(info) or principal_of(info)
        record = await satisfaction.rate_ticket(info.context.rt, rater, decode_id(id, "Ticket", ["id"]), score, comment)
        return await ticket_payload(info, record)

    # ------------------------------------------------------------ structure

    @strawberry.mutation
    @reports_user_errors(TicketPayload)
    async def create_sub_ticket(
        self, info: Info, parent_id: strawberry.ID, input: CreateTicketInput, group_id: strawberry.ID | None = None
    ) -> TicketPayload:
        principal = principal_of(info)
        parent = decode_id(parent_id, "Ticket", ["parentId"])
        group = decode_optional_id(group_id, "Group", ["groupId"])
        record = await subtickets.create_sub_ticket(info.context.rt, principal, parent, new_ticket(input), group)
        return await ticket_payload(info, record, Outcome.CREATED)

    @strawberry.mutation
    @reports_user_errors(TicketPayload)
    async def link_tickets(
        self, info: Info, id: strawberry.ID, other_id: strawberry.ID, kind: TicketLinkKind
    ) -> TicketPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Ticket", ["id"])
        other = decode_id(other_id, "Ticket", ["otherId"])
        record = await relations.link_tickets(info.context.rt, principal, pk, other, enums.TicketLinkKind(kind))
        return await ticket_payload(info, record)

    @strawberry.mutation(
        description="Moves comments and attachments of source into target and closes source as DUPLICATE_OF target."
    )
    @reports_user_errors(TicketPayload)
    async def merge_tickets(self, info: Info, source_id: strawberry.ID, target_id: strawberry.ID) -> TicketPayload:
        principal = principal_of(info)
        source = decode_id(source_id, "Ticket", ["sourceId"])
        target = decode_id(target_id, "Ticket", ["targetId"])
        record = await relations.merge_tickets(info.context.rt, principal, source, target)
        return await ticket_payload(info, record)

    @strawberry.mutation
    @reports_user_errors(TicketPayload)
    async def add_collaborator(
        self,
        info: Info,
        id: strawberry.ID,
        agent_id: strawberry.ID | None = None,
        group_id: strawberry.ID | None = None,
    ) -> TicketPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Ticket", ["id"])
        agent = decode_optional_id(agent_id, "Agent", ["agentId"])
        group = decode_optional_id(group_id, "Group", ["groupId"])
        record = await relations.add_collaborator(info.context.rt, principal, pk, agent, group)
        return await ticket_payload(info, record)

    # ------------------------------------------------------------ conversation

    @strawberry.mutation
    @reports_user_errors(CommentPayload)
    async def add_comment(
        self,
        info: Info,
        ticket_id: strawberry.ID,
        body: str,
        visibility: CommentVisibility = CommentVisibility.PUBLIC,
        attachments: list[Upload] | None = None,
    ) -> CommentPayload:
        principal = principal_of(info)
        pk = decode_id(ticket_id, "Ticket", ["ticketId"])
        comment, ticket = await conversation.add_comment(
            info.context.rt, principal, pk, body, enums.CommentVisibility(visibility), incoming(attachments)
        )
        return await comment_payload(info, comment, ticket)

    @strawberry.mutation(
        description=(
            "A message from the ticket's customer, relayed by an agent or an integration\n"
            "(inbound email, chat bridge, partner portal). Authored by the customer; on a\n"
            "PENDING ticket it moves it back to OPEN, on a RESOLVED one it reopens it."
        )
    )
    @reports_user_errors(CommentPayload)
    async def add_customer_reply(
        self,
        info: Info,
        ticket_id: strawberry.ID,
        body: str,
        attachments: list[Upload] | None = None,
        idempotency_key: str | None = None,
    ) -> CommentPayload:
        if (customer := customer_of(info)) is not None:
            # The customer signed in writes as themselves, on their own tickets only.
            pk = decode_id(ticket_id, "Ticket", ["ticketId"])
            comment, ticket, created = await customer_tickets.reply(
                info.context.rt, customer, pk, body, incoming(attachments), idempotency_key
            )
            return await comment_payload(info, comment, ticket, replayed=not created)
        principal = principal_of(info)
        pk = decode_id(ticket_id, "Ticket", ["ticketId"])
        comment, ticket, created = await conversation.add_customer_reply(
            info.context.rt, principal, pk, body, incoming(attachments), idempotency_key
        )
        return await comment_payload(info, comment, ticket, replayed=not created)
