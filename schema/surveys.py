"""The satisfaction survey's answer."""

from __future__ import annotations

import strawberry

from schema.common import Payload
from schema.tickets import SatisfactionRating


@strawberry.type
class SurveyPayload(Payload):
    rating: SatisfactionRating | None = None
