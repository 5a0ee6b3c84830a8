"""How an object field reads its data, declared once on the field.

schema/fields.py attaches one of these to each Strawberry field (its `metadata`) and derives the
field's resolver from it; resolvers/compiled.py derives the batched form for a whole level of
parents from the same declaration, and app/reads/node_json.py the SQL that writes the field as
JSON. Adding a field, or changing how one is read, is one edit: the declaration.

- A field of a `RecordType` with no resolver reads its record's attribute of the same name, which
  is its table's column of that name (`Column` renames it).
- `Loaded`: a DataLoader keyed by a column of the parent's record; its SQL form is the target
  type's row (`sql="row"`) or a named form of app/reads/node_json.py.
- `Computed`: a resolver with no SQL form (calendar arithmetic, per-caller filtering). The planner
  resolves such a field in Python and has PostgreSQL write the rest of the object.
"""

from __future__ import annotations

from dataclasses import dataclass

# The key of a Strawberry field's metadata that holds its declaration.
READS = "helpdesk.reads"
# The key of a Strawberry field's metadata that holds how a loaded record becomes the field's value.
WRAP = "helpdesk.wrap"
# The class attribute of a Strawberry type that holds its RecordType.
RECORD_TYPE = "__helpdesk_record_type__"


@dataclass(frozen=True, slots=True)
class RecordType:
    """A GraphQL object type whose fields without a resolver are the columns of one table's row."""

    table: str
    # Global ids of this type encode the row's primary key `id` (False: the type has no id field).
    node: bool = True


@dataclass(frozen=True, slots=True)
class Column:
    """A field read from a column (and record attribute) not named like the field."""

    name: str


@dataclass(frozen=True, slots=True)
class Loaded:
    """A field loaded by `loader` (an attribute of the request's loaders) with the value of the
    parent record's `key` column; a null key makes the field null."""

    loader: str
    key: str
    # "row": the target type's row whose id is the key; otherwise a form in app/reads/node_json.py;
    # None: no SQL form (the loader applies a rule SQL would have to restate, like visibility).
    sql: str | None = "row"


@dataclass(frozen=True, slots=True)
class Computed:
    """A resolver with no SQL form."""

    why: str


Declaration = Column | Loaded | Computed

__all__ = ["READS", "RECORD_TYPE", "WRAP", "Column", "Computed", "Declaration", "Loaded", "RecordType"]
