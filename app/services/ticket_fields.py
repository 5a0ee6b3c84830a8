"""Defined custom fields: administering definitions (admins) and checking tickets against them.

`checked_custom_fields` is the one check every intake path calls (createTicket, createSubTicket,
updateTicket, and the web form to come); `require_fields_for_status` is called by the one place
status changes go through (app.services.lifecycle.change_status).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, may_read_agent_only_fields, require
from app.db import tables
from app.db.repositories.ticket_fields import DEFINITION_COLUMNS, definitions
from app.domain import validation as v
from app.domain.errors import Duplicate, NotFound, PreconditionFailed
from app.domain.principal import Principal, Viewer
from app.domain.ticket_fields import (
    FieldDefinition,
    FieldDefinitionInput,
    check_values,
    clean_definition,
    missing_for_status,
)
from app.services.runtime import Runtime

f = tables.ticket_field_definitions


async def definitions_for(rt: Runtime, viewer: Viewer | None) -> list[FieldDefinition]:
    """What Query.ticketFields shows this caller: every definition to agents; to anonymous callers
    (the web form) and customer sessions, the visibleToCustomer ones, the fields they may fill."""
    async with rt.reader.connect() as conn:
        return await definitions(conn, customer_facing=not may_read_agent_only_fields(viewer))


async def definition_by_id(rt: Runtime, field_id: int) -> FieldDefinition | None:
    async with rt.reader.connect() as conn:
        row = (await conn.execute(select(*DEFINITION_COLUMNS).where(f.c.id == field_id))).first()
    return FieldDefinition(*row) if row else None


async def checked_custom_fields(
    conn: AsyncConnection,
    values: Mapping[str, Any],
    category: str | None,
    *,
    creating: bool,
    customer_facing: bool = False,
    path: Sequence[str] = ("input", "customFields"),
    defined: Sequence[FieldDefinition] | None = None,
) -> dict[str, Any]:
    """The values to store, or INVALID_INPUT at path + [key] for each problem: a key no
    definition names (once any field is defined), a value that does not fit its type, and on
    creation a requiredOnCreate field of the ticket's category left empty. With no definitions
    any JSON object passes (version 1). A customer-facing form sees only visibleToCustomer fields.
    `defined`: the definitions to check against, when the caller has them (intake's cached
    configuration); else they are read."""
    problems = v.Problems()
    if defined is None:
        defined = await definitions(conn, customer_facing=customer_facing)
    cleaned = check_values(problems, defined, values, category, path, creating=creating)
    problems.raise_if_any()
    return cleaned


async def require_fields_for_status(
    conn: AsyncConnection, values: Mapping[str, Any], category: str | None, target: str
) -> None:
    """PRECONDITION_FAILED naming every field the ticket must hold before it moves to `target`."""
    missing = missing_for_status(await definitions(conn), values, category, target)
    if missing:
        names = ", ".join(f"{d.label} ({d.key})" for d in missing)
        raise PreconditionFailed(f"fill in before {target}: {names}", ["customFields", missing[0].key])


async def create_field(rt: Runtime, principal: Principal, data: FieldDefinitionInput) -> FieldDefinition:
    """A new definition; without a position it goes after the last one. A key already defined is DUPLICATE."""
    require(principal, Action.MANAGE_TICKET_FIELDS)
    values = clean_definition(data)
    now = rt.clock.now()
    try:
        async with rt.transaction() as tx:
            position = data.position
            if position is None:
                position = (await tx.conn.execute(select(func.coalesce(func.max(f.c.position), 0) + 10))).scalar_one()
            row = (
                await tx.conn.execute(
                    insert(f)
                    .values(**values, position=position, created_at=now, updated_at=now)
                    .returning(*DEFINITION_COLUMNS)
                )
            ).one()
    except IntegrityError as error:
        raise _duplicate(error) from error
    return FieldDefinition(*row)


async def update_field(rt: Runtime, principal: Principal, field_id: int, data: FieldDefinitionInput) -> FieldDefinition:
    """Replaces the definition (the input is the whole field). Values already stored are not
    rewritten: they are checked again when a ticket's customFields next change."""
    require(principal, Action.MANAGE_TICKET_FIELDS)
    values = clean_definition(data)
    if data.position is not None:
        values["position"] = data.position
    try:
        async with rt.transaction() as tx:
            row = (
                await tx.conn.execute(
                    update(f)
                    .where(f.c.id == field_id)
                    .values(**values, updated_at=rt.clock.now())
                    .returning(*DEFINITION_COLUMNS)
                )
            ).first()
            if row is None:
                raise NotFound("no such ticket field", ["id"])
    except IntegrityError as error:
        raise _duplicate(error) from error
    return FieldDefinition(*row)


async def delete_field(rt: Runtime, principal: Principal, field_id: int) -> int:
    """Removes the definition; tickets keep the values they hold."""
    require(principal, Action.MANAGE_TICKET_FIELDS)
    async with rt.transaction() as tx:
        deleted = (await tx.conn.execute(delete(f).where(f.c.id == field_id).returning(f.c.id))).first()
        if deleted is None:
            raise NotFound("no such ticket field", ["id"])
    return field_id


def _duplicate(error: IntegrityError) -> Exception:
    if "uq_ticket_field_definitions_key" in str(error.orig):
        return Duplicate("a field with this key is already defined", ["input", "key"])
    return error
