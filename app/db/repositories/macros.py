"""Reads of macros, always through the one visibility rule: shared ones and the caller's own."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import columns_for, to_records
from app.domain.principal import Principal
from app.domain.records import MacroRecord

m = tables.macros
MACRO_COLUMNS = columns_for(m, MacroRecord)


def macro_visible_to(principal: Principal) -> ColumnElement[bool]:
    """Every agent sees the shared macros and their own; someone else's personal macro looks
    exactly like a missing one, whatever the caller's role."""
    return or_(m.c.owner_agent_id.is_(None), m.c.owner_agent_id == principal.agent_id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def visible_macros(conn: AsyncConnection, principal: Principal, search: str | None) -> list[MacroRecord]:
    """Shared macros and the caller's own, by name; `search` matches name or body, any case."""
    query = select(*MACRO_COLUMNS).where(macro_visible_to(principal))
    if search:
        pattern = f"%{_escape_like(search)}%"
        query = query.where(or_(m.c.name.ilike(pattern, escape="\\"), m.c.body.ilike(pattern, escape="\\")))
    rows = await conn.execute(query.order_by(func.lower(m.c.name), m.c.id).limit(500))
    return to_records(MacroRecord, rows)


async def visible_macro(
    conn: AsyncConnection, principal: Principal, macro_id: int, *, lock: bool = False
) -> MacroRecord | None:
    query = select(*MACRO_COLUMNS).where(m.c.id == macro_id, macro_visible_to(principal))
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return MacroRecord(*row) if row else None


async def shared_macro_names(conn: AsyncConnection, names: list[str]) -> set[str]:
    """Which of the names shared macros have (the demo finds its own again by name)."""
    rows = await conn.execute(select(m.c.name).where(m.c.owner_agent_id.is_(None), m.c.name.in_(names)))
    return {row.name for row in rows}
