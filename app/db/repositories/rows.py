"""Selecting exactly a record's fields and building records from rows, positionally."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table

R = TypeVar("R")


def columns_for(table: Table, record: type[Any]) -> list[ColumnElement[Any]]:
    return [table.c[f.name] for f in fields(record)]


def to_records(record: type[R], rows: Iterable[Sequence[Any]]) -> list[R]:
    return [record(*row) for row in rows]


def by_id(records: Iterable[R]) -> dict[int, R]:
    return {r.id: r for r in records}  # type: ignore[attr-defined]
