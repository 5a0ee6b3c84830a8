"""Custom field definitions as the domain sees them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.domain.ticket_fields import FieldDefinition

f = tables.ticket_field_definitions
DEFINITION_COLUMNS = (
    f.c.id,
    f.c.key,
    f.c.label,
    f.c.type,
    f.c.options,
    f.c.pattern,
    f.c.required_on_create,
    f.c.required_for_status,
    f.c.categories,
    f.c.visible_to_customer,
    f.c.position,
)


async def definitions(conn: AsyncConnection, *, customer_facing: bool = False) -> list[FieldDefinition]:
    """Every definition in display order; customer_facing keeps those visibleToCustomer only."""
    query = select(*DEFINITION_COLUMNS).order_by(f.c.position, f.c.id)
    if customer_facing:
        query = query.where(f.c.visible_to_customer)
    return [FieldDefinition(*row) for row in await conn.execute(query)]
