"""The mail sender: sends queued `email_deliveries` by SMTP, at least once, in order per ticket.

Any number of processes may run it against one database. Each delivery is claimed in its own
transaction with `FOR UPDATE SKIP LOCKED` (due rows, oldest first, never one while an earlier
QUEUED delivery of the same ticket exists), sent while the row stays locked, and its outcome
committed in that transaction. A process that dies mid-send releases the row with its
connection, and the next sender sends it again with the same Message-ID: at least once, and
the receiving side can tell the copies apart from a second message.

Outcomes: SENT; a temporary failure (4xx, no connection, TLS refused, no SMTP server set) is
retried after about 1 min, 5 min, 30 min, 2 h and 6 h (app.domain.email.delivery), then FAILED;
a permanent refusal (5xx for the recipient or the message, a header value with CR/LF) is FAILED
at once. FAILED writes an EMAIL_FAILED event and the mailbox's lastError in the same
transaction. Time comes from `rt.clock`, so tests move a ManualClock through the backoff.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import columns_for
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain.email.addresses import MailAddress
from app.domain.email.delivery import SendFailure, next_attempt_at, smtp_failure
from app.domain.email.outbound import OutboundAttachment, build_reply, build_system_mail
from app.domain.email.smtp_url import SmtpServer, parse_smtp_url
from app.domain.enums import EmailDeliveryKind, EmailDeliveryStatus, MailSecurity
from app.domain.errors import DomainError
from app.domain.records import MailboxRecord, TicketRecord
from app.events.outbox import Outbox
from app.mail_tls import mail_tls_context
from app.services.email_outbox import record_email_failed
from app.services.mailboxes import mailbox_passwords
from app.services.runtime import Runtime
from app.settings import Settings

log = logging.getLogger("helpdesk.mail.sender")

d, t, cu, mb, at = tables.email_deliveries, tables.tickets, tables.customers, tables.mailboxes, tables.attachments
Status = EmailDeliveryStatus
# How often an idle sender looks for due mail (one index lookup), and the longest it waits for
# one SMTP conversation.
POLL_SECONDS = 1.0
SEND_TIMEOUT = 60.0
MIN_SLEEP = 0.02
NO_SERVER = "no SMTP server: the mailbox has no SMTP settings and HELPDESK_SMTP_URL is not set"


def fallback_server(settings: Settings) -> SmtpServer | None:
    """HELPDESK_SMTP_URL, parsed; a bad URL raises InvalidInput (at startup, not at the first mail)."""
    return parse_smtp_url(settings.smtp_url.get_secret_value()) if settings.smtp_url is not None else None


def due_claim_query(now: datetime) -> Any:
    """The oldest due delivery no other sender holds and no earlier QUEUED delivery of its ticket
    precedes, locked. Walks the partial index on next_attempt_at."""
    earlier = d.alias("earlier")
    held_back = (
        select(earlier.c.id)
        .where(earlier.c.ticket_id == d.c.ticket_id, earlier.c.status == Status.QUEUED.value, earlier.c.id < d.c.id)
        .exists()
    )
    return (
        select(d)
        .where(d.c.status == Status.QUEUED.value, d.c.next_attempt_at <= now, ~held_back)
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def look_query() -> Any:
    """When the next queued delivery falls due (an index lookup), or None."""
    return select(func.min(d.c.next_attempt_at)).where(d.c.status == Status.QUEUED.value)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    message: EmailMessage
    sender: str
    recipients: list[str]
    server: SmtpServer | None


class MailSender:
    """Sends due deliveries through `rt`; one per transaction."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fallback = fallback_server(rt.settings)
        self.tls: ssl.SSLContext = mail_tls_context(rt.settings)

    async def send_one(self) -> bool:
        """Claims, sends and settles one due delivery; False when none was free to claim."""
        now = self.rt.clock.now()
        async with self.rt.transaction() as tx:
            row = (await tx.conn.execute(due_claim_query(now))).first()
            if row is None:
                return False
            ticket = await _ticket(tx.conn, row.ticket_id)
            mailbox = await _mailbox(tx.conn, row.mailbox_id)
            try:
                outgoing = await self._outgoing(tx.conn, row, ticket, mailbox)
            except DomainError as exc:  # a header value with CR/LF, an unusable address: never sent
                failure: SendFailure | None = SendFailure(f"refused: {exc.message}", permanent=True)
            else:
                failure = await self._send(outgoing)
            await self._settle(tx, row, ticket, failure, self.rt.clock.now())
        return True

    async def send_due(self, limit: int | None = None) -> int:
        """Sends until nothing due is left to claim (or `limit` deliveries); returns how many were
        settled (sent, failed or rescheduled)."""
        done = 0
        while (limit is None or done < limit) and await self.send_one():
            done += 1
        return done

    async def round(self) -> float:
        """Sends what is due; returns how long to sleep (at most POLL_SECONDS, none while work is left)."""
        async with self.rt.engine.connect() as conn:
            upcoming = await conn.scalar(look_query())
        now = self.rt.clock.now()
        if upcoming is None:
            return POLL_SECONDS
        if upcoming <= now:
            # Due but held by another sender, or behind an earlier delivery of its ticket: look
            # again after the poll interval, not at once.
            return 0.0 if await self.send_due(limit=100) else POLL_SECONDS
        return min(POLL_SECONDS, (upcoming - now).total_seconds())

    async def loop(self) -> None:
        """Runs for ever: a round, then sleep until the next delivery falls due, at most POLL_SECONDS."""
        while True:
            try:
                delay = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database blip must not stop the sender
                log.exception("mail sender round failed")
                delay = POLL_SECONDS
            await asyncio.sleep(max(delay, MIN_SLEEP))

    async def _outgoing(
        self, conn: AsyncConnection, row: Any, ticket: TicketRecord | None, mailbox: MailboxRecord | None
    ) -> _Outgoing:
        if row.kind == EmailDeliveryKind.SYSTEM.value and row.ticket_id is None and row.mailbox_id is None:
            return self._system(row)
        if ticket is None:
            raise DomainError("no ticket to write about (the ticket was deleted)")
        # No mailbox (a web-form ticket, or its mailbox deleted since): system mail, from
        # HELPDESK_MAIL_FROM through HELPDESK_SMTP_URL.
        sender = mailbox.address if mailbox is not None else self.rt.settings.mail_from
        customer_name = await conn.scalar(select(cu.c.name).where(cu.c.id == ticket.customer_id))
        message = build_reply(
            mailbox_address=sender,
            from_name=mailbox.smtp_from_name if mailbox is not None else None,
            to=[MailAddress(address, customer_name or "") for address in row.to_addresses],
            subject=row.subject,
            ticket_number=ticket.number,
            text=row.body_text,
            message_id=row.message_id,
            # The moment it was written: every retry is the same message.
            date=row.created_at,
            in_reply_to=row.in_reply_to,
            references=row.thread_references,
            attachments=await self._attachments(conn, row.comment_id),
            auto_submitted=row.kind != EmailDeliveryKind.REPLY.value,
            # Acknowledgements and system mail keep the subject they were queued with (a mail
            # acknowledgement's is already the reply subject).
            exact_subject=row.kind != EmailDeliveryKind.REPLY.value,
        )
        server = await self._server(mailbox) if mailbox is not None else self.fallback
        return _Outgoing(message, sender, list(row.to_addresses), server)

    def _system(self, row: Any) -> _Outgoing:
        """System mail about no ticket (sign-in links): through HELPDESK_SMTP_URL, from HELPDESK_MAIL_FROM."""
        sender = self.rt.settings.mail_from
        message = build_system_mail(
            sender=sender,
            to=[MailAddress(address, "") for address in row.to_addresses],
            subject=row.subject,
            text=row.body_text,
            message_id=row.message_id,
            date=row.created_at,
        )
        return _Outgoing(message, sender, list(row.to_addresses), self.fallback)

    async def _attachments(self, conn: AsyncConnection, comment_id: int | None) -> list[OutboundAttachment]:
        if comment_id is None:
            return []
        rows = await conn.execute(
            select(at.c.filename, at.c.content_type, at.c.sha256).where(at.c.comment_id == comment_id).order_by(at.c.id)
        )
        found = []
        for filename, content_type, sha256 in rows:
            content = b"".join([chunk async for chunk in self.rt.blobs.read(sha256)])
            found.append(OutboundAttachment(filename, content_type, content))
        return found

    async def _server(self, mailbox: MailboxRecord) -> SmtpServer | None:
        if not mailbox.smtp_host or mailbox.smtp_port is None:
            return self.fallback
        _, password = await mailbox_passwords(self.rt, mailbox.id)
        return SmtpServer(
            mailbox.smtp_host,
            mailbox.smtp_port,
            MailSecurity(mailbox.smtp_security or MailSecurity.STARTTLS.value),
            mailbox.smtp_username,
            password,
        )

    async def _send(self, outgoing: _Outgoing) -> SendFailure | None:
        """None when the server took the message for every recipient, else why not."""
        server = outgoing.server
        if server is None:
            return SendFailure(NO_SERVER)
        try:
            refused, _ = await aiosmtplib.send(
                outgoing.message,
                sender=outgoing.sender,
                recipients=outgoing.recipients,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.security is MailSecurity.TLS,
                start_tls=server.security is MailSecurity.STARTTLS,
                tls_context=self.tls,
                timeout=SEND_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: final only when the server said so for each of them.
            failures = [smtp_failure(r.code, f"{r.recipient}: {r.message}") for r in exc.recipients]
            permanent = bool(failures) and all(f.permanent for f in failures)
            return SendFailure("; ".join(f.reason for f in failures) or str(exc), permanent)
        except aiosmtplib.SMTPDataError as exc:  # the message itself refused
            return smtp_failure(exc.code, exc.message)
        except aiosmtplib.SMTPResponseException as exc:
            # Login, sender or greeting refused: the server's or our configuration, not the
            # recipient; worth retrying once someone fixed it.
            return SendFailure(smtp_failure(exc.code, exc.message).reason)
        except (aiosmtplib.SMTPException, ssl.SSLError, OSError) as exc:
            return SendFailure(f"{type(exc).__name__}: {exc}")
        if refused:
            return SendFailure("; ".join(f"{a}: {r.code} {r.message}" for a, r in refused.items()))
        return None

    async def _settle(
        self, tx: Outbox, row: Any, ticket: TicketRecord | None, failure: SendFailure | None, now: datetime
    ) -> None:
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "updated_at": now}
        if failure is None:
            values |= {"status": Status.SENT.value, "sent_at": now, "next_attempt_at": None, "last_error": None}
        else:
            retry_at = None if failure.permanent else next_attempt_at(attempts, now)
            if retry_at is not None:
                values |= {"next_attempt_at": retry_at, "last_error": failure.reason}
            else:
                values |= {"status": Status.FAILED.value, "next_attempt_at": None, "last_error": failure.reason}
        await tx.conn.execute(update(d).where(d.c.id == row.id).values(values))
        if row.mailbox_id is not None:
            error = None if failure is None else f"sending to {', '.join(row.to_addresses)}: {failure.reason}"[:1000]
            changed = mb.c.last_error.is_distinct_from(error)
            await tx.conn.execute(update(mb).where(mb.c.id == row.mailbox_id, changed).values(last_error=error))
        if values.get("status") == Status.FAILED.value:
            assert failure is not None
            if ticket is not None:
                await record_email_failed(tx, ticket, row.comment_id, row.to_addresses, failure.reason, now)
            log.warning("delivery %d failed for good: %s", row.id, failure.reason)
        elif failure is not None:
            log.info("delivery %d: attempt %d failed (%s); retrying at %s", row.id, attempts, failure.reason, retry_at)


async def _ticket(conn: AsyncConnection, ticket_id: int | None) -> TicketRecord | None:
    if ticket_id is None:
        return None
    found = (await conn.execute(select(*TICKET_COLUMNS).where(t.c.id == ticket_id))).first()
    return TicketRecord(*found) if found else None


async def _mailbox(conn: AsyncConnection, mailbox_id: int | None) -> MailboxRecord | None:
    if mailbox_id is None:
        return None
    found = (await conn.execute(select(*columns_for(mb, MailboxRecord)).where(mb.c.id == mailbox_id))).first()
    return MailboxRecord(*found) if found else None


async def sender_loop(rt: Runtime) -> None:
    """The sender for `helpdesk serve` and `helpdesk worker`: runs until cancelled."""
    await MailSender(rt).loop()
