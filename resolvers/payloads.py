"""Building payloads: expected failures mapped to `userErrors`, and the objects a payload returns
shown by the same rules as a query, in one place."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import ParamSpec, TypeVar

from app.auth.policy import Action, allows, may_read_comment
from app.domain.enums import EmailIngestOutcome
from app.domain.errors import DomainError, NotFound
from app.domain.records import CommentRecord, CustomerRecord, TicketRecord
from app.services.email_ingest import IngestResult
from app.services.tickets import Admitted
from resolvers.access import Info
from schema import ids
from schema.common import user_errors
from schema.payloads import CommentPayload, CustomerPayload, IngestEmailPayload, TicketPayload
from schema.people import Customer
from schema.tickets import Comment, Ticket

P = TypeVar("P")
Params = ParamSpec("Params")


def reports_user_errors(
    failed: Callable[..., P],
) -> Callable[[Callable[Params, Awaitable[P]]], Callable[Params, Awaitable[P]]]:
    """A mutation resolver whose expected failures (DomainError) become `failed(user_errors=[...])`
    and write nothing; put it under `@strawberry.mutation`. Errors of the caller (no credential)
    are GraphQL errors and pass through."""

    def wrap(resolver: Callable[Params, Awaitable[P]]) -> Callable[Params, Awaitable[P]]:
        @functools.wraps(resolver)
        async def resolve(*args: Params.args, **kwargs: Params.kwargs) -> P:
            try:
                return await resolver(*args, **kwargs)
            except DomainError as error:
                return failed(user_errors=user_errors(error))

        return resolve

    return wrap


def decode_id(global_id: str | None, type_name: str, field: list[str]) -> int:
    """A global ID of the expected type, or NOT_FOUND (a malformed ID is just an unknown one)."""
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        raise NotFound(f"no such {type_name.lower()}", field)
    return pk


def decode_optional_id(global_id: str | None, type_name: str, field: list[str]) -> int | None:
    return None if global_id is None else decode_id(global_id, type_name, field)


def decode_ids(global_ids: list[str] | None, type_name: str, field: list[str]) -> list[int] | None:
    if global_ids is None:
        return None
    return [decode_id(g, type_name, field) for g in global_ids]


# ---------------------------------------------------------------- what a payload may show


class Outcome(Enum):
    """What the mutation did; it decides what a caller who may not see a returned object gets."""

    # A ticket this call made: its creator gets it back once (all of it is what they sent and what
    # intake decided), even when routing put it where they cannot follow it.
    CREATED = "created"
    # This call changed something: an object the caller can no longer see (the change moved it out
    # of their sight) is null, and the change stands, so there is no userError.
    CHANGED = "changed"
    # Nothing written (an idempotent replay): an object the caller can no longer see makes the whole
    # payload exactly what a missing one gets, NOT_FOUND and no data.
    REPLAYED = "replayed"


class _Hidden(NotFound):
    """A replayed object the caller may not see, reported on the idempotency key that named it."""

    def __init__(self) -> None:
        super().__init__("no such ticket", ["idempotencyKey"])


async def _sees_ticket(info: Info, ticket_id: int) -> bool:
    return ticket_id in await info.context.loaders.visible_ticket_ids([ticket_id])


async def _shown_ticket(info: Info, record: TicketRecord, outcome: Outcome) -> Ticket | None:
    if outcome is Outcome.CREATED or await _sees_ticket(info, record.id):
        return Ticket.of(record)
    if outcome is Outcome.REPLAYED:
        raise _Hidden()
    return None


async def _shown_comment(info: Info, record: CommentRecord, outcome: Outcome) -> Comment | None:
    # The query rule of node(Comment) and Ticket.comments: its ticket is visible, and INTERNAL
    # notes are for those who may read them, even the caller's own (partner API tokens).
    if may_read_comment(info.context.viewer, record.visibility) and await _sees_ticket(info, record.ticket_id):
        return Comment.of(record)
    if outcome is Outcome.REPLAYED:
        raise _Hidden()
    return None


def prime_intake(info: Info, admitted: Admitted) -> None:
    """The new ticket's customer, group and assignee, as intake read them in its transaction,
    are what the payload's loaders would read again after it: they are given to them."""
    loaders = info.context.loaders
    loaders.customer.prime(admitted.customer.id, admitted.customer)
    if admitted.group is not None:
        loaders.group.prime(admitted.group.id, admitted.group)
    if admitted.assignee is not None:
        loaders.agent.prime(admitted.assignee.id, admitted.assignee)


async def ticket_payload(info: Info, record: TicketRecord, outcome: Outcome = Outcome.CHANGED) -> TicketPayload:
    try:
        return TicketPayload(ticket=await _shown_ticket(info, record, outcome))
    except _Hidden as hidden:
        return TicketPayload(user_errors=user_errors(hidden))


async def comment_payload(
    info: Info, comment: CommentRecord, ticket: TicketRecord, *, replayed: bool = False
) -> CommentPayload:
    """A new comment (or, replayed, the one the key made first) and its ticket after the change."""
    outcome = Outcome.REPLAYED if replayed else Outcome.CHANGED
    try:
        return CommentPayload(
            comment=await _shown_comment(info, comment, outcome), ticket=await _shown_ticket(info, ticket, outcome)
        )
    except _Hidden as hidden:
        return CommentPayload(user_errors=user_errors(hidden))


def customer_payload(info: Info, record: CustomerRecord) -> CustomerPayload:
    """Customers are read by whoever may read customers (every signed-in agent), as in `customer(id)`."""
    principal = info.context.principal
    if principal is None or not allows(principal, Action.READ_CUSTOMERS):
        return CustomerPayload(user_errors=user_errors(NotFound("no such customer", ["id"])))
    return CustomerPayload(customer=Customer.of(record))


async def ingest_payload(info: Info, result: IngestResult) -> IngestEmailPayload:
    """What ingesting a message made. The ticket and comment are shown by the query rules (a relay's
    API token sees its own groups' tickets); a ticket the message created is the caller's to see
    once, as with createTicket. A DUPLICATE answers with what the first copy made, if visible."""
    outcome = Outcome.CREATED if result.outcome is EmailIngestOutcome.CREATED_TICKET else Outcome.CHANGED
    ticket = await _shown_ticket(info, result.ticket, outcome) if result.ticket else None
    comment = await _shown_comment(info, result.comment, Outcome.CHANGED) if result.comment else None
    return IngestEmailPayload(outcome=result.outcome, ticket=ticket, comment=comment)
