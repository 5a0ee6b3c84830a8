"""Merging two customers: one person who wrote in under two addresses becomes one customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.rows import columns_for
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain.enums import TicketEventType
from app.domain.errors import InvalidInput, NotFound
from app.domain.principal import Principal
from app.domain.records import CustomerRecord, TicketRecord
from app.events.outbox import Outbox
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, apply_change, record

cu, t, c, te, al = (
    tables.customers,
    tables.tickets,
    tables.comments,
    tables.ticket_events,
    tables.customer_aliases,
)


async def merge_customers(rt: Runtime, principal: Principal, source_id: int, target_id: int) -> CustomerRecord:
    """Moves every ticket of `source` (with its comments, ratings and history) to `target` and
    deletes `source`, in one transaction. Each moved ticket gets an UPDATED event naming both
    customers. The source's email and phone go to the target when it has none, otherwise they
    become aliases: later intake from them finds the target. Two merges at once never lose a
    ticket: both lock tickets, then customers, in id order (the order updateCustomer uses)."""
    require(principal, Action.MERGE_CUSTOMERS)
    if source_id == target_id:
        raise InvalidInput("a customer cannot be merged into itself", ["targetId"])
    for attempt in range(TRIES):
        try:
            return await _merge(rt, principal, source_id, target_id)
        except DBAPIError as exc:
            # A deadlock or serialization failure PostgreSQL resolved by aborting this side:
            # nothing was written, so the merge is tried again.
            if getattr(exc.orig, "sqlstate", None) not in RETRIED or attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


TRIES = 3
RETRIED = {"40P01", "40001"}  # deadlock_detected, serialization_failure


async def _merge(rt: Runtime, principal: Principal, source_id: int, target_id: int) -> CustomerRecord:
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await tx.conn.execute(
            select(t.c.id).where(t.c.customer_id.in_([source_id, target_id])).order_by(t.c.id).with_for_update(of=t)
        )
        locked = await tx.conn.execute(
            select(*columns_for(cu, CustomerRecord))
            .where(cu.c.id.in_([source_id, target_id]))
            .order_by(cu.c.id)
            .with_for_update()
        )
        found = {row.id: CustomerRecord(*row) for row in locked}
        if source_id not in found:
            raise NotFound("no such customer", ["sourceId"])
        if target_id not in found:
            raise NotFound("no such customer", ["targetId"])
        source, target = found[source_id], found[target_id]
        await _move_tickets(tx, principal, source, target, now)
        await tx.conn.execute(update(c).where(c.c.author_customer_id == source.id).values(author_customer_id=target.id))
        await tx.conn.execute(update(te).where(te.c.actor_customer_id == source.id).values(actor_customer_id=target.id))
        await tx.conn.execute(update(al).where(al.c.customer_id == source.id).values(customer_id=target.id))
        await tx.conn.execute(delete(cu).where(cu.c.id == source.id))
        merged = await _take_contacts(tx, source, target, now)
    return merged


async def _move_tickets(
    tx: Outbox, principal: Principal, source: CustomerRecord, target: CustomerRecord, now: datetime
) -> None:
    rows = await tx.conn.execute(
        select(*TICKET_COLUMNS).where(t.c.customer_id == source.id).order_by(t.c.id).with_for_update(of=t)
    )
    actor = Actor.of(principal)
    change = {"customer": {"from": source.id, "to": target.id}}
    for ticket in [TicketRecord(*row) for row in rows]:
        # customer_id is an SLA input: apply_change re-evaluates the clocks for the target's tier.
        moved = await apply_change(tx, ticket, {"customer_id": target.id}, now)
        await record(tx, moved, TicketEventType.UPDATED, actor, now, {"changes": change, "mergedCustomer": source.id})


async def _take_contacts(tx: Outbox, source: CustomerRecord, target: CustomerRecord, now: datetime) -> CustomerRecord:
    """The source's contacts: on the target where it has none, aliases otherwise. An alias a later
    merge claims again points at the newest owner."""
    values: dict[str, str] = {}
    if source.email and not target.email:
        values["email"] = source.email
    if source.phone and not target.phone:
        values["phone"] = source.phone
    alias_email = None if "email" in values else source.email
    alias_phone = None if "phone" in values else source.phone
    if alias_email:
        await tx.conn.execute(
            pg_insert(al)
            .values(customer_id=target.id, email=alias_email, merged_customer_id=source.id)
            .on_conflict_do_update(
                index_elements=[func.lower(al.c.email)],
                index_where=al.c.email.isnot(None),
                set_={"customer_id": target.id, "merged_customer_id": source.id},
            )
        )
    if alias_phone:
        await tx.conn.execute(
            pg_insert(al)
            .values(customer_id=target.id, phone=alias_phone, merged_customer_id=source.id)
            .on_conflict_do_update(
                index_elements=[al.c.phone],
                index_where=al.c.phone.isnot(None),
                set_={"customer_id": target.id, "merged_customer_id": source.id},
            )
        )
    row = (
        await tx.conn.execute(
            update(cu)
            .where(cu.c.id == target.id)
            .values(**values, updated_at=now)
            .returning(*columns_for(cu, CustomerRecord))
        )
    ).one()
    return CustomerRecord(*row)
