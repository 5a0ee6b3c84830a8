"""Outgoing mail written in the transaction of what causes it (the outbox), and bounces matched back.

A PUBLIC agent reply on a mail ticket and a mail ticket's acknowledgement each become one
`email_deliveries` row in the change's own transaction, with the Message-ID the mail will carry,
so it is sent after commit or not at all (app.services.mail_sender sends it). Mail that must not
go out (no address, an address that bounced, the acknowledgement limit) is written SUPPRESSED
with the reason, so the agent sees why the customer got nothing.

These functions run inside the caller's transaction and commit nothing themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from app.db import tables
from app.db.locks import lock_for_transaction
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain.email.addresses import normalize_address
from app.domain.email.classification import Bounce
from app.domain.email.delivery import ACKNOWLEDGEMENT_WINDOW, acknowledgement_allowed, suppression_reason
from app.domain.email.outbound import HeaderInjection, guard_header, new_message_id, reply_subject
from app.domain.enums import EmailDeliveryKind, EmailDeliveryStatus, EmailIngestOutcome, TicketEventType
from app.domain.errors import PreconditionFailed
from app.domain.placeholders import render
from app.domain.records import CommentRecord, TicketRecord
from app.events.outbox import Outbox
from app.services.ticket_changes import SYSTEM, record

d, cm, im, cu, mb, t = (
    tables.email_deliveries,
    tables.comments,
    tables.inbound_messages,
    tables.customers,
    tables.mailboxes,
    tables.tickets,
)
Status, Kind = EmailDeliveryStatus, EmailDeliveryKind


@dataclass(frozen=True, slots=True)
class _Recipient:
    address: str | None
    name: str
    bounced_at: datetime | None


@dataclass(frozen=True, slots=True)
class PlannedReply:
    """A reply's mail, decided before its comment is written (the comment stores `message_id`)."""

    ticket: TicketRecord
    mailbox_id: int
    message_id: str
    to: _Recipient
    in_reply_to: str | None
    references: tuple[str, ...]


async def plan_reply(conn: AsyncConnection, ticket: TicketRecord) -> PlannedReply | None:
    """The mail an agent's PUBLIC reply on `ticket` becomes, or None when the ticket has no
    mailbox. Threaded on the customer's newest message: their latest mailed comment, else the
    message that opened the ticket; References carry the thread's ids, oldest first."""
    if ticket.mailbox_id is None:
        return None
    address = await conn.scalar(select(mb.c.address).where(mb.c.id == ticket.mailbox_id))
    if address is None:
        return None
    opening = await conn.scalar(
        select(im.c.message_id)
        .where(
            im.c.ticket_id == ticket.id,
            im.c.outcome == EmailIngestOutcome.CREATED_TICKET.value,
            im.c.message_id.isnot(None),
        )
        .order_by(im.c.id)
        .limit(1)
    )
    mailed = (
        await conn.execute(
            select(cm.c.message_id, cm.c.author_customer_id)
            .where(cm.c.ticket_id == ticket.id, cm.c.message_id.isnot(None))
            .order_by(cm.c.created_at, cm.c.id)
        )
    ).all()
    thread = [opening] if opening else []
    thread += [row.message_id for row in mailed if row.message_id not in thread]
    from_customer = [row.message_id for row in mailed if row.author_customer_id is not None]
    in_reply_to = from_customer[-1] if from_customer else opening
    return PlannedReply(
        ticket=ticket,
        mailbox_id=ticket.mailbox_id,
        message_id=new_message_id(address),
        to=await _customer(conn, ticket.customer_id),
        in_reply_to=in_reply_to,
        references=tuple(thread),
    )


async def queue_reply(tx: Outbox, plan: PlannedReply, comment: CommentRecord, now: datetime) -> None:
    """The delivery row of the reply `comment` (written with `plan.message_id`)."""
    await _queue(
        tx,
        plan.ticket,
        kind=Kind.REPLY,
        mailbox_id=plan.mailbox_id,
        comment_id=comment.id,
        to=plan.to,
        body=comment.body,
        message_id=plan.message_id,
        in_reply_to=plan.in_reply_to,
        references=plan.references,
        now=now,
    )


async def queue_to_customer(tx: Outbox, ticket: TicketRecord, body: str, now: datetime) -> None:
    """Mail to the ticket's customer that is no comment (an automation's EMAIL_CUSTOMER), threaded
    like a reply; the ticket's history records the action that sent it."""
    plan = await plan_reply(tx.conn, ticket)
    if plan is None:
        raise PreconditionFailed("the ticket came by no mailbox: there is nothing to write to the customer from", [])
    await _queue(
        tx,
        ticket,
        kind=Kind.REPLY,
        mailbox_id=plan.mailbox_id,
        comment_id=None,
        to=plan.to,
        body=body,
        message_id=plan.message_id,
        in_reply_to=plan.in_reply_to,
        references=plan.references,
        now=now,
    )


async def queue_acknowledgement(
    tx: Outbox,
    ticket: TicketRecord,
    template: str,
    mailbox_address: str,
    customer_message_id: str | None,
    customer_references: Sequence[str],
    now: datetime,
) -> None:
    """The acknowledgement of a ticket opened by mail, threaded to the customer's message.
    At most ACKNOWLEDGEMENT_LIMIT per address per window (queued or sent); beyond it, and for an
    address that bounced, the row is SUPPRESSED."""
    to = await _customer(tx.conn, ticket.customer_id)
    body = render(
        template,
        {"ticket.number": str(ticket.number), "ticket.subject": ticket.subject, "customer.name": to.name},
    ).text
    references = tuple(dict.fromkeys([*customer_references, *([customer_message_id] if customer_message_id else [])]))
    limited = None
    if to.address and to.bounced_at is None:
        key = normalize_address(to.address)
        # Two mails from one sender at once must not both see room for one more.
        await lock_for_transaction(tx.conn, f"email-acknowledgement:{key}")
        recent = await tx.conn.scalar(
            select(func.count())
            .select_from(d)
            .where(
                d.c.to_addresses.contains(literal([key], ARRAY(Text))),
                d.c.kind == Kind.ACKNOWLEDGEMENT.value,
                d.c.status.in_([Status.QUEUED.value, Status.SENT.value]),
                d.c.created_at > now - ACKNOWLEDGEMENT_WINDOW,
            )
        )
        if not acknowledgement_allowed(recent or 0):
            limited = "rate limit: this address got its acknowledgements for the hour (a loop guard)"
    await _queue(
        tx,
        ticket,
        kind=Kind.ACKNOWLEDGEMENT,
        mailbox_id=ticket.mailbox_id,
        comment_id=None,
        to=to,
        body=body,
        message_id=new_message_id(mailbox_address),
        in_reply_to=customer_message_id,
        references=references,
        now=now,
        suppressed=limited,
    )


async def queue_system_mail(
    tx: Outbox,
    ticket: TicketRecord,
    kind: EmailDeliveryKind,
    subject: str,
    body: str,
    system_address: str,
    now: datetime,
) -> bool:
    """Mail about `ticket` to its customer that answers nothing they wrote (the web form's
    acknowledgement, a satisfaction survey): through the ticket's mailbox when it has one, else
    from `system_address` (HELPDESK_MAIL_FROM) through HELPDESK_SMTP_URL; sent with `subject` as
    it is. Returns whether it was queued (False: written SUPPRESSED, no deliverable address)."""
    to = await _customer(tx.conn, ticket.customer_id)
    sender = system_address
    if ticket.mailbox_id is not None:
        sender = await tx.conn.scalar(select(mb.c.address).where(mb.c.id == ticket.mailbox_id)) or system_address
    return await _queue(
        tx,
        ticket,
        kind=kind,
        mailbox_id=ticket.mailbox_id,
        comment_id=None,
        to=to,
        body=body,
        message_id=new_message_id(sender),
        in_reply_to=None,
        references=(),
        now=now,
        subject=subject,
    )


async def deliverable_address(conn: AsyncConnection, customer_id: int) -> str | None:
    """The customer's address when mail to it can go out (set, and no permanent bounce)."""
    to = await _customer(conn, customer_id)
    return to.address if suppression_reason(to.address, to.bounced_at) is None else None


async def _queue(
    tx: Outbox,
    ticket: TicketRecord,
    *,
    kind: EmailDeliveryKind,
    mailbox_id: int | None,
    comment_id: int | None,
    to: _Recipient,
    body: str,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    now: datetime,
    suppressed: str | None = None,
    subject: str | None = None,
) -> bool:
    """Writes the delivery row; returns whether it was QUEUED. `subject`: sent as it is;
    otherwise the reply subject of the ticket's."""
    values: dict[str, Any] = {
        "kind": kind.value,
        "ticket_id": ticket.id,
        "comment_id": comment_id,
        "mailbox_id": mailbox_id,
        # Compared as the helpdesk compares addresses: bounces and the rate limit look them up.
        "to_addresses": [normalize_address(to.address)] if to.address else [],
        "body_text": body,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "thread_references": list(references),
        "created_at": now,
        "updated_at": now,
    }
    reason = suppressed or suppression_reason(to.address, to.bounced_at)
    try:
        values["subject"] = (
            guard_header(subject, "subject") if subject is not None else reply_subject(ticket.subject, ticket.number)
        )
    except HeaderInjection as exc:
        # The agent's reply stands; only its copy to the customer is refused.
        values |= {"subject": ticket.subject, "status": Status.FAILED.value, "last_error": f"refused: {exc.message}"}
        await tx.conn.execute(insert(d).values(values))
        await record_email_failed(tx, ticket, comment_id, values["to_addresses"], values["last_error"], now)
        return False
    if reason is not None:
        values |= {"status": Status.SUPPRESSED.value, "last_error": reason}
    else:
        values |= {"status": Status.QUEUED.value, "next_attempt_at": now}
    await tx.conn.execute(insert(d).values(values))
    return reason is None


async def record_email_failed(
    tx: Outbox, ticket: TicketRecord, comment_id: int | None, recipients: Sequence[str], reason: str, now: datetime
) -> None:
    """The EMAIL_FAILED event on the ticket's history, in the caller's transaction."""
    await record(
        tx,
        ticket,
        TicketEventType.EMAIL_FAILED,
        SYSTEM,
        now,
        {"commentId": comment_id, "recipients": list(recipients), "reason": reason},
    )


async def fail_bounced_delivery(tx: Outbox, bounce: Bounce, now: datetime) -> int | None:
    """A permanent bounce marks the delivery it reports on FAILED with the diagnostic and writes
    EMAIL_FAILED: matched by the returned Message-ID, failing that by the newest SENT delivery to
    a permanently failed recipient. Returns the delivery's id, or None when none matched."""
    if not bounce.permanent:
        return None
    failed = [r for r in bounce.recipients if r.permanent]
    row = None
    if bounce.original_message_id:
        row = (
            await tx.conn.execute(
                select(d.c.id, d.c.ticket_id, d.c.comment_id, d.c.to_addresses)
                .where(d.c.message_id == bounce.original_message_id)
                .with_for_update()
            )
        ).first()
    if row is None and failed:
        addresses = [normalize_address(r.address) for r in failed]
        row = (
            await tx.conn.execute(
                select(d.c.id, d.c.ticket_id, d.c.comment_id, d.c.to_addresses)
                .where(d.c.to_addresses.overlap(literal(addresses, ARRAY(Text))), d.c.status == Status.SENT.value)
                .order_by(d.c.sent_at.desc(), d.c.id.desc())
                .limit(1)
                .with_for_update()
            )
        ).first()
    if row is None:
        return None
    diagnostic = "; ".join(f"{r.address}: {r.diagnostic or r.status or r.action}" for r in failed)
    reason = f"bounced: {diagnostic or 'a permanent failure'}"
    changed = await tx.conn.scalar(
        update(d)
        .where(d.c.id == row.id, d.c.status.in_([Status.SENT.value, Status.QUEUED.value]))
        .values(status=Status.FAILED.value, last_error=reason, next_attempt_at=None, updated_at=now)
        .returning(d.c.id)
    )
    if changed is not None and row.ticket_id is not None:
        ticket = await _ticket(tx.conn, row.ticket_id)
        if ticket is not None:
            await record_email_failed(tx, ticket, row.comment_id, row.to_addresses, reason, now)
    return row.id


async def _customer(conn: AsyncConnection, customer_id: int) -> _Recipient:
    row = (await conn.execute(select(cu.c.email, cu.c.name, cu.c.email_bounced_at).where(cu.c.id == customer_id))).one()
    return _Recipient(row.email, row.name, row.email_bounced_at)


async def _ticket(conn: AsyncConnection, ticket_id: int) -> TicketRecord | None:
    found = (await conn.execute(select(*TICKET_COLUMNS).where(t.c.id == ticket_id))).first()
    return TicketRecord(*found) if found else None
