"""Fields declared once: the Strawberry side of app/reads/declarations.py.

`loaded(...)` makes a field from its declaration: the resolver the ordinary executor calls, and the
declaration the compiled planner reads (its batch form and its SQL form). `from_record` builds a
record type's object from its record: every field without a resolver is the record's attribute of
that name, an enum, a global id or JSON as the field's type says. So a new column field is one
annotated line in the class, served by the ordinary executor, by compiled plans and by
PostgreSQL-written JSON, and covered by the generated differential test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private

from app.reads.declarations import READS, RECORD_TYPE, WRAP, Column, Computed, Loaded, RecordType
from schema import ids

T = TypeVar("T")
C = TypeVar("C", bound=type)

_READERS = "__helpdesk_readers__"


def record_type(table: str, *, node: bool = True) -> Callable[[C], C]:
    """Declare a Strawberry type as the row of `table` (apply above @strawberry.type)."""

    def declare(cls: C) -> C:
        setattr(cls, RECORD_TYPE, RecordType(table, node))
        return cls

    return declare


def computed(why: str) -> dict[str, Any]:
    """The metadata of a resolver field with no SQL form: `@strawberry.field(metadata=computed(...))`."""
    return {READS: Computed(why)}


def column(name: str, *, description: str | None = None) -> Any:
    """A field read from the column `name` when that is not the field's own name."""
    return strawberry.field(description=description, metadata={READS: Column(name)})


def loaded(
    loader: str, key: str, wrap: Callable[[Any], Any], *, sql: str | None = "row", description: str | None = None
) -> Any:
    """A field whose value the request's `loader` loads by the parent record's `key` column, made
    into the field's value by `wrap`; null when the key is null or nothing is found."""
    read_key = attrgetter(key)

    async def resolve(root: Any, info: strawberry.Info) -> Any:
        value = read_key(root.record)
        if value is None:
            return None
        found = await getattr(info.context.loaders, loader).load(value)
        return None if found is None else wrap(found)

    return strawberry.field(
        resolver=resolve, description=description, metadata={READS: Loaded(loader, key, sql), WRAP: wrap}
    )


def declaration_of(field: StrawberryField) -> Column | Loaded | Computed | None:
    """What the field declares about its reads (None: a plain attribute of its object)."""
    metadata: Mapping[str, Any] = field.metadata or {}
    found: Column | Loaded | Computed | None = metadata.get(READS)
    return found


def record_type_of(cls: Any) -> RecordType | None:
    namespace: dict[str, Any] = getattr(cls, "__dict__", {})
    found: RecordType | None = namespace.get(RECORD_TYPE)
    return found


def from_record(cls: type[T], record: Any) -> T:
    """An object of a record type: `record` kept as its `record`, and every field without a
    resolver read from the record."""
    readers: list[tuple[str, Callable[[Any], Any]]] | None = cls.__dict__.get(_READERS)
    if readers is None:
        readers = _readers(cls)
        setattr(cls, _READERS, readers)
    made = cls.__new__(cls)
    values = made.__dict__
    values["record"] = record
    for name, read in readers:
        values[name] = read(record)
    return made


def _readers(cls: type) -> list[tuple[str, Callable[[Any], Any]]]:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    if record_type_of(cls) is None:
        raise TypeError(f"{cls.__name__} is not declared a record type")
    readers = []
    for f in definition.fields:
        if f.base_resolver is None and not is_private(f.type):
            readers.append((f.python_name, _reader(definition.name, f)))
    return readers


def _reader(type_name: str, f: StrawberryField) -> Callable[[Any], Any]:
    declared = declaration_of(f)
    name = declared.name if isinstance(declared, Column) else f.python_name
    if declared is not None and not isinstance(declared, Column):
        raise TypeError(f"{type_name}.{f.python_name}: only a Column declaration reads without a resolver")
    read = attrgetter(name)
    type_ = f.type
    optional = isinstance(type_, StrawberryOptional)
    if optional:
        type_ = type_.of_type  # type: ignore[union-attr]
    if name == "id" and type_ is strawberry.ID:
        return lambda r: ids.encode(type_name, r.id)
    if isinstance(type_, StrawberryEnumDefinition):
        enum = type_.wrapped_cls
        if optional:
            return lambda r: None if (v := read(r)) is None else enum(v)
        return lambda r: enum(read(r))
    if type_ is JSON:
        return lambda r: JSON(read(r))
    if isinstance(type_, StrawberryList) and isinstance(type_.of_type, StrawberryEnumDefinition):
        raise TypeError(f"{type_name}.{f.python_name}: a list of enums needs a resolver")
    return read


__all__ = ["column", "computed", "declaration_of", "from_record", "loaded", "record_type", "record_type_of"]
