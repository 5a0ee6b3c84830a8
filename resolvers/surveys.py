"""Root mutation of the satisfaction survey (anonymous: the token from the mail is the credential)."""

from __future__ import annotations

import strawberry

from app.services import surveys
from resolvers.access import Info
from resolvers.payloads import reports_user_errors
from schema.surveys import SurveyPayload
from schema.tickets import SatisfactionRating


@strawberry.type
class SurveyMutation:
    @strawberry.mutation(description="Anonymous, with the single-use token from the survey mail sent on resolution.")
    @reports_user_errors(SurveyPayload)
    async def submit_satisfaction_survey(
        self,
        info: Info,
        survey_token: str,
        score: int,
        speed: int | None = None,
        professionalism: int | None = None,
        attitude: int | None = None,
        comment: str | None = None,
    ) -> SurveyPayload:
        answer = surveys.SurveyAnswer(score, speed, professionalism, attitude, comment)
        rating = await surveys.submit_survey(info.context.rt, survey_token, answer)
        return SurveyPayload(rating=SatisfactionRating.of(rating))
