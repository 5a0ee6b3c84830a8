"""Selecting exactly a record's fields and building records from rows, positionally."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

R = TypeVar("R")


def columns_for(table: Table, record: type[Any]) -> list[ColumnElement[Any]]:
    return [table.c[f.name] for f in fields(record)]


def to_records(record: type[R], rows: Iterable[Sequence[Any]]) -> list[R]:
    return [record(*row) for row in rows]


def by_id(records: Iterable[R]) -> dict[int, R]:
    return {r.id: r for r in records}  # type: ignore[attr-defined]


def among(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY($1)`: one prepared statement for any number of values (an IN list is a new
    statement, parsed and planned again, for every length a batch happens to have)."""
    return column == any_(bindparam(None, list(values), type_=_array_of(column)))


@cache
def _array_of(column: ColumnElement[Any]) -> ARRAY[Any]:
    return ARRAY(column.type)


def any_of_ids(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """`column = ANY(:ids)` for statements built once at import and run with {"ids": [...]}: no
    statement to construct per call (a fifth of a small lookup's cost otherwise)."""
    return column == any_(bindparam("ids", type_=ARRAY(column.type)))
