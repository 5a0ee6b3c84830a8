"""Satisfaction survey invitations: one survey and its mail per resolution.

Runtime installs `SurveyOnResolution` on every transaction's outbox beside the notification
triggers, so whichever path resolves a ticket (resolveTicket, an automation's SET_STATUS, a
macro) writes the survey and its mail in the resolving transaction: the STATUS_CHANGED event to
RESOLVED is the one thing they all write (app.services.lifecycle.change_status). Answering is
app.services.surveys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select

from app.auth import tokens
from app.db import tables
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain.customer_mail import survey_subject, survey_text, survey_url
from app.domain.enums import EmailDeliveryKind, TicketEventType, TicketStatus
from app.domain.records import TicketRecord
from app.events.outbox import Outbox, PendingEvent
from app.services.email_outbox import deliverable_address, queue_system_mail
from app.settings import Settings

sv, sr, cu, t = tables.satisfaction_surveys, tables.satisfaction_ratings, tables.customers, tables.tickets


@dataclass(frozen=True, slots=True)
class SurveyOnResolution:
    """The outbox observer (app.events.outbox.EventObserver) that invites the customer to rate a
    ticket that just became RESOLVED."""

    settings: Settings
    types = frozenset({TicketEventType.STATUS_CHANGED})

    async def observe(self, tx: Outbox, event: PendingEvent) -> None:
        if event.data.get("to") == TicketStatus.RESOLVED.value:
            await invite(tx, self.settings, event)


async def invite(tx: Outbox, settings: Settings, resolution: PendingEvent) -> None:
    """The survey of this resolution and its mail, in the resolving transaction: nothing when
    the ticket is already rated or its customer has no deliverable address (none, or bounced)."""
    ticket = TicketRecord(*(await tx.conn.execute(select(*TICKET_COLUMNS).where(t.c.id == resolution.ticket_id))).one())
    if await tx.conn.scalar(select(sr.c.ticket_id).where(sr.c.ticket_id == ticket.id)) is not None:
        return
    if await deliverable_address(tx.conn, ticket.customer_id) is None:
        return
    token = tokens.new_secret(tokens.SURVEY_PREFIX)
    now = resolution.occurred_at
    await tx.conn.execute(
        insert(sv).values(
            ticket_id=ticket.id,
            resolution_event_id=resolution.id,
            token_hash=tokens.digest(token),
            created_at=now,
            expires_at=now + timedelta(days=settings.survey_days),
        )
    )
    name = await tx.conn.scalar(select(cu.c.name).where(cu.c.id == ticket.customer_id)) or ""
    link = survey_url(settings.public_url, token)
    body = survey_text(name, ticket.number, ticket.subject, link, settings.survey_days)
    subject = survey_subject(ticket.number, ticket.subject)
    await queue_system_mail(tx, ticket, EmailDeliveryKind.SYSTEM, subject, body, settings.mail_from, now)
