"""Routing rules: classify a ticket and send it to a group, in rule order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.enums import TicketPriority
from app.domain.ticket_fields import matches_custom_fields


@dataclass(frozen=True, slots=True)
class RoutingRule:
    id: int
    name: str
    position: int
    enabled: bool
    match_keywords: list[str]
    match_channels: list[str]
    match_tiers: list[str]
    match_categories: list[str]
    match_languages: list[str]
    set_category: str | None
    set_priority: str | None
    add_tags: list[str]
    route_to_group_id: int | None
    require_skills: list[str]
    stop_processing: bool
    match_custom_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What rules look at: the text, how it came in, who sent it, and what is decided so far."""

    subject: str
    description: str
    channel: str
    tier: str
    language: str | None
    category: str | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    category: str | None = None
    priority: TicketPriority | None = None
    tags: tuple[str, ...] = ()
    group_id: int | None = None
    required_skills: tuple[str, ...] = ()
    fired: tuple[tuple[int, str], ...] = field(default=())

    def explain(self) -> dict[str, object]:
        """For the events: which rules fired, so a supervisor sees why the ticket went where it went."""
        return {
            "rules": [{"id": rule_id, "name": name} for rule_id, name in self.fired],
            "category": self.category,
            "priority": self.priority.value if self.priority else None,
            "groupId": self.group_id,
            "tags": list(self.tags),
            "requiredSkills": list(self.required_skills),
        }


def matches(rule: RoutingRule, facts: TicketFacts) -> bool:
    """Every condition a rule sets must hold; a condition left empty holds for any ticket."""
    if not rule.enabled:
        return False
    if rule.match_keywords:
        # casefold() makes "LOGIN" match "login"; Chinese keywords match as substrings.
        text = f"{facts.subject}\n{facts.description}".casefold()
        if not any(keyword.casefold() in text for keyword in rule.match_keywords if keyword.strip()):
            return False
    if rule.match_channels and facts.channel not in rule.match_channels:
        return False
    if rule.match_tiers and facts.tier not in rule.match_tiers:
        return False
    if rule.match_categories and (facts.category or "") not in rule.match_categories:
        return False
    if rule.match_languages:
        language = (facts.language or "").split("-")[0]
        if language not in {lang.split("-")[0] for lang in rule.match_languages}:
            return False
    return matches_custom_fields(rule.match_custom_fields, facts.custom_fields)


def route(rules: Sequence[RoutingRule], facts: TicketFacts) -> RoutingDecision:
    """Rules run by position; each matching rule applies its actions (a later one overrides
    category, priority and group; tags and skills add up); stopProcessing ends the run.
    A category set by a rule is seen by the rules after it."""
    decision = RoutingDecision(category=facts.category)
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if not matches(rule, facts):
            continue
        tags = decision.tags + tuple(t for t in rule.add_tags if t not in decision.tags)
        skills = decision.required_skills + tuple(s for s in rule.require_skills if s not in decision.required_skills)
        decision = replace(
            decision,
            category=rule.set_category or decision.category,
            priority=TicketPriority(rule.set_priority) if rule.set_priority else decision.priority,
            tags=tags,
            group_id=rule.route_to_group_id if rule.route_to_group_id is not None else decision.group_id,
            required_skills=skills,
            fired=(*decision.fired, (rule.id, rule.name)),
        )
        facts = replace(facts, category=decision.category)
        if rule.stop_processing:
            break
    return decision
