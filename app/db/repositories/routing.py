"""Routing rules as the domain sees them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import columns_for, to_records
from app.domain.routing import RoutingRule

r = tables.routing_rules
RULE_COLUMNS = columns_for(r, RoutingRule)


async def all_rules(conn: AsyncConnection) -> list[RoutingRule]:
    return to_records(RoutingRule, await conn.execute(select(*RULE_COLUMNS).order_by(r.c.position, r.c.id)))


async def rule_by_id(conn: AsyncConnection, rule_id: int) -> RoutingRule | None:
    rows = to_records(RoutingRule, await conn.execute(select(*RULE_COLUMNS).where(r.c.id == rule_id)))
    return rows[0] if rows else None


async def enabled_rules(conn: AsyncConnection) -> list[RoutingRule]:
    rows = await conn.execute(select(*RULE_COLUMNS).where(r.c.enabled).order_by(r.c.position, r.c.id))
    return to_records(RoutingRule, rows)
