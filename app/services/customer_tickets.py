"""What a customer signed in by link does on their own tickets: reply, and reopen a RESOLVED one
(rating is app.services.satisfaction, for customers and relaying agents alike).

Every function finds the ticket through the customer's own visibility (`visible_to` of a
CustomerPrincipal: their tickets only), so another customer's ticket is NOT_FOUND exactly like
a missing one. The customer is the author and the actor of what they do; no agent relays it.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain import validation as v
from app.domain.enums import TicketStatus
from app.domain.errors import InvalidTransition, NotFound, PreconditionFailed
from app.domain.lifecycle import Action
from app.domain.principal import CustomerPrincipal
from app.domain.records import CommentRecord, TicketRecord
from app.events.outbox import Outbox
from app.services import idempotency
from app.services.attachments import staged_uploads
from app.services.conversation import comment_by_id, record_customer_reply
from app.services.lifecycle import change_status, lock_with_parent
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, check_version, ensure_visible
from app.storage import IncomingFile


async def reply(
    rt: Runtime,
    customer: CustomerPrincipal,
    ticket_id: int,
    body: str,
    uploads: Sequence[IncomingFile] = (),
    idempotency_key: str | None = None,
) -> tuple[CommentRecord, TicketRecord, bool]:
    """The customer's PUBLIC message on their ticket, with files: PENDING moves to OPEN, RESOLVED
    reopens, CLOSED refuses (INVALID_TRANSITION), as for a reply by mail. Returns (comment,
    ticket, created). With an idempotency key (the customer's own: no other caller's key is the
    same key), a retry of the same message gets the comment the key made first and
    created=False, whatever the races; the key with another message is DUPLICATE."""
    problems = v.Problems()
    clean = v.required_text(problems, body, ["body"], rt.settings.max_description_length)
    if idempotency_key is not None:
        v.required_text(problems, idempotency_key, ["idempotencyKey"], 200)
    problems.raise_if_any()
    await ensure_visible(rt.reader, customer, ticket_id, ["ticketId"])
    # A customer session has no agent: the scope names the customer instead, so two customers'
    # keys never meet (nor an agent's relaying for the same ticket, kept under their agent id).
    scope = f"addCustomerReply:{ticket_id}:customer:{customer.customer_id}"
    async with staged_uploads(rt, uploads, ["attachments"]) as files:
        fingerprint = idempotency.request_fingerprint([clean, [f.sha256 for f in files.files]])
        now = rt.clock.now()
        async with rt.transaction() as tx:
            ticket, parent = await _lock(tx, customer, ticket_id, ["ticketId"])
            if idempotency_key is not None:
                existing = await idempotency.claim(tx.conn, None, scope, idempotency_key, fingerprint)
                if existing is not None:
                    return await comment_by_id(tx.conn, existing), ticket, False
            comment, updated = await record_customer_reply(tx, ticket, parent, clean, files, now, None)
            if idempotency_key is not None:
                await idempotency.remember(tx.conn, None, scope, idempotency_key, fingerprint, comment.id, now)
            return comment, updated, True


async def reopen(
    rt: Runtime, customer: CustomerPrincipal, ticket_id: int, reason: str | None, expected_version: int | None
) -> TicketRecord:
    """RESOLVED -> OPEN on the customer's own ticket ("it is not solved"); any other status is
    INVALID_TRANSITION."""
    problems = v.Problems()
    clean_reason = v.optional_text(problems, reason, ["reason"], 2000)
    problems.raise_if_any()
    now = rt.clock.now()
    async with rt.transaction() as tx:
        ticket, parent = await _lock(tx, customer, ticket_id, ["id"])
        check_version(ticket, expected_version)
        if ticket.status != TicketStatus.RESOLVED.value:
            raise InvalidTransition(f"only a RESOLVED ticket can be reopened; this one is {ticket.status}", ["id"])
        data: dict[str, object] = {"reason": clean_reason} if clean_reason else {}
        try:
            actor = Actor(customer_id=customer.customer_id)
            return await change_status(tx, ticket, parent, Action.REOPEN, actor, now, data)
        except PreconditionFailed:
            # The parent is other people's work: its number and state are not the customer's to read.
            raise PreconditionFailed("this ticket cannot be reopened now; reply to it instead", ["id"]) from None


async def _lock(
    tx: Outbox, customer: CustomerPrincipal, ticket_id: int, field: list[str]
) -> tuple[TicketRecord, TicketRecord | None]:
    try:
        return await lock_with_parent(tx, customer, ticket_id)
    except NotFound as exc:
        raise NotFound(exc.message, field) from None
