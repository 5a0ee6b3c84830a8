"""Routing rules."""

from __future__ import annotations

import strawberry

from app.domain import enums
from app.domain.routing import RoutingRule as RuleRecord
from schema import ids
from schema.common import JSON, Node, Payload
from schema.context import Context
from schema.enums import Channel, CustomerTier, TicketPriority
from schema.people import Group, load_group

Info = strawberry.Info[Context, None]


@strawberry.type
class RoutingRule(Node):
    id: strawberry.ID
    name: str
    position: int
    enabled: bool
    match_keywords: list[str] = strawberry.field(
        description=(
            "Any of these words in subject or description (case-insensitive; Chinese and other scripts included)."
        )
    )
    match_channels: list[Channel]
    match_tiers: list[CustomerTier]
    match_categories: list[str]
    match_languages: list[str]
    set_category: str | None
    set_priority: TicketPriority | None
    add_tags: list[str]
    require_skills: list[str]
    stop_processing: bool = strawberry.field(description="Stop evaluating later rules once this one matched.")
    match_custom_fields: JSON = strawberry.field(description="Every given key must equal the ticket's custom field.")
    group_pk: strawberry.Private[int | None]

    @classmethod
    def of(cls, r: RuleRecord) -> RoutingRule:
        return cls(
            id=ids.encode("RoutingRule", r.id),
            name=r.name,
            position=r.position,
            enabled=r.enabled,
            match_keywords=r.match_keywords,
            match_channels=[enums.Channel(c) for c in r.match_channels],
            match_tiers=[enums.CustomerTier(t) for t in r.match_tiers],
            match_categories=r.match_categories,
            match_languages=r.match_languages,
            set_category=r.set_category,
            set_priority=enums.TicketPriority(r.set_priority) if r.set_priority else None,
            add_tags=r.add_tags,
            require_skills=r.require_skills,
            stop_processing=r.stop_processing,
            match_custom_fields=JSON(r.match_custom_fields),
            group_pk=r.route_to_group_id,
        )

    @strawberry.field
    async def route_to_group(self, info: Info) -> Group | None:
        return await load_group(info, self.group_pk)


@strawberry.input
class RoutingRuleInput:
    name: str
    position: int | None = None
    enabled: bool | None = True
    match_keywords: list[str] | None = None
    match_channels: list[Channel] | None = None
    match_tiers: list[CustomerTier] | None = None
    match_categories: list[str] | None = None
    match_languages: list[str] | None = None
    set_category: str | None = None
    set_priority: TicketPriority | None = None
    add_tags: list[str] | None = None
    route_to_group_id: strawberry.ID | None = None
    require_skills: list[str] | None = None
    stop_processing: bool | None = False
    match_custom_fields: JSON | None = None


@strawberry.type
class RoutingRulePayload(Payload):
    rule: RoutingRule | None = None
