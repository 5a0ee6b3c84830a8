"""A whole page of tickets as the response JSON, written by PostgreSQL in one statement.

For a compiled `tickets(...)` whose nodes PostgreSQL writes (app/reads/node_json.py) and whose
connection selects only `totalCount`, `pageInfo`, `edges { cursor node }` and `__typename`, the
page's keyset statement writes the connection itself too, as PostGraphile does: the edges with
their cursors, `pageInfo`, and the count as a subquery of the same statement. Python sends the
text. Cursors are app.domain.ticket_query.TicketPageCursor.encode in SQL (tests/integration/
test_sql_forms.py compares them); everything else is the executor's answer
(tests/api/test_planned_differential.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ARRAY, JSON, Integer, Text, bindparam, cast, false, func, literal_column, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from app.db import tables
from app.db.repositories.tickets import filtered, keyset_page, sort_columns, sort_direction
from app.domain.cursors import CursorKind
from app.domain.enums import TicketOrderField
from app.domain.principal import Viewer
from app.domain.ticket_query import TicketFilter, TicketOrder, TicketPageCursor
from app.reads.node_json import JsonField, Unsupported, base64url, iso_datetime, text_constant

# What a connection, its pageInfo and its edges may select on this path.
CONNECTION_FIELDS = frozenset({"__typename", "totalCount", "pageInfo", "edges"})
PAGE_INFO_FIELDS = frozenset({"__typename", "hasNextPage", "hasPreviousPage", "startCursor", "endCursor"})
EDGE_FIELDS = frozenset({"__typename", "cursor", "node"})


def check_shape(selection: Sequence[JsonField]) -> None:
    """Unsupported unless this path writes the whole selection of the connection."""
    for f in selection:
        if f.name not in CONNECTION_FIELDS:
            raise Unsupported(f.name)
        allowed = {"pageInfo": PAGE_INFO_FIELDS, "edges": EDGE_FIELDS}.get(f.name)
        if allowed is None:
            continue
        if not f.children or any(c.name not in allowed or c.children for c in f.children):
            raise Unsupported(f.name)


def cursor_sql(order: TicketOrder, sort: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """TicketPageCursor(order, key).encode() of a row whose sort key is `sort`: base64url of
    `tk1:` and the compact JSON list [field, direction, key...], timestamps tagged {"t": iso}."""
    text = text_constant(f'{CursorKind.TICKETS.tag}:["{order.field.value}","{order.direction.value}"')
    timed = _TIMED[order.field]
    for i, column in enumerate(sort):
        if i in timed:
            text = text + text_constant(',{"t":"') + iso_datetime(column) + text_constant('"}')
        else:
            text = text + text_constant(",") + cast(column, Text)
    return base64url(text + text_constant("]"))


# The positions of the sort key that are timestamps (app.domain.ticket_query.KEY_SHAPES).
_TIMED: dict[TicketOrderField, frozenset[int]] = {
    TicketOrderField.CREATED_AT: frozenset({0}),
    TicketOrderField.UPDATED_AT: frozenset({0}),
    TicketOrderField.PRIORITY: frozenset({1}),
    TicketOrderField.NUMBER: frozenset(),
    TicketOrderField.SLA_DUE_AT: frozenset({1}),
}


async def ticket_page_json(
    conn: AsyncConnection,
    node: ColumnElement[Any],
    selection: Sequence[JsonField],
    principal: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: TicketPageCursor | None,
) -> str:
    """The connection's JSON text, with `node` (node_json(..., as_text=False)) as each edge's node."""
    columns = [node.label("node"), _cursor_text(order).label("cursor")]
    page = keyset_page(columns, principal, f, order, first, after)
    if page is None:  # a cursor of another order's shape: an empty page, as the ordinary path has it
        page = keyset_page(columns, principal, f, order, first, None)
        assert page is not None
        page = page.where(false())
    rows = page.subquery("page")
    direction = sort_direction(order)
    # The page's rows numbered in page order (by the sort key the page selected after its columns),
    # with the page size beside them, so everything above refers to columns (and is constant text).
    ranked = select(
        rows.c.node,
        rows.c.cursor,
        func.row_number().over(order_by=[direction(c) for c in list(rows.c)[2:]]).label("rn"),
        bindparam("first", first, type_=Integer).label("lim"),
    ).subquery(_RANKED.name)
    arguments: list[Any] = []
    for field in selection:
        if field.name == "totalCount":
            value: ColumnElement[Any] = filtered(
                select(func.count()).select_from(tables.tickets), principal, f
            ).scalar_subquery()
        else:
            value = _connection_text(field, after is not None)
        arguments += [text_constant(field.key), value]
    statement = select(cast(func.json_build_object(*arguments), Text)).select_from(ranked)
    text: str = (await conn.execute(statement)).scalar_one()
    return text


_DIALECT = postgresql.asyncpg.dialect()


def _rendered(expression: ColumnElement[Any], type_: Any) -> ColumnElement[Any]:
    """The expression as constant SQL text: built and rendered once, not on every request (it
    has no parameters)."""
    sql = str(expression.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))
    return literal_column(f"({sql})", type_)


@functools.cache
def _cursor_text(order: TicketOrder) -> ColumnElement[Any]:
    return _rendered(cursor_sql(order, sort_columns(order)), Text)


# Column names of the numbered page that the constant parts refer to.
_RANKED = select(
    literal_column("NULL", JSON).label("node"),
    literal_column("NULL", Text).label("cursor"),
    literal_column("NULL", Integer).label("rn"),
    literal_column("NULL", Integer).label("lim"),
).subquery("ranked")


@functools.lru_cache(maxsize=256)
def _connection_text(field: JsonField, has_previous: bool) -> ColumnElement[Any]:
    """A field of the connection other than totalCount, over the numbered page: `lim` rows and,
    if there is one, the next."""
    ranked = _RANKED
    in_page = ranked.c.rn <= ranked.c.lim
    cursors = func.array_agg(aggregate_order_by(ranked.c.cursor, ranked.c.rn), type_=ARRAY(Text)).filter(in_page)

    def page_info(name: str) -> ColumnElement[Any]:
        match name:
            case "__typename":
                return text_constant("PageInfo")
            case "hasNextPage":
                # No rows: no limit either, and no next page.
                return func.count() > func.coalesce(func.max(ranked.c.lim), 0)
            case "hasPreviousPage":
                return true() if has_previous else false()
            case "startCursor":
                return cursors[1]
            case "endCursor":
                return cursors[func.least(func.count(), func.max(ranked.c.lim))]
        raise Unsupported(name)

    def edge(name: str) -> ColumnElement[Any]:
        match name:
            case "__typename":
                return text_constant("TicketEdge")
            case "cursor":
                return ranked.c.cursor
            case "node":
                return ranked.c.node
        raise Unsupported(name)

    if field.name == "__typename":
        return text_constant("TicketConnection")
    if field.name == "pageInfo":
        return _rendered(_object((c.key, page_info(c.name)) for c in field.children), JSON)
    edges = func.json_agg(aggregate_order_by(_object((c.key, edge(c.name)) for c in field.children), ranked.c.rn))
    return _rendered(func.coalesce(edges.filter(in_page), literal_column("'[]'::json")), JSON)


def _object(pairs: Iterable[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    arguments: list[Any] = []
    for key, value in pairs:
        arguments += [text_constant(key), value]
    return func.json_build_object(*arguments)


__all__ = ["check_shape", "cursor_sql", "ticket_page_json"]
