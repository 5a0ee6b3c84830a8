"""A ticket list's nodes as JSON built by PostgreSQL, for compiled plans.

Field by field, a 50-ticket page costs more Python than SQL: objects built per ticket and per
relation, enums converted and serialised, a statement per relation. For a known selection of
plain fields this module builds one SQL expression that yields each node's JSON text exactly as
the executor would write it (global ids, ISO-8601 DateTimes, enum names), with the customer,
assignee, group and SLA clocks as correlated subqueries of the page's own statement.

A selection is described by `JsonField`s; anything not in the vocabulary below raises
`Unsupported` when the plan is compiled, and that document keeps the ordinary compiled path.
tests/api/test_ticket_json.py compares both paths on varied data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, case, cast, false, func, literal_column, null, or_, select
from sqlalchemy.dialects import postgresql

from app.db import tables
from app.domain.enums import SlaTarget, TicketStatus

t, cu, ag, gr, sc = tables.tickets, tables.customers, tables.agents, tables.groups, tables.sla_clocks

_DIALECT = postgresql.asyncpg.dialect()
_NEWLINE = "\n"
# json_build_object takes at most 100 arguments (PostgreSQL's FUNC_MAX_ARGS): 50 keys.
_MAX_KEYS = 50


class Unsupported(Exception):
    """The selection names something this module does not build."""


@dataclass(frozen=True, slots=True)
class JsonField:
    key: str  # the response key (the alias, if any)
    name: str  # the GraphQL field name, or __typename
    children: tuple[JsonField, ...] = ()


def _text(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (not a parameter: the statement stays the
    same text for every request, one prepared statement per selection)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def global_id(type_name: str, pk: ColumnElement[Any]) -> ColumnElement[Any]:
    """app.domain.global_ids.encode in SQL: base64url of "Type:pk", unpadded."""
    raw = func.convert_to(_text(f"{type_name}:") + cast(pk, Text), _text("UTF8"))
    return func.rtrim(func.translate(func.encode(raw, _text("base64")), _text("+/"), _text("-_")), _text("="))


def iso_datetime(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """datetime.isoformat() of an aware UTC datetime: microseconds only when there are some."""
    utc = func.timezone(_text("UTC"), column)
    micros = func.to_char(utc, _text("US"))
    fraction = case((micros == _text("000000"), _text("")), else_=_text(".") + micros)
    return func.to_char(utc, _text('YYYY-MM-DD"T"HH24:MI:SS')) + fraction + _text("+00:00")


Leaf = Callable[[Table], ColumnElement[Any]]


def _column(name: str) -> Leaf:
    return lambda table: table.c[name]


def _datetime(name: str) -> Leaf:
    return lambda table: iso_datetime(table.c[name])


def _id(type_name: str) -> Leaf:
    return lambda table: global_id(type_name, table.c.id)


# Per GraphQL type: its name, its table and the leaf fields read straight from that table's row.
# Enum columns hold the enum's GraphQL name (the tables' CHECK constraints; the compiler checks
# that every enum it lets through has values equal to names).
_LEAVES: dict[str, dict[str, Leaf]] = {
    "Ticket": {
        "id": _id("Ticket"),
        "number": _column("number"),
        "subject": _column("subject"),
        "description": _column("description"),
        "status": _column("status"),
        "priority": _column("priority"),
        "channel": _column("channel"),
        "category": _column("category"),
        "tags": _column("tags"),
        "externalRef": _column("external_ref"),
        "language": _column("language"),
        "sentiment": _column("sentiment"),
        "escalationLevel": _column("escalation_level"),
        "version": _column("version"),
        "createdAt": _datetime("created_at"),
        "updatedAt": _datetime("updated_at"),
        "firstRespondedAt": _datetime("first_responded_at"),
        "resolvedAt": _datetime("resolved_at"),
        "closedAt": _datetime("closed_at"),
    },
    "Customer": {
        "id": _id("Customer"),
        "name": _column("name"),
        "email": _column("email"),
        "phone": _column("phone"),
        "company": _column("company"),
        "tier": _column("tier"),
        "language": _column("language"),
        "tags": _column("tags"),
        "createdAt": _datetime("created_at"),
    },
    "Agent": {
        "id": _id("Agent"),
        "name": _column("name"),
        "email": _column("email"),
        "role": _column("role"),
        "presence": _column("presence"),
        "onVacation": _column("on_vacation"),
        "skills": _column("skills"),
        "languages": _column("languages"),
        "capacity": _column("capacity"),
    },
    "Group": {
        "id": _id("Group"),
        "name": _column("name"),
        "description": _column("description"),
        "assignmentStrategy": _column("assignment_strategy"),
    },
    "SlaClock": {
        "target": _column("target"),
        "state": _column("state"),
        "dueAt": _datetime("due_at"),
        "warnedAt": _datetime("warned_at"),
        "breachedAt": _datetime("breached_at"),
        "metAt": _datetime("met_at"),
    },
}

# Ticket's relations: the related table and the ticket column that points at its row.
_RELATIONS: dict[str, tuple[str, Table, ColumnElement[Any]]] = {
    "customer": ("Customer", cu, t.c.customer_id),
    "assignee": ("Agent", ag, t.c.assignee_id),
    "group": ("Group", gr, t.c.group_id),
}

_CLOCK_FIELDS = {"firstResponse": SlaTarget.FIRST_RESPONSE, "resolution": SlaTarget.RESOLUTION}


def ticket_node_json(selection: Sequence[JsonField]) -> ColumnElement[Any]:
    """The JSON text of a ticket node with this selection, for the tickets row `t`.

    Rendered to SQL text once: as an expression tree, SQLAlchemy would walk all of it for a cache
    key on every execution (a tenth of a page's time); as text, the text is the key. It has no
    parameters (constants are written in), so the text is the whole expression."""
    expression = cast(_object("Ticket", t, selection), Text).label("node")
    sql = str(select(expression).select_from(t).compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))
    prefix, suffix = "SELECT ", f" AS node {_NEWLINE}FROM tickets"
    if not (sql.startswith(prefix) and sql.endswith(suffix)):
        raise AssertionError(sql)  # SQLAlchemy changed how it renders; the tests would show it
    return literal_column(sql[len(prefix) : -len(suffix)], Text)


def _object(type_name: str, table: Table, selection: Sequence[JsonField]) -> ColumnElement[Any]:
    if not selection or len(selection) > _MAX_KEYS:
        raise Unsupported(type_name)
    arguments: list[Any] = []
    for f in selection:
        arguments += [_text(f.key), _value(type_name, table, f)]
    return func.json_build_object(*arguments)


def _value(type_name: str, table: Table, f: JsonField) -> ColumnElement[Any]:
    if f.name == "__typename":
        return _text(type_name)
    if type_name == "Ticket" and f.name in _RELATIONS:
        related_type, related, pointer = _RELATIONS[f.name]
        node = _object(related_type, related, f.children)
        return select(node).where(related.c.id == pointer).scalar_subquery()
    if type_name == "Ticket" and f.name == "sla":
        return _sla(f.children)
    if type_name == "Ticket" and f.name == "subTicketProgress":
        return _sub_ticket_progress(f.children)
    leaf = _LEAVES.get(type_name, {}).get(f.name)
    if leaf is None or f.children:
        raise Unsupported(f"{type_name}.{f.name}")
    return leaf(table)


_children = t.alias("children")
_FINISHED = [TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value]


def _sub_ticket_progress(selection: Sequence[JsonField]) -> ColumnElement[Any]:
    """Ticket.subTicketProgress: the ticket's sub-tickets, how many of them are resolved or closed."""
    total = func.count()
    resolved = func.count().filter(_children.c.status.in_([_text(s) for s in _FINISHED]))
    values: dict[str, ColumnElement[Any]] = {
        "__typename": _text("SubTicketProgress"),
        "total": total,
        "resolved": resolved,
        "open": total - resolved,
    }
    if not selection or any(f.name not in values or f.children for f in selection):
        raise Unsupported("SubTicketProgress")
    arguments: list[Any] = []
    for f in selection:
        arguments += [_text(f.key), values[f.name]]
    return select(func.json_build_object(*arguments)).where(_children.c.parent_id == t.c.id).scalar_subquery()


def _latest_clock(target: SlaTarget, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """`value` of the ticket's clock of the highest cycle for target (null when there is none)."""
    return (
        select(value)
        .where(sc.c.ticket_id == t.c.id, sc.c.target == _text(target.value))
        .order_by(sc.c.cycle.desc())
        .limit(1)
        .scalar_subquery()
    )


def _sla(selection: Sequence[JsonField]) -> ColumnElement[Any]:
    """Ticket.sla as app.domain.sla.ticket_sla_view shows it: per target the clock of the highest
    cycle, unless that clock is detached from its policy; no SLA when neither target has one."""
    if not selection or len(selection) > _MAX_KEYS:
        raise Unsupported("TicketSla")
    arguments: list[Any] = []
    for f in selection:
        if f.name == "__typename":
            arguments += [_text(f.key), _text("TicketSla")]
            continue
        target = _CLOCK_FIELDS.get(f.name)
        if target is None:
            raise Unsupported(f"TicketSla.{f.name}")
        clock = case((sc.c.policy_id.is_(None), null()), else_=_object("SlaClock", sc, f.children))
        arguments += [_text(f.key), _latest_clock(target, clock)]
    attached = [
        func.coalesce(_latest_clock(target, sc.c.policy_id.isnot(None)), false()) for target in _CLOCK_FIELDS.values()
    ]
    return case((or_(*attached), func.json_build_object(*arguments)), else_=null())


__all__ = ["JsonField", "Unsupported", "global_id", "iso_datetime", "ticket_node_json"]
