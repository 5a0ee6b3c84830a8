"""Customers: created by agents or found-or-created on intake by email or phone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.people import customer_by_contact, customers_by_ids
from app.db.repositories.rows import columns_for
from app.domain import validation as v
from app.domain.enums import CustomerTier
from app.domain.errors import Duplicate, InvalidInput, NotFound, PreconditionFailed
from app.domain.principal import Principal
from app.domain.records import CustomerRecord
from app.services import sla
from app.services.runtime import Runtime

cu = tables.customers
_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class CustomerInput:
    """Fields left as _UNSET are not changed on update."""

    name: Any = _UNSET
    email: Any = _UNSET
    phone: Any = _UNSET
    company: Any = _UNSET
    tier: Any = _UNSET
    language: Any = _UNSET
    tags: Any = _UNSET
    external_refs: Any = _UNSET


UNSET = _UNSET


def _clean(data: CustomerInput, *, creating: bool) -> dict[str, Any]:
    problems = v.Problems()
    values: dict[str, Any] = {}
    if data.name is not _UNSET or creating:
        if data.name is None and not creating:
            problems.add("must not be empty", ["input", "name"])
        else:
            values["name"] = v.required_text(problems, data.name, ["input", "name"], 200)
    if data.email is not _UNSET:
        values["email"] = v.email(problems, data.email, ["input", "email"])
    if data.phone is not _UNSET:
        values["phone"] = v.phone(problems, data.phone, ["input", "phone"])
    if data.company is not _UNSET:
        values["company"] = v.optional_text(problems, data.company, ["input", "company"], 200)
    if data.tier is not _UNSET:
        if data.tier is None:
            problems.add("must not be null", ["input", "tier"])
        else:
            values["tier"] = CustomerTier(data.tier).value
    if data.language is not _UNSET:
        values["language"] = v.language(problems, data.language, ["input", "language"])
    if data.tags is not _UNSET:
        values["tags"] = v.tags(problems, data.tags, ["input", "tags"], v.TextLimits())
    if data.external_refs is not _UNSET:
        values["external_refs"] = v.json_object(problems, data.external_refs, ["input", "externalRefs"])
    problems.raise_if_any()
    return values


def _duplicate_contact(exc: IntegrityError) -> Duplicate:
    text = str(exc.orig)
    if "uq_customers_phone" in text:
        return Duplicate("a customer with this phone number already exists", ["input", "phone"])
    return Duplicate("a customer with this email address already exists", ["input", "email"])


async def create_customer(rt: Runtime, principal: Principal, data: CustomerInput) -> CustomerRecord:
    require(principal, Action.MANAGE_CUSTOMERS)
    values = _clean(data, creating=True)
    now = rt.clock.now()
    try:
        async with rt.transaction() as tx:
            row = (
                await tx.conn.execute(
                    insert(cu)
                    .values(**values, created_at=now, updated_at=now)
                    .returning(*columns_for(cu, CustomerRecord))
                )
            ).one()
    except IntegrityError as exc:
        raise _duplicate_contact(exc) from exc
    return CustomerRecord(*row)


async def update_customer(rt: Runtime, principal: Principal, customer_id: int, data: CustomerInput) -> CustomerRecord:
    require(principal, Action.MANAGE_CUSTOMERS)
    values = _clean(data, creating=False)
    try:
        async with rt.transaction() as tx:
            retiered = await sla.lock_open_tickets_for_tier_change(tx, customer_id, values.get("tier"))
            query = update(cu).where(cu.c.id == customer_id)
            if values:
                query = query.values(**values, updated_at=rt.clock.now())
            else:
                query = query.values(updated_at=cu.c.updated_at)
            row = (await tx.conn.execute(query.returning(*columns_for(cu, CustomerRecord)))).first()
            if row is None:
                raise NotFound("no such customer", ["id"])
            await sla.resync_tickets(tx, retiered, rt.clock.now())
    except IntegrityError as exc:
        raise _duplicate_contact(exc) from exc
    return CustomerRecord(*row)


async def _hold(conn: AsyncConnection, customer_id: int) -> bool:
    """Locks the customer against erasure and deletion (not against edits) until the caller
    commits; False when it is gone or erased."""
    held = await conn.scalar(
        select(cu.c.id)
        .where(cu.c.id == customer_id, cu.c.erased_at.is_(None))
        .with_for_update(read=True, key_share=True)
    )
    return held is not None


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: int | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None


async def resolve_customer_ref(conn: AsyncConnection, ref: CustomerRef, field: list[str], now: Any) -> CustomerRecord:
    """The customer by id, or by email/phone, created on first contact. Race-safe: two
    intakes from a new address at once end with one customer, and the customer found is held
    (FOR KEY SHARE) until the caller commits, so an erasure either waits for this intake (and
    erases its ticket too) or has already happened (and this intake finds someone else). An
    erased customer takes no new tickets."""
    if ref.id is not None:
        found = (await customers_by_ids(conn, [ref.id])).get(ref.id)
        if found is None:
            raise NotFound("no such customer", [*field, "id"])
        if not await _hold(conn, found.id):
            raise PreconditionFailed("this customer was erased", [*field, "id"])
        return found
    problems = v.Problems()
    email = v.email(problems, ref.email, [*field, "email"])
    phone = v.phone(problems, ref.phone, [*field, "phone"])
    name = v.optional_text(problems, ref.name, [*field, "name"], 200)
    if not email and not phone:
        problems.add("give the customer's id, email or phone", field)
    problems.raise_if_any()
    # Found and held in one statement; one erased (contacts cleared) or merged away meanwhile is
    # passed over, and the merge's alias leads to the customer it went into.
    existing = await customer_by_contact(conn, email, phone, hold=True)
    if existing is not None:
        return existing
    display_name = name or (email.split("@")[0] if email else phone) or "Customer"
    values = {"name": display_name, "email": email, "phone": phone, "created_at": now, "updated_at": now}
    stmt = pg_insert(cu).values(**values)
    stmt = (
        stmt.on_conflict_do_nothing(index_elements=[func.lower(cu.c.email)], index_where=cu.c.email.isnot(None))
        if email
        else stmt.on_conflict_do_nothing(index_elements=[cu.c.phone], index_where=cu.c.phone.isnot(None))
    )
    insert_new = stmt.returning(*columns_for(cu, CustomerRecord))
    if phone is None:
        # ON CONFLICT covers the only unique contact given: nothing to fail, no savepoint needed.
        row = (await conn.execute(insert_new)).first()
    else:
        try:
            async with conn.begin_nested():
                row = (await conn.execute(insert_new)).first()
        except IntegrityError:
            # The other contact field collided (e.g. new email, phone already known).
            row = None
    if row is not None:
        return CustomerRecord(*row)
    existing = await customer_by_contact(conn, email, phone)
    if existing is None:  # pragma: no cover - conflict means a row exists
        raise InvalidInput("could not identify the customer", field)
    return existing
