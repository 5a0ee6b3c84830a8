"""Customer satisfaction ratings: one per ticket, by rateTicket or by the survey mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.db.repositories.rows import columns_for
from app.domain.enums import TicketEventType, TicketStatus
from app.domain.errors import Duplicate, InvalidTransition
from app.domain.principal import CustomerPrincipal, Viewer
from app.domain.records import SatisfactionRecord, TicketRecord
from app.domain.satisfaction import Rating, checked_rating, tags_after_rating
from app.events.outbox import Outbox
from app.services.runtime import Runtime
from app.services.ticket_changes import SYSTEM, Actor, apply_change, lock_ticket, record
from app.services.tickets import edit_locked

sr = tables.satisfaction_ratings


async def rate_ticket(rt: Runtime, principal: Viewer, ticket_id: int, score: int, comment: str | None) -> TicketRecord:
    """The customer's rating (1-5), relayed by an agent or integration or given by the customer
    signed in (their own ticket only): once, on a RESOLVED or CLOSED ticket."""
    relayed_by = None if isinstance(principal, CustomerPrincipal) else principal.agent_id
    if not isinstance(principal, CustomerPrincipal):
        require(principal, Permission.UPDATE_TICKET)
    rating = checked_rating(score, comment)
    now = rt.clock.now()
    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        updated, _ = await rate_locked(
            tx, ticket, rating, Actor(customer_id=ticket.customer_id), now, {"relayedByAgentId": relayed_by}
        )
    return updated


async def rate_locked(
    tx: Outbox,
    ticket: TicketRecord,
    rating: Rating,
    actor: Actor,
    now: datetime,
    data: dict[str, Any],
    field: Sequence[str] = ("id",),
) -> tuple[TicketRecord, SatisfactionRecord]:
    """Writes the ticket's one rating and its RATED event, in the caller's transaction (the
    ticket is locked). INVALID_TRANSITION unless the ticket is RESOLVED or CLOSED; DUPLICATE when
    it is already rated. A low score also tags the ticket `low-csat` (an UPDATED event by the
    system); the RATED event makes the LOW_SATISFACTION notification
    (app.services.notification_triggers), whichever path rated."""
    if ticket.status not in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value):
        raise InvalidTransition(
            f"only RESOLVED or CLOSED tickets can be rated; this one is {ticket.status}", list(field)
        )
    row = (
        await tx.conn.execute(
            pg_insert(sr)
            .values(ticket_id=ticket.id, score=rating.score, comment=rating.comment, rated_at=now)
            .values(**rating.sub_scores())
            .on_conflict_do_nothing()
            .returning(*columns_for(sr, SatisfactionRecord))
        )
    ).first()
    if row is None:
        raise Duplicate("the ticket is already rated", list(field))
    tags = tags_after_rating(list(ticket.tags), rating.score)
    updated = await edit_locked(tx, ticket, {"tags": tags}, SYSTEM, now) if tags != list(ticket.tags) else ticket
    if updated is ticket:
        updated = await apply_change(tx, ticket, {}, now)
    given = {name: value for name, value in rating.sub_scores().items() if value is not None}
    event = {"score": rating.score, "comment": rating.comment, **given, **data}
    await record(tx, updated, TicketEventType.RATED, actor, now, event)
    return updated, SatisfactionRecord(*row)
