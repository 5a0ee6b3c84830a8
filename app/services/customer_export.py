"""Everything held about one customer, as JSON (a data-subject request), and who asked for it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, require
from app.db import tables
from app.domain.errors import NotFound
from app.domain.principal import Principal
from app.services.runtime import Runtime

cu, t, c, at, sr, te = (
    tables.customers,
    tables.tickets,
    tables.comments,
    tables.attachments,
    tables.satisfaction_ratings,
    tables.ticket_events,
)
al, ex = tables.customer_aliases, tables.customer_data_exports
# Internal columns that say nothing about the person (search index, cursor bookkeeping).
_LEFT_OUT = {"search_vector", "search_text", "txid"}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in row.items() if k not in _LEFT_OUT}


def _all_columns(table: Table) -> Select[Any]:
    return select(*[col for col in table.c if col.name not in _LEFT_OUT])


async def _rows(conn: AsyncConnection, query: Select[Any]) -> list[dict[str, Any]]:
    return [_plain(row._mapping) for row in await conn.execute(query)]


async def export_customer_data(rt: Runtime, principal: Principal, customer_id: int) -> dict[str, Any]:
    """The customer's profile, the contacts of customers merged into it, their tickets with every
    comment (INTERNAL notes included: they are held about the person), attachments' metadata,
    ratings and events, and earlier exports. The export itself is recorded (who, when) in the
    same transaction, so an export nobody recorded is never handed out."""
    require(principal, Action.EXPORT_CUSTOMER_DATA)
    async with rt.transaction() as tx:
        conn = tx.conn
        profile = await _rows(conn, _all_columns(cu).where(cu.c.id == customer_id))
        if not profile:
            raise NotFound("no such customer", ["id"])
        mine = select(t.c.id).where(t.c.customer_id == customer_id)
        export: dict[str, Any] = {
            "customer": profile[0],
            "mergedContacts": await _rows(conn, _all_columns(al).where(al.c.customer_id == customer_id)),
            "tickets": await _rows(conn, _all_columns(t).where(t.c.customer_id == customer_id).order_by(t.c.id)),
            "comments": await _rows(conn, _all_columns(c).where(c.c.ticket_id.in_(mine)).order_by(c.c.id)),
            "attachments": await _rows(conn, _all_columns(at).where(at.c.ticket_id.in_(mine)).order_by(at.c.id)),
            "ratings": await _rows(conn, _all_columns(sr).where(sr.c.ticket_id.in_(mine)).order_by(sr.c.ticket_id)),
            "events": await _rows(conn, _all_columns(te).where(te.c.ticket_id.in_(mine)).order_by(te.c.id)),
            "exports": await _rows(conn, _all_columns(ex).where(ex.c.customer_id == customer_id).order_by(ex.c.id)),
        }
        now = rt.clock.now()
        await conn.execute(
            insert(ex).values(customer_id=customer_id, exported_by_agent_id=principal.agent_id, exported_at=now)
        )
    export["exportedAt"] = now.isoformat()
    export["exportedByAgentId"] = principal.agent_id
    return export
