"""Choosing the agent for a ticket: who is eligible, and which strategy picks among them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.enums import AgentPresence, AssignmentStrategy


def _since(moment: datetime | None) -> tuple[int] | tuple[int, datetime]:
    """Sort key for "longest ago first": never comes before any time. (A bare datetime.min
    would be naive and could not be compared with the timezone-aware times from the database.)"""
    return (0,) if moment is None else (1, moment)


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: int
    presence: str
    on_vacation: bool
    capacity: int
    open_tickets: int
    skills: frozenset[str]
    languages: frozenset[str]
    # When this agent last got a ticket of this group (round-robin order); None: never.
    last_assigned_in_group: datetime | None
    # When this agent last got any ticket (tie-breaker for the other strategies).
    last_assigned: datetime | None

    @property
    def load(self) -> float:
        return self.open_tickets / self.capacity if self.capacity else float("inf")


def is_available(c: Candidate) -> bool:
    """ONLINE, not on vacation, and under capacity."""
    return c.presence == AgentPresence.ONLINE.value and not c.on_vacation and c.open_tickets < c.capacity


def is_qualified(c: Candidate, required_skills: Sequence[str], language: str | None) -> bool:
    """Holds every required skill and speaks the ticket's language (by primary tag)."""
    if not set(required_skills) <= c.skills:
        return False
    if language:
        primary = language.split("-")[0]
        return primary in {lang.split("-")[0] for lang in c.languages}
    return True


def choose_agent(
    strategy: AssignmentStrategy,
    candidates: Sequence[Candidate],
    required_skills: Sequence[str] = (),
    language: str | None = None,
) -> Candidate | None:
    """The agent the strategy picks among the available members, or None (the ticket waits in the queue).

    ROUND_ROBIN: whoever got a ticket of this group longest ago (never first), so turns stay even.
    LEAST_LOADED: the lowest open tickets relative to capacity.
    SKILL_BASED: only agents with every required skill and the ticket's language, then least loaded,
    ties by rotation. MANUAL: nobody; a supervisor assigns.
    """
    available = [c for c in candidates if is_available(c)]
    if strategy is AssignmentStrategy.MANUAL or not available:
        return None
    if strategy is AssignmentStrategy.ROUND_ROBIN:
        return min(available, key=lambda c: (_since(c.last_assigned_in_group), c.agent_id))
    if strategy is AssignmentStrategy.SKILL_BASED:
        available = [c for c in available if is_qualified(c, required_skills, language)]
        if not available:
            return None
    return min(
        available,
        key=lambda c: (
            c.load,
            c.open_tickets,
            _since(c.last_assigned_in_group),
            _since(c.last_assigned),
            c.agent_id,
        ),
    )
