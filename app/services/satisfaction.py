"""Customer satisfaction ratings."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.auth.policy import Action as Permission
from app.auth.policy import require
from app.db import tables
from app.domain import validation as v
from app.domain.enums import TicketEventType, TicketStatus
from app.domain.errors import Duplicate, InvalidTransition
from app.domain.principal import CustomerPrincipal, Viewer
from app.domain.records import TicketRecord
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, apply_change, lock_ticket, record


async def rate_ticket(rt: Runtime, principal: Viewer, ticket_id: int, score: int, comment: str | None) -> TicketRecord:
    """The customer's rating (1-5), relayed by an agent or integration or given by the customer
    signed in (their own ticket only): once, on a RESOLVED or CLOSED ticket."""
    relayed_by = None if isinstance(principal, CustomerPrincipal) else principal.agent_id
    if not isinstance(principal, CustomerPrincipal):
        require(principal, Permission.UPDATE_TICKET)
    problems = v.Problems()
    if not 1 <= score <= 5:
        problems.add("must be between 1 and 5", ["score"])
    clean_comment = v.optional_text(problems, comment, ["comment"], 5000)
    problems.raise_if_any()
    now = rt.clock.now()
    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        if ticket.status not in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value):
            raise InvalidTransition(
                f"only RESOLVED or CLOSED tickets can be rated; this one is {ticket.status}", ["id"]
            )
        inserted = (
            await tx.conn.execute(
                pg_insert(tables.satisfaction_ratings)
                .values(ticket_id=ticket.id, score=score, comment=clean_comment, rated_at=now)
                .on_conflict_do_nothing()
                .returning(tables.satisfaction_ratings.c.ticket_id)
            )
        ).first()
        if inserted is None:
            raise Duplicate("the ticket is already rated", ["id"])
        updated = await apply_change(tx, ticket, {}, now)
        await record(
            tx,
            updated,
            TicketEventType.RATED,
            Actor(customer_id=ticket.customer_id),
            now,
            {"score": score, "comment": clean_comment, "relayedByAgentId": relayed_by},
        )
    return updated
