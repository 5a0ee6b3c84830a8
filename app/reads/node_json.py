"""Objects as JSON written by PostgreSQL, for compiled plans.

Field by field, a 50-ticket page costs more Python than SQL: objects built per ticket and per
relation, enums converted and serialised, a statement per relation. For a selection whose fields
have SQL forms (app/reads/declarations.py, read off each field's declaration by resolvers/
compiled.py) this module builds one SQL expression that yields each node's JSON text exactly as
the executor would write it (global ids, ISO-8601 DateTimes, enum names), with related rows and
the named forms below as correlated subqueries of the page's own statement.

A selection is a tuple of `JsonField`s; a shape this module cannot write raises `Unsupported` when
the plan is compiled, and that field stays with Python. tests/api/test_ticket_json.py and tests/
api/test_planned_differential.py compare both paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, case, cast, false, func, literal_column, null, or_, select
from sqlalchemy.dialects import postgresql

from app.db import tables
from app.domain.enums import SlaTarget, TicketStatus

t, sc = tables.tickets, tables.sla_clocks

_DIALECT = postgresql.asyncpg.dialect()
_NEWLINE = "\n"
# json_build_object takes at most 100 arguments (PostgreSQL's FUNC_MAX_ARGS): 50 keys.
_MAX_KEYS = 50


class Unsupported(Exception):
    """The selection names something this module does not build."""


@dataclass(frozen=True, slots=True)
class JsonField:
    """One key of an object's JSON and how its value is written.

    kind: "typename" (the constant `type_name`), "value" (the column as it is), "datetime" (the
    column as ISO-8601), "global_id" (`type_name`'s global id of the column), "row" (the object
    of `table`'s row whose id is the column, with `children`), "form" (the named form `form` of
    the parent row, with `children`), "object" (an object inside a named form)."""

    key: str  # the response key (the alias, if any)
    name: str  # the GraphQL field name
    kind: str
    column: str | None = None
    type_name: str | None = None
    table: str | None = None
    form: str | None = None
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


_CLOCK_FIELDS = {"firstResponse": SlaTarget.FIRST_RESPONSE, "resolution": SlaTarget.RESOLUTION}


def node_json(table_name: str, selection: Sequence[JsonField]) -> ColumnElement[Any]:
    """The JSON text of an object with this selection, for the row of `table_name` the statement
    selects from.

    Rendered to SQL text once: as an expression tree, SQLAlchemy would walk all of it for a cache
    key on every execution (a tenth of a page's time); as text, the text is the key. It has no
    parameters (constants are written in), so the text is the whole expression."""
    table = tables.metadata.tables[table_name]
    expression = cast(_object(table, selection), Text).label("node")
    sql = str(select(expression).select_from(table).compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))
    prefix, suffix = "SELECT ", f" AS node {_NEWLINE}FROM {table_name}"
    if not (sql.startswith(prefix) and sql.endswith(suffix)):
        raise AssertionError(sql)  # SQLAlchemy changed how it renders; the tests would show it
    return literal_column(sql[len(prefix) : -len(suffix)], Text)


def _object(table: Table, selection: Sequence[JsonField]) -> ColumnElement[Any]:
    if not selection or len(selection) > _MAX_KEYS:
        raise Unsupported(table.name)
    arguments: list[Any] = []
    for f in selection:
        arguments += [_text(f.key), _value(table, f)]
    return func.json_build_object(*arguments)


def _value(table: Table, f: JsonField) -> ColumnElement[Any]:
    if f.kind == "typename":
        assert f.type_name is not None
        return _text(f.type_name)
    if f.kind == "form":
        form = _FORMS.get((table.name, f.form or ""))
        if form is None:
            raise Unsupported(f"{table.name}: {f.form}")
        return form(f.children)
    if f.column is None or f.column not in table.c:
        raise Unsupported(f"{table.name}.{f.name}")
    column = table.c[f.column]
    if f.kind == "value":
        return column
    if f.kind == "datetime":
        return iso_datetime(column)
    if f.kind == "global_id":
        assert f.type_name is not None
        return global_id(f.type_name, column)
    if f.kind == "row" and f.table is not None:
        related = tables.metadata.tables[f.table]
        return select(_object(related, f.children)).where(related.c.id == column).scalar_subquery()
    raise Unsupported(f"{table.name}.{f.name}")


_children = t.alias("children")
_FINISHED = [TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value]


def _sub_ticket_progress(selection: Sequence[JsonField]) -> ColumnElement[Any]:
    """Ticket.subTicketProgress: the ticket's sub-tickets, how many of them are resolved or closed."""
    total = func.count()
    resolved = func.count().filter(_children.c.status.in_([_text(s) for s in _FINISHED]))
    values: dict[str, ColumnElement[Any]] = {"total": total, "resolved": resolved, "open": total - resolved}
    arguments: list[Any] = []
    for f in selection:
        if f.kind == "typename":
            arguments += [_text(f.key), _value(t, f)]
        elif f.name in values and not f.children:
            arguments += [_text(f.key), values[f.name]]
        else:
            raise Unsupported(f"SubTicketProgress.{f.name}")
    if not arguments:
        raise Unsupported("SubTicketProgress")
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
        if f.kind == "typename":
            arguments += [_text(f.key), _value(t, f)]
            continue
        target = _CLOCK_FIELDS.get(f.name)
        if target is None or f.kind != "object":
            raise Unsupported(f"TicketSla.{f.name}")
        clock = case((sc.c.policy_id.is_(None), null()), else_=_object(sc, f.children))
        arguments += [_text(f.key), _latest_clock(target, clock)]
    attached = [
        func.coalesce(_latest_clock(target, sc.c.policy_id.isnot(None)), false()) for target in _CLOCK_FIELDS.values()
    ]
    return case((or_(*attached), func.json_build_object(*arguments)), else_=null())


# Named SQL forms (Loaded(sql=...) declarations), by the table of the row they are written for.
_FORMS: dict[tuple[str, str], Callable[[Sequence[JsonField]], ColumnElement[Any]]] = {
    ("tickets", "sub_ticket_progress"): _sub_ticket_progress,
    ("tickets", "ticket_sla"): _sla,
}

__all__ = ["JsonField", "Unsupported", "global_id", "iso_datetime", "node_json"]
