"""Reads of automations, and their conditions as SQL (previewAutomation counts open tickets in
the database, it does not load them). `condition_sql` must say exactly what
app.domain.automation_conditions.holds says; tests compare the two on the same tickets.

Every condition is a plain conjunct PostgreSQL can use an index for, never NULL: the open
tickets' covering index ix_tickets_open_facts answers conditions on their columns without
reading the table, `tags @>` uses ix_tickets_tags, `customFields` equality
ix_tickets_custom_fields, subject CONTAINS the trigram index ix_tickets_subject_trgm, and the
customers table is read only for `customer.tier`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Float,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import columns_for, to_records
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain.automation_conditions import Condition
from app.domain.enums import OPEN_STATUSES, ConditionOperator, TicketPriority
from app.domain.records import AutomationRecord, TicketRecord

au, t, cu = tables.automations, tables.tickets, tables.customers
AUTOMATION_COLUMNS = columns_for(au, AutomationRecord)
Op = ConditionOperator

_COLUMNS: dict[str, Any] = {
    "status": t.c.status,
    "priority": t.c.priority,
    "channel": t.c.channel,
    "sentiment": t.c.sentiment,
    "category": t.c.category,
    "language": t.c.language,
    "subject": t.c.subject,
    "description": t.c.description,
    "groupId": t.c.group_id,
    "assigneeId": t.c.assignee_id,
}


async def all_automations(conn: AsyncConnection) -> list[AutomationRecord]:
    rows = await conn.execute(select(*AUTOMATION_COLUMNS).order_by(au.c.position, au.c.id))
    return to_records(AutomationRecord, rows)


async def enabled_automations(conn: AsyncConnection, triggers: Sequence[str]) -> list[AutomationRecord]:
    """The enabled automations of these triggers, in the order they fire (position, then id)."""
    rows = await conn.execute(
        select(*AUTOMATION_COLUMNS)
        .where(au.c.enabled, au.c.trigger.in_(list(triggers)))
        .order_by(au.c.position, au.c.id)
    )
    return to_records(AutomationRecord, rows)


async def automation_by_id(conn: AsyncConnection, automation_id: int, *, lock: bool = False) -> AutomationRecord | None:
    query = select(*AUTOMATION_COLUMNS).where(au.c.id == automation_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return AutomationRecord(*row) if row else None


async def automation_names(conn: AsyncConnection, names: list[str]) -> set[str]:
    """Which of the names automations have (the demo finds its own again by name)."""
    return set((await conn.execute(select(au.c.name).where(au.c.name.in_(names)))).scalars())


async def next_position(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(au.c.position) + 1, 0))) or 0)


def _false_if_null(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    return func.coalesce(expr, false())


def _json(value: Any) -> ColumnElement[Any]:
    return cast(literal(json.dumps(value)), JSONB)


def _custom(c: Condition) -> ColumnElement[bool]:
    key = c.field.removeprefix("customFields.")
    raw = t.c.custom_fields.op("->")(key)
    kind = func.jsonb_typeof(raw)
    op, value = c.operator, c.value
    if op in (Op.IS_SET, Op.IS_NOT_SET):
        is_set = _false_if_null(and_(raw.isnot(None), kind != "null", raw != _json(""), raw != _json([])))
        return is_set if op is Op.IS_SET else not_(is_set)
    if op in (Op.CONTAINS, Op.NOT_CONTAINS):
        text = t.c.custom_fields.op("->>")(key)
        found = _false_if_null(case((kind == "string", func.strpos(func.lower(text), value) > 0), else_=false()))
        return found if op is Op.CONTAINS else not_(found)
    if op in (Op.GREATER_THAN, Op.LESS_THAN):
        number = case((kind == "number", cast(t.c.custom_fields.op("->>")(key), Float)))
        return _false_if_null(number > value if op is Op.GREATER_THAN else number < value)
    if op in (Op.EQUALS, Op.NOT_EQUALS):
        # Containment narrows by the GIN index; the equality keeps the meaning (containment
        # alone would let a list hold more than the value).
        equal = and_(t.c.custom_fields.op("@>")(_json({key: value})), _false_if_null(raw == _json(value)))
        return equal if op is Op.EQUALS else not_(equal)
    inside = _false_if_null(raw.in_([_json(item) for item in value]))
    return inside if op is Op.IN else not_(inside)


def condition_sql(c: Condition) -> ColumnElement[bool]:
    """The condition as a WHERE clause on tickets (null-safe: what
    `holds` says of a ticket with no value, this says too)."""
    op, value = c.operator, c.value
    if c.field.startswith("customFields."):
        return _custom(c)
    if c.field == "tags":
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            is_set = func.cardinality(t.c.tags) > 0
            return is_set if op is Op.IS_SET else not_(is_set)
        has = t.c.tags.contains([value])
        return has if op is Op.CONTAINS else not_(has)
    if c.field == "customer.tier":
        return t.c.customer_id.in_(select(cu.c.id).where(_column_sql(cu.c.tier, op, value)))
    return _column_sql(_COLUMNS[c.field], op, value)


def _column_sql(column: Any, op: Op, value: Any) -> ColumnElement[bool]:
    if op in (Op.IS_SET, Op.IS_NOT_SET):
        is_set = (
            _false_if_null(and_(column.isnot(None), column != ""))
            if column.type.python_type is str
            else column.isnot(None)
        )
        return is_set if op is Op.IS_SET else not_(is_set)
    if op in (Op.CONTAINS, Op.NOT_CONTAINS):
        # LIKE, not strpos: a trigram index can answer it. Never NULL, so NOT keeps its meaning.
        found = and_(column.isnot(None), func.lower(column).contains(value, autoescape=True))
        return found if op is Op.CONTAINS else not_(found)
    if op in (Op.GREATER_THAN, Op.LESS_THAN):
        rank, bound = t.c.priority_rank, TicketPriority(value).rank
        return rank > bound if op is Op.GREATER_THAN else rank < bound
    if op is Op.EQUALS:
        return and_(column.isnot(None), column == value)
    if op is Op.NOT_EQUALS:
        return column.is_distinct_from(value)
    inside = and_(column.isnot(None), column.in_(list(value)))
    return inside if op is Op.IN else not_(inside)


async def matching_open_tickets(
    conn: AsyncConnection, conditions: Sequence[Condition], sample: int
) -> tuple[int, list[TicketRecord]]:
    """How many open tickets meet every condition now, and the newest `sample` of them."""
    # The IN list of ix_tickets_open_facts' predicate, as literals: a prepared statement's generic
    # plan could not prove that parameters imply it.
    open_now: BindParameter[list[str]] = bindparam(
        "open_statuses", sorted(s.value for s in OPEN_STATUSES), expanding=True, literal_execute=True
    )
    where = and_(t.c.status.in_(open_now), *[condition_sql(c) for c in conditions])
    newest = to_records(
        TicketRecord, await conn.execute(select(*TICKET_COLUMNS).where(where).order_by(t.c.id.desc()).limit(sample))
    )
    # A sample that is not full holds every match: rare conditions cost one pass, not two.
    if len(newest) < sample:
        return len(newest), newest
    return int(await conn.scalar(select(func.count()).select_from(t).where(where)) or 0), newest
