"""Administering routing rules (admins only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.routing import RULE_COLUMNS
from app.domain import validation as v
from app.domain.errors import NotFound
from app.domain.principal import Principal
from app.domain.routing import RoutingRule
from app.services.runtime import Runtime

r, g = tables.routing_rules, tables.groups


@dataclass(frozen=True, slots=True)
class RuleInput(v.OrderedRuleInput):
    match_keywords: list[str] = field(default_factory=list)
    match_languages: list[str] = field(default_factory=list)
    set_category: str | None = None
    set_priority: str | None = None
    add_tags: list[str] = field(default_factory=list)
    route_to_group_id: int | None = None
    require_skills: list[str] = field(default_factory=list)
    stop_processing: bool = False
    match_custom_fields: dict[str, object] | None = None


def _clean(data: RuleInput) -> dict[str, object]:
    problems = v.Problems()
    keywords: list[str] = []
    for keyword in data.match_keywords:
        text = v.required_text(problems, keyword, ["input", "matchKeywords"], 100)
        if text and text not in keywords:
            keywords.append(text)
    if len(keywords) > 100:
        problems.add("at most 100 keywords", ["input", "matchKeywords"])
    languages = [
        lang for lang in (v.language(problems, x, ["input", "matchLanguages"]) for x in data.match_languages) if lang
    ]
    values: dict[str, object] = {
        **v.ordered_rule(problems, data),
        "match_keywords": keywords,
        "match_languages": languages,
        "set_category": (v.optional_text(problems, data.set_category, ["input", "setCategory"], 64) or "").lower()
        or None,
        "set_priority": data.set_priority,
        "add_tags": v.tags(problems, data.add_tags, ["input", "addTags"], v.TextLimits()),
        "route_to_group_id": data.route_to_group_id,
        "require_skills": v.tags(problems, data.require_skills, ["input", "requireSkills"], v.TextLimits(max_tags=50)),
        "stop_processing": data.stop_processing,
        "match_custom_fields": v.json_object(problems, data.match_custom_fields, ["input", "matchCustomFields"]),
    }
    problems.raise_if_any()
    return values


async def create_rule(rt: Runtime, principal: Principal, data: RuleInput) -> RoutingRule:
    """A new rule; without a position it goes after the last one."""
    require(principal, Action.MANAGE_ROUTING)
    values = _clean(data)
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await _check_group(tx.conn, data.route_to_group_id)
        position = data.position
        if position is None:
            position = (await tx.conn.execute(select(func.coalesce(func.max(r.c.position), 0) + 10))).scalar_one()
        row = (
            await tx.conn.execute(
                insert(r).values(**values, position=position, created_at=now, updated_at=now).returning(*RULE_COLUMNS)
            )
        ).one()
    return RoutingRule(*row)


async def update_rule(rt: Runtime, principal: Principal, rule_id: int, data: RuleInput) -> RoutingRule:
    """Replaces the rule's definition (the input is the whole rule, as the contract's RoutingRuleInput)."""
    require(principal, Action.MANAGE_ROUTING)
    values = _clean(data)
    async with rt.transaction() as tx:
        await _check_group(tx.conn, data.route_to_group_id)
        if data.position is not None:
            values["position"] = data.position
        row = (
            await tx.conn.execute(
                update(r).where(r.c.id == rule_id).values(**values, updated_at=rt.clock.now()).returning(*RULE_COLUMNS)
            )
        ).first()
        if row is None:
            raise NotFound("no such routing rule", ["id"])
    return RoutingRule(*row)


async def delete_rule(rt: Runtime, principal: Principal, rule_id: int) -> int:
    require(principal, Action.MANAGE_ROUTING)
    async with rt.transaction() as tx:
        deleted = (await tx.conn.execute(delete(r).where(r.c.id == rule_id).returning(r.c.id))).first()
        if deleted is None:
            raise NotFound("no such routing rule", ["id"])
    return rule_id


async def _check_group(conn: AsyncConnection, group_id: int | None) -> None:
    if group_id is None:
        return
    if (await conn.execute(select(g.c.id).where(g.c.id == group_id))).first() is None:
        raise NotFound("no such group", ["input", "routeToGroupId"])
