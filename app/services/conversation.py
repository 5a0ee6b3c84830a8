"""The conversation on a ticket: agents' replies and notes, customers' messages, attachments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.db.repositories.people import customer_erased
from app.db.repositories.rows import columns_for
from app.domain import validation as v
from app.domain.enums import CommentVisibility, TicketEventType, TicketStatus
from app.domain.errors import InvalidTransition, NotFound, PreconditionFailed
from app.domain.lifecycle import after_agent_public_reply, after_customer_reply
from app.domain.principal import Principal
from app.domain.records import CommentRecord, TicketRecord
from app.events.outbox import Outbox
from app.services import email_outbox, idempotency
from app.services.attachments import StagedUploads, attach_files, staged_uploads
from app.services.lifecycle import change_status, lock_with_parent
from app.services.notifications import notify_mentions
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, apply_change, ensure_visible, record
from app.services.ticket_search import reindex_ticket
from app.storage import IncomingFile

cm = tables.comments


async def _insert_comment(
    tx: Outbox,
    ticket: TicketRecord,
    body: str,
    visibility: CommentVisibility,
    actor: Actor,
    now: datetime,
    message_id: str | None = None,
) -> CommentRecord:
    row = (
        await tx.conn.execute(
            insert(cm)
            .values(
                ticket_id=ticket.id,
                body=body,
                visibility=visibility.value,
                author_agent_id=actor.agent_id,
                author_customer_id=actor.customer_id,
                created_at=now,
                message_id=message_id,
            )
            .returning(*columns_for(cm, CommentRecord))
        )
    ).one()
    comment = CommentRecord(*row)
    await reindex_ticket(tx.conn, ticket.id, ticket)
    # The body stays out of the event: INTERNAL notes must not travel to those who may not read them.
    await record(
        tx,
        ticket,
        TicketEventType.COMMENTED,
        actor,
        now,
        {"commentId": comment.id, "visibility": visibility.value},
    )
    return comment


async def _lock(tx: Outbox, principal: Principal, ticket_id: int) -> tuple[TicketRecord, TicketRecord | None]:
    """The ticket and its parent, locked; an unknown or invisible ticket is NOT_FOUND on `ticketId`,
    the argument these mutations take."""
    try:
        return await lock_with_parent(tx, principal, ticket_id)
    except NotFound as exc:
        raise NotFound(exc.message, ["ticketId"]) from None


def _body(rt: Runtime, body: str) -> str:
    problems = v.Problems()
    clean = v.required_text(problems, body, ["body"], rt.settings.max_description_length)
    problems.raise_if_any()
    return clean


async def add_comment(
    rt: Runtime,
    principal: Principal,
    ticket_id: int,
    body: str,
    visibility: CommentVisibility,
    uploads: Sequence[IncomingFile] = (),
) -> tuple[CommentRecord, TicketRecord]:
    """An agent's reply (PUBLIC) or note (INTERNAL). The first PUBLIC reply by an agent sets
    firstRespondedAt and starts a NEW ticket. A CLOSED ticket takes internal notes only."""
    require(principal, Permission.UPDATE_TICKET)
    clean = _body(rt, body)
    await ensure_visible(rt.reader, principal, ticket_id, ["ticketId"])
    async with staged_uploads(rt, uploads, ["attachments"]) as files:
        return await _add_comment(rt, principal, ticket_id, clean, visibility, files)


async def _add_comment(
    rt: Runtime,
    principal: Principal,
    ticket_id: int,
    clean: str,
    visibility: CommentVisibility,
    files: StagedUploads,
) -> tuple[CommentRecord, TicketRecord]:
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        ticket, parent = await _lock(tx, principal, ticket_id)
        comment, updated = await agent_reply(tx, ticket, parent, clean, visibility, actor, now)
        await attach_files(
            tx, updated, files, comment.id, actor, now, internal=visibility is not CommentVisibility.PUBLIC
        )
    return comment, updated


async def agent_reply(
    tx: Outbox,
    ticket: TicketRecord,
    parent: TicketRecord | None,
    body: str,
    visibility: CommentVisibility,
    actor: Actor,
    now: datetime,
) -> tuple[CommentRecord, TicketRecord]:
    """An agent's reply or note (`body` clean) on a ticket the caller locked with its parent, in
    the caller's transaction. Every path an agent's words take (addComment, macros) comes through
    here: the first PUBLIC reply sets firstRespondedAt and starts a NEW ticket; a CLOSED ticket
    takes internal notes only."""
    status = TicketStatus(ticket.status)
    public = visibility is CommentVisibility.PUBLIC
    if public and status is TicketStatus.CLOSED:
        raise InvalidTransition("the ticket is CLOSED: it takes internal notes only; open a new ticket", ["ticketId"])
    values: dict[str, object] = {}
    if public and ticket.first_responded_at is None:
        values["first_responded_at"] = now
    _, action = after_agent_public_reply(status) if public else (status, None)
    if action is not None:
        updated = await change_status(tx, ticket, parent, action, actor, now, {"reason": "AGENT_REPLY"}, values)
    else:
        updated = await apply_change(tx, ticket, values, now)
    # A PUBLIC reply on a mail or web-form ticket goes to the customer: queued here, sent after commit.
    mail = await email_outbox.plan_reply(tx.conn, updated, tx.system_address) if public else None
    comment = await _insert_comment(tx, updated, body, visibility, actor, now, mail.message_id if mail else None)
    if mail is not None:
        await email_outbox.queue_reply(tx, mail, comment, now)
    if not public:
        await notify_mentions(tx, updated, actor.agent_id, body, now)
    return comment, updated


async def add_customer_reply(
    rt: Runtime,
    principal: Principal,
    ticket_id: int,
    body: str,
    uploads: Sequence[IncomingFile] = (),
    idempotency_key: str | None = None,
) -> tuple[CommentRecord, TicketRecord, bool]:
    """A message from the ticket's customer relayed by an agent or an integration. It moves a
    PENDING ticket back to OPEN and reopens a RESOLVED one; a CLOSED ticket refuses it. With an
    idempotency key, a relay that retries posts the message once: it gets (comment, ticket,
    created) with the comment the key made first (wherever a merge has moved it) and created=False."""
    require(principal, Permission.UPDATE_TICKET)
    clean = _body(rt, body)
    if idempotency_key is not None:
        problems = v.Problems()
        v.required_text(problems, idempotency_key, ["idempotencyKey"], 200)
        problems.raise_if_any()
    await ensure_visible(rt.reader, principal, ticket_id, ["ticketId"])
    async with staged_uploads(rt, uploads, ["attachments"]) as files:
        return await _add_customer_reply(rt, principal, ticket_id, clean, files, idempotency_key)


async def _add_customer_reply(
    rt: Runtime,
    principal: Principal,
    ticket_id: int,
    clean: str,
    files: StagedUploads,
    idempotency_key: str | None,
) -> tuple[CommentRecord, TicketRecord, bool]:
    now = rt.clock.now()
    scope = f"addCustomerReply:{ticket_id}"
    fingerprint = idempotency.request_fingerprint([clean, [f.sha256 for f in files.files]])
    async with rt.transaction() as tx:
        ticket, parent = await _lock(tx, principal, ticket_id)
        if idempotency_key is not None:
            existing = await idempotency.claim(tx.conn, principal, scope, idempotency_key, fingerprint)
            if existing is not None:
                return await comment_by_id(tx.conn, existing), ticket, False
        comment, updated = await record_customer_reply(tx, ticket, parent, clean, files, now, principal.agent_id)
        if idempotency_key is not None:
            await idempotency.remember(tx.conn, principal, scope, idempotency_key, fingerprint, comment.id, now)
    return comment, updated, True


async def comment_by_id(conn: AsyncConnection, comment_id: int) -> CommentRecord:
    """The comment an idempotency key made (a replay answers with it)."""
    row = (await conn.execute(select(*columns_for(cm, CommentRecord)).where(cm.c.id == comment_id))).one()
    return CommentRecord(*row)


async def record_customer_reply(
    tx: Outbox,
    ticket: TicketRecord,
    parent: TicketRecord | None,
    body: str,
    files: StagedUploads | None,
    now: datetime,
    relayed_by_agent_id: int | None,
    message_id: str | None = None,
    *,
    erasure_checked: bool = False,
) -> tuple[CommentRecord, TicketRecord]:
    """The customer's message on a ticket the caller locked (with its parent), in the caller's
    transaction: PENDING moves to OPEN, RESOLVED reopens, CLOSED refuses (InvalidTransition).
    Every path a customer's words arrive by (addCustomerReply, inbound mail) comes through here.
    The ticket of an erased customer takes no more of their words (PreconditionFailed), unless
    the caller already looked, with the ticket locked (`erasure_checked`)."""
    if not erasure_checked and await customer_erased(tx.conn, ticket.customer_id):
        raise PreconditionFailed("this ticket's customer was erased; start a new ticket", ["ticketId"])
    actor = Actor(customer_id=ticket.customer_id)
    _, action = after_customer_reply(TicketStatus(ticket.status))
    data: dict[str, object] = {"reason": "CUSTOMER_REPLY", "relayedByAgentId": relayed_by_agent_id}
    if action is not None:
        updated = await change_status(tx, ticket, parent, action, actor, now, data)
    else:
        updated = await apply_change(tx, ticket, {}, now)
    comment = await _insert_comment(tx, updated, body, CommentVisibility.PUBLIC, actor, now, message_id)
    await attach_files(tx, updated, files, comment.id, actor, now)
    return comment, updated
