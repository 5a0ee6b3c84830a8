"""The public web form: anyone may open a ticket, within a rate limit, and is told its number by mail.

The ticket goes through the one intake path createTicket uses (app.services.tickets
insert_ticket: customer found or created by email, routing, priority, assignment, SLA, events),
with channel WEB_FORM, the customer as the author, and only the custom fields
`visibleToCustomer`. Accepted submissions are counted per client address and per email address
(HELPDESK_WEB_FORM_LIMIT) in `web_form_submissions`, in the ticket's own transaction under
advisory locks, so any number of processes together accept at most `count` per window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.rate_windows import take_within_window
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import validation as v
from app.domain.customer_mail import acknowledgement_subject, acknowledgement_text
from app.domain.enums import Channel, EmailDeliveryKind
from app.domain.errors import DomainError, Forbidden, ValidationErrors
from app.domain.principal import Principal
from app.domain.rate_limits import RateLimit
from app.domain.records import TicketRecord
from app.events.outbox import Outbox
from app.services import idempotency
from app.services.attachments import StagedUploads, attach_files, staged_uploads
from app.services.customer_sign_in import mint_sign_in_link
from app.services.customers import CustomerRef
from app.services.email_outbox import queue_system_mail
from app.services.knowledge import caller_key, link_suggestions_to_ticket
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor
from app.services.tickets import CUSTOMER_FK, NewTicket, insert_ticket, validated_intake
from app.storage import IncomingFile

t, ws, cu = tables.tickets, tables.web_form_submissions, tables.customers
MAX_NAME = 200
MAX_KEY = 200
SCOPE = "submitWebForm"


@dataclass(frozen=True, slots=True)
class WebForm:
    name: str
    email: str
    subject: str
    description: str
    category: str | None = None
    custom_fields: dict[str, Any] | None = None
    language: str | None = None
    attachments: Sequence[IncomingFile] = ()
    # The honeypot: a field people never see, so never fill.
    website: str | None = None


class TooManySubmissions(Forbidden):
    pass


async def submit_web_form(
    rt: Runtime,
    principal: Principal | None,
    form: WebForm,
    client_address: str | None,
    idempotency_key: str | None = None,
) -> TicketRecord | None:
    """Opens the ticket and queues its acknowledgement; returns it, or None when the honeypot
    was filled (nothing is validated, written or mailed: the caller answers as if accepted,
    without a number). Anyone may call it, signed in or not.

    INVALID_INPUT for every bad field at once (name, email, subject, description, category,
    language, customFields at ["input", "customFields", key], an attachment over the upload
    limit); FORBIDDEN past HELPDESK_WEB_FORM_LIMIT for the client address or the email address.
    With an idempotency key, the same form sent again (same email, same key, same content) gets
    the first ticket back and counts once. Nothing is written on refusal."""
    if form.website and form.website.strip():
        return None
    email, data, intake = _validated(rt, form)
    if idempotency_key is not None:
        problems = v.Problems()
        v.required_text(problems, idempotency_key, ["idempotencyKey"], MAX_KEY)
        problems.raise_if_any()
    subjects = sorted({f"email:{email}", *([f"ip:{client_address}"] if client_address else [])})
    key = caller_key(principal, client_address)
    async with staged_uploads(rt, form.attachments, ["input", "attachments"]) as files:
        try:
            return await _submit(rt, data, intake, subjects, key, idempotency_key, files)
        except IntegrityError as exc:
            # As in createTicket: mergeCustomers removed the customer found, between the lookup
            # and the insert; once more, and the lookup finds the one it went into.
            if CUSTOMER_FK not in str(exc.orig):
                raise
            return await _submit(rt, data, intake, subjects, key, idempotency_key, files)


def _validated(rt: Runtime, form: WebForm) -> tuple[str, NewTicket, dict[str, Any]]:
    problems = v.Problems()
    name = v.required_text(problems, form.name, ["input", "name"], MAX_NAME)
    email = v.email(problems, form.email, ["input", "email"])
    data = NewTicket(
        subject=form.subject,
        description=form.description,
        channel=Channel.WEB_FORM,
        customer=CustomerRef(email=email, name=name),
        category=form.category,
        custom_fields=form.custom_fields,
        language=form.language,
        attachments=form.attachments,
    )
    intake: dict[str, Any] = {}
    try:
        intake = validated_intake(rt, data)
    except ValidationErrors as exc:
        problems.items.extend(exc.errors)  # type: ignore[arg-type]
    except DomainError as exc:
        problems.items.append(exc)  # type: ignore[arg-type]
    if email is None and not any(list(p.field) == ["input", "email"] for p in problems.items):
        problems.add("must not be empty", ["input", "email"])
    problems.raise_if_any()
    assert email is not None
    return email, data, intake


async def _submit(
    rt: Runtime,
    data: NewTicket,
    intake: dict[str, Any],
    subjects: list[str],
    key: str | None,
    idempotency_key: str | None,
    files: StagedUploads,
) -> TicketRecord:
    now = rt.clock.now()
    async with rt.transaction() as tx:
        scope = f"{SCOPE}:{data.customer.email}"
        if idempotency_key is not None:
            fingerprint = idempotency.request_fingerprint(
                {**asdict(replace(data, attachments=())), "files": [f.sha256 for f in files.files]}
            )
            existing = await idempotency.claim(tx.conn, None, scope, idempotency_key, fingerprint)
            if existing is not None:
                row = (await tx.conn.execute(select(*TICKET_COLUMNS).where(t.c.id == existing))).one()
                return TicketRecord(*row)
        await _count_within_limit(tx.conn, rt.settings.web_form_rate_limit, subjects, now)
        ticket = await insert_ticket(
            rt, tx, None, data, intake, now, check_fields=True, customer_facing=True, by_customer=True
        )
        await attach_files(tx, ticket, files, None, Actor(customer_id=ticket.customer_id), now)
        await link_suggestions_to_ticket(tx.conn, key, ticket.id, now)
        await _acknowledge(rt, tx, ticket, now)
        if idempotency_key is not None:
            await idempotency.remember(tx.conn, None, scope, idempotency_key, fingerprint, ticket.id, now)
    return ticket


async def _count_within_limit(conn: AsyncConnection, limit: RateLimit, subjects: list[str], now: datetime) -> None:
    """Counts this submission against each subject, or FORBIDDEN when one already has `count`
    in the window (app.db.rate_windows: across processes, one at a time per subject)."""
    window_start = now - timedelta(seconds=limit.seconds)
    if not await take_within_window(
        conn, ws, ws.c.submitted_at, dict.fromkeys(subjects, limit.count), window_start, now
    ):
        raise TooManySubmissions(f"too many web form submissions; try again in {limit.wait_text()}", [])


async def _acknowledge(rt: Runtime, tx: Outbox, ticket: TicketRecord, now: datetime) -> None:
    """The acknowledgement mail: the number, the subject and the link that signs the customer in."""
    # Valid 15 minutes like any sign-in link; after that the portal's home page mails a new one.
    sign_in_url = await mint_sign_in_link(tx.conn, rt.settings, ticket.customer_id, now)
    name = await tx.conn.scalar(select(cu.c.name).where(cu.c.id == ticket.customer_id)) or ""
    body = acknowledgement_text(name, ticket.number, ticket.subject, sign_in_url)
    subject = acknowledgement_subject(ticket.number, ticket.subject)
    await queue_system_mail(tx, ticket, EmailDeliveryKind.ACKNOWLEDGEMENT, subject, body, rt.settings.mail_from, now)
