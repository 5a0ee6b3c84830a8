"""Answering a satisfaction survey through its single-use link (the mail is written by
app.services.survey_invitations when the ticket is resolved).

Only the token's sha256 is stored. Any unexpired, unanswered survey of a ticket may rate it
while it is RESOLVED or CLOSED; the rating is one per ticket, so after a reopen and a second
resolution the first mail's link still works until either is used, then both are DUPLICATE.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from app.auth import tokens
from app.db import tables
from app.domain import validation as v
from app.domain.errors import Duplicate, InvalidInput
from app.domain.records import SatisfactionRecord
from app.domain.satisfaction import checked_rating
from app.services.runtime import Runtime
from app.services.satisfaction import rate_locked
from app.services.ticket_changes import Actor, lock_ticket

sv = tables.satisfaction_surveys
MAX_TOKEN = 200
INVALID = "this survey link is not valid or has expired"


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    score: int
    speed: int | None = None
    professionalism: int | None = None
    attitude: int | None = None
    comment: str | None = None


async def submit_survey(rt: Runtime, survey_token: str, answer: SurveyAnswer) -> SatisfactionRecord:
    """Rates the survey's ticket for its customer (anyone holding the link may: it is the
    credential). INVALID_INPUT for a forged or expired token and for a score or sub-score
    outside 1-5 (at that argument); DUPLICATE when this survey was answered or the ticket was
    rated otherwise; INVALID_TRANSITION while the ticket is reopened. Nothing is written on
    refusal, and the same token sent at once by many requests rates once."""
    problems = v.Problems()
    token = v.required_text(problems, survey_token, ["surveyToken"], MAX_TOKEN)
    problems.raise_if_any()
    rating = checked_rating(
        answer.score,
        answer.comment,
        {"speed": answer.speed, "professionalism": answer.professionalism, "attitude": answer.attitude},
    )
    now = rt.clock.now()
    async with rt.transaction() as tx:
        ticket_id = await tx.conn.scalar(select(sv.c.ticket_id).where(sv.c.token_hash == tokens.digest(token)))
        if ticket_id is None:
            raise InvalidInput(INVALID, ["surveyToken"])
        # The ticket first, then its survey: the order every path that resolves it takes.
        ticket = await lock_ticket(tx.conn, None, ticket_id, ["surveyToken"])
        survey = (
            await tx.conn.execute(
                select(sv.c.id, sv.c.expires_at, sv.c.answered_at)
                .where(sv.c.token_hash == tokens.digest(token))
                .with_for_update()
            )
        ).one()
        if survey.answered_at is not None:
            raise Duplicate("this survey was already answered", ["surveyToken"])
        if survey.expires_at <= now:
            raise InvalidInput(INVALID, ["surveyToken"])
        _, rated = await rate_locked(
            tx, ticket, rating, Actor(customer_id=ticket.customer_id), now, {"surveyId": survey.id}, ["surveyToken"]
        )
        await tx.conn.execute(update(sv).where(sv.c.id == survey.id).values(answered_at=now))
    return rated
