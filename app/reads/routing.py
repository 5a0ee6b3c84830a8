"""Routing rules as admins read them."""

from __future__ import annotations

from app.db.repositories import routing
from app.domain.routing import RoutingRule
from app.services.runtime import Runtime


async def routing_rules(rt: Runtime) -> list[RoutingRule]:
    """Every rule, in the order the router tries them."""
    async with rt.engine.connect() as conn:
        return await routing.all_rules(conn)


async def routing_rule(rt: Runtime, pk: int) -> RoutingRule | None:
    async with rt.reader.connect() as conn:
        return await routing.rule_by_id(conn, pk)
