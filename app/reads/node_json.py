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

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    Table,
    Text,
    case,
    cast,
    false,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.sql.selectable import Subquery

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


def text_constant(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (not a parameter: the statement stays the
    same text for every request, one prepared statement per selection)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def base64url(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """app.domain.cursors.to_base64url of the text's UTF-8 bytes: unpadded, and without the line
    breaks PostgreSQL puts every 76 characters."""
    raw = func.convert_to(text, text_constant("UTF8"))
    return func.rtrim(
        func.translate(func.encode(raw, text_constant("base64")), text_constant("+/\n"), text_constant("-_")),
        text_constant("="),
    )


def global_id(type_name: str, pk: ColumnElement[Any]) -> ColumnElement[Any]:
    """app.domain.global_ids.encode in SQL: base64url of "Type:pk", unpadded."""
    return base64url(text_constant(f"{type_name}:") + cast(pk, Text))


def iso_datetime(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """datetime.isoformat() of an aware UTC datetime: microseconds only when there are some."""
    utc = func.timezone(text_constant("UTC"), column)
    micros = func.to_char(utc, text_constant("US"))
    fraction = case((micros == text_constant("000000"), text_constant("")), else_=text_constant(".") + micros)
    return func.to_char(utc, text_constant('YYYY-MM-DD"T"HH24:MI:SS')) + fraction + text_constant("+00:00")


_CLOCK_FIELDS = {"firstResponse": SlaTarget.FIRST_RESPONSE, "resolution": SlaTarget.RESOLUTION}


def node_json(table_name: str, selection: Sequence[JsonField], *, as_text: bool = True) -> ColumnElement[Any]:
    """The JSON text (as_text) or json value of an object with this selection, for the row of
    `table_name` the statement selects from.

    Rendered to SQL text once: as an expression tree, SQLAlchemy would walk all of it for a cache
    key on every execution (a tenth of a page's time); as text, the text is the key. It has no
    parameters (constants are written in), so the text is the whole expression."""
    table = tables.metadata.tables[table_name]
    value = _object(table, selection)
    expression = (cast(value, Text) if as_text else value).label("node")
    sql = str(select(expression).select_from(table).compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))
    prefix, suffix = "SELECT ", f" AS node {_NEWLINE}FROM {table_name}"
    if not (sql.startswith(prefix) and sql.endswith(suffix)):
        raise AssertionError(sql)  # SQLAlchemy changed how it renders; the tests would show it
    return literal_column(sql[len(prefix) : -len(suffix)], Text if as_text else JSON)


def _object(table: Table | Subquery, selection: Sequence[JsonField]) -> ColumnElement[Any]:
    if not selection or len(selection) > _MAX_KEYS:
        raise Unsupported(table.name)
    arguments: list[Any] = []
    for f in selection:
        arguments += [text_constant(f.key), _value(table, f)]
    return func.json_build_object(*arguments)


def _value(table: Table | Subquery, f: JsonField) -> ColumnElement[Any]:
    if f.kind == "typename":
        assert f.type_name is not None
        return text_constant(f.type_name)
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
    resolved = func.count().filter(_children.c.status.in_([text_constant(s) for s in _FINISHED]))
    values: dict[str, ColumnElement[Any]] = {"total": total, "resolved": resolved, "open": total - resolved}
    arguments: list[Any] = []
    for f in selection:
        if f.kind == "typename":
            arguments += [text_constant(f.key), _value(t, f)]
        elif f.name in values and not f.children:
            arguments += [text_constant(f.key), values[f.name]]
        else:
            raise Unsupported(f"SubTicketProgress.{f.name}")
    if not arguments:
        raise Unsupported("SubTicketProgress")
    return select(func.json_build_object(*arguments)).where(_children.c.parent_id == t.c.id).scalar_subquery()


def _sla(selection: Sequence[JsonField]) -> ColumnElement[Any]:
    """Ticket.sla as app.domain.sla.ticket_sla_view shows it: per target the clock of the highest
    cycle, unless that clock is detached from its policy; no SLA when neither target has one.

    One correlated subquery per ticket: the latest clock of each target (DISTINCT ON), aggregated
    into the object, rather than a subquery per target and per question."""
    if not selection or len(selection) > _MAX_KEYS:
        raise Unsupported("TicketSla")
    targets = [text_constant(target.value) for target in _CLOCK_FIELDS.values()]
    latest = (
        select(sc)
        .where(sc.c.ticket_id == t.c.id, sc.c.target.in_(targets))
        .ext(distinct_on(sc.c.target))
        .order_by(sc.c.target, sc.c.cycle.desc())
        .correlate(t)
        .subquery("latest")
    )
    arguments: list[Any] = []
    for f in selection:
        if f.kind == "typename":
            arguments += [text_constant(f.key), _value(t, f)]
            continue
        target = _CLOCK_FIELDS.get(f.name)
        if target is None or f.kind != "object":
            raise Unsupported(f"TicketSla.{f.name}")
        clock = case((latest.c.policy_id.is_(None), null()), else_=_object(latest, f.children))
        of_target = func.array_agg(clock, type_=ARRAY(JSON)).filter(latest.c.target == text_constant(target.value))
        arguments += [text_constant(f.key), of_target[1]]
    attached = func.coalesce(func.bool_or(latest.c.policy_id.isnot(None)), false())
    return select(case((attached, func.json_build_object(*arguments)), else_=null())).scalar_subquery()


# Named SQL forms (Loaded(sql=...) declarations), by the table of the row they are written for.
_FORMS: dict[tuple[str, str], Callable[[Sequence[JsonField]], ColumnElement[Any]]] = {
    ("tickets", "sub_ticket_progress"): _sub_ticket_progress,
    ("tickets", "ticket_sla"): _sla,
}

__all__ = ["JsonField", "Unsupported", "base64url", "global_id", "iso_datetime", "node_json", "text_constant"]
