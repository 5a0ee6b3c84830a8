"""Satisfaction ratings: what a score means, whichever path gave it (rateTicket or the survey)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain import validation as v

# A rating of 2 or less is a 回访 case: the ticket is tagged and the group's supervisors are told.
LOW_SCORE_MAX = 2
LOW_CSAT_TAG = "low-csat"
MAX_COMMENT = 5000
SUB_SCORES = ("speed", "professionalism", "attitude")


def is_low(score: object) -> bool:
    return isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= LOW_SCORE_MAX


@dataclass(frozen=True, slots=True)
class Rating:
    score: int
    comment: str | None = None
    speed: int | None = None
    professionalism: int | None = None
    attitude: int | None = None

    def sub_scores(self) -> dict[str, int | None]:
        return {"speed": self.speed, "professionalism": self.professionalism, "attitude": self.attitude}


def checked_rating(score: int, comment: str | None, sub_scores: Mapping[str, int | None] | None = None) -> Rating:
    """The rating, or INVALID_INPUT at each argument out of range: score 1-5, each given
    sub-score 1-5, a comment of at most MAX_COMMENT characters."""
    problems = v.Problems()
    if not 1 <= score <= 5:
        problems.add("must be between 1 and 5", ["score"])
    subs = dict(sub_scores or {})
    for name in SUB_SCORES:
        value = subs.get(name)
        if value is not None and not 1 <= value <= 5:
            problems.add("must be between 1 and 5 when given", [name])
    clean_comment = v.optional_text(problems, comment, ["comment"], MAX_COMMENT)
    problems.raise_if_any()
    return Rating(score, clean_comment, subs.get("speed"), subs.get("professionalism"), subs.get("attitude"))


def tags_after_rating(tags: list[str], score: int) -> list[str]:
    """The ticket's tags once rated: a low score adds LOW_CSAT_TAG (once)."""
    if is_low(score) and LOW_CSAT_TAG not in tags:
        return [*tags, LOW_CSAT_TAG]
    return tags
