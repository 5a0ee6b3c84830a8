"""Ticket intake and edits. Each public function is one transaction; every change writes its events."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.tickets import TICKET_COLUMNS, visible_to
from app.domain import validation as v
from app.domain.enums import Channel, CustomerTier, TicketEventType, TicketPriority
from app.domain.errors import Duplicate, NotFound, VersionConflict
from app.domain.intake import initial_priority, ticket_language
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.events.outbox import Outbox
from app.services.customers import CustomerRef, resolve_customer_ref
from app.services.runtime import Runtime

t, ik = tables.tickets, tables.idempotency_keys
UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class NewTicket:
    subject: str
    description: str
    channel: Channel
    customer: CustomerRef
    priority: TicketPriority | None = None
    category: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    external_ref: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class TicketChanges:
    subject: Any = UNSET
    description: Any = UNSET
    priority: Any = UNSET
    category: Any = UNSET
    tags: Any = UNSET
    custom_fields: Any = UNSET
    external_ref: Any = UNSET


def _limits(rt: Runtime) -> v.TextLimits:
    s = rt.settings
    return v.TextLimits(
        max_subject=s.max_subject_length,
        max_description=s.max_description_length,
        max_tags=s.max_tags,
        max_tag_length=s.max_tag_length,
    )


def _category(problems: v.Problems, value: str | None, field: list[str]) -> str | None:
    text_value = v.optional_text(problems, value, field, 64)
    return text_value.lower() if text_value else None


def _custom_fields(problems: v.Problems, value: Any, field: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("must be a JSON object", field)
        return {}
    if len(orjson.dumps(value)) > 32_768:
        problems.add("must be at most 32 KiB of JSON", field)
    return value


def _request_hash(data: NewTicket) -> str:
    return hashlib.sha256(orjson.dumps(asdict(data), option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


async def create_ticket(
    rt: Runtime, principal: Principal, data: NewTicket, idempotency_key: str | None = None
) -> tuple[TicketRecord, bool]:
    """Creates the ticket and its CREATED event in one transaction; returns (ticket, created).

    With an idempotency key, at most one ticket is ever created per caller and key, whatever
    the retries and races; a retry gets the first ticket back with created=False.
    """
    require(principal, Action.CREATE_TICKET)
    limits = _limits(rt)
    problems = v.Problems()
    subject = v.required_text(problems, data.subject, ["input", "subject"], limits.max_subject)
    description = v.required_text(problems, data.description, ["input", "description"], limits.max_description)
    tags = v.tags(problems, data.tags, ["input", "tags"], limits)
    category = _category(problems, data.category, ["input", "category"])
    custom_fields = _custom_fields(problems, data.custom_fields, ["input", "customFields"])
    external_ref = v.optional_text(problems, data.external_ref, ["input", "externalRef"], 200)
    language = v.language(problems, data.language, ["input", "language"])
    if idempotency_key is not None:
        v.required_text(problems, idempotency_key, ["idempotencyKey"], 200)
    problems.raise_if_any()

    now = rt.clock.now()
    async with rt.transaction() as tx:
        conn = tx.conn
        if idempotency_key is not None:
            request_hash = _request_hash(data)
            existing = await _claim_idempotency_key(conn, principal, "createTicket", idempotency_key, request_hash)
            if existing is not None:
                row = (await conn.execute(select(*TICKET_COLUMNS).where(t.c.id == existing))).one()
                return TicketRecord(*row), False
        customer = await resolve_customer_ref(conn, data.customer, ["input", "customer"], now)
        priority = initial_priority(
            data.priority, CustomerTier(customer.tier), TicketPriority(rt.settings.vip_min_priority)
        )
        row = (
            await conn.execute(
                insert(t)
                .values(
                    subject=subject,
                    description=description,
                    channel=data.channel.value,
                    priority=priority.value,
                    category=category,
                    tags=tags,
                    custom_fields=custom_fields,
                    external_ref=external_ref,
                    language=ticket_language(language, customer.language),
                    customer_id=customer.id,
                    created_at=now,
                    updated_at=now,
                    queued_at=now,
                )
                .returning(*TICKET_COLUMNS)
            )
        ).one()
        ticket = TicketRecord(*row)
        await tx.append(
            ticket_id=ticket.id,
            group_id=ticket.group_id,
            type=TicketEventType.CREATED,
            occurred_at=now,
            actor_agent_id=principal.agent_id,
            data={
                "number": ticket.number,
                "subject": ticket.subject,
                "channel": ticket.channel,
                "priority": ticket.priority,
                "customerId": customer.id,
                "version": ticket.version,
            },
        )
        if idempotency_key is not None:
            await conn.execute(
                insert(ik).values(
                    scope="createTicket",
                    key=idempotency_key,
                    agent_id=principal.agent_id,
                    resource_id=ticket.id,
                    request_hash=request_hash,
                    created_at=now,
                )
            )
    return ticket, True


async def _claim_idempotency_key(
    conn: AsyncConnection, principal: Principal, scope: str, key: str, request_hash: str
) -> int | None:
    """Serialises callers of one key (a transaction-scoped advisory lock), then returns the
    resource the key already made, if any. The lock is released at commit, after the key row
    is visible, so a racing retry always sees it."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": orjson.dumps([scope, principal.agent_id, key]).decode()},
    )
    row = (
        await conn.execute(
            select(ik.c.resource_id, ik.c.request_hash).where(
                ik.c.scope == scope, ik.c.agent_id == principal.agent_id, ik.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Duplicate("this idempotency key was already used for a different request", ["idempotencyKey"])
    return int(row.resource_id)


async def lock_visible_ticket(conn: AsyncConnection, principal: Principal, ticket_id: int) -> TicketRecord:
    """Locks the ticket for this transaction; a ticket the caller may not see is NOT_FOUND."""
    row = (
        await conn.execute(
            select(*TICKET_COLUMNS).where(t.c.id == ticket_id, visible_to(principal)).with_for_update(of=t)
        )
    ).first()
    if row is None:
        raise NotFound("no such ticket", ["id"])
    return TicketRecord(*row)


def check_version(ticket: TicketRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(
            f"the ticket changed since you read it (version {ticket.version}, you expected {expected_version})",
            ["expectedVersion"],
        )


async def update_ticket(
    rt: Runtime, principal: Principal, ticket_id: int, changes: TicketChanges, expected_version: int | None
) -> TicketRecord:
    """Edits fields; a changed priority also writes PRIORITY_CHANGED. No change, no event, no new version."""
    require(principal, Action.UPDATE_TICKET)
    limits = _limits(rt)
    problems = v.Problems()
    values: dict[str, Any] = {}
    if changes.subject is not UNSET:
        values["subject"] = v.required_text(problems, changes.subject, ["input", "subject"], limits.max_subject)
    if changes.description is not UNSET:
        values["description"] = v.required_text(
            problems, changes.description, ["input", "description"], limits.max_description
        )
    if changes.priority is not UNSET:
        if changes.priority is None:
            problems.add("must not be null", ["input", "priority"])
        else:
            values["priority"] = TicketPriority(changes.priority).value
    if changes.category is not UNSET:
        values["category"] = _category(problems, changes.category, ["input", "category"])
    if changes.tags is not UNSET:
        values["tags"] = v.tags(problems, changes.tags, ["input", "tags"], limits)
    if changes.custom_fields is not UNSET:
        values["custom_fields"] = _custom_fields(problems, changes.custom_fields, ["input", "customFields"])
    if changes.external_ref is not UNSET:
        values["external_ref"] = v.optional_text(problems, changes.external_ref, ["input", "externalRef"], 200)
    problems.raise_if_any()

    async with rt.transaction() as tx:
        ticket = await lock_visible_ticket(tx.conn, principal, ticket_id)
        check_version(ticket, expected_version)
        before = asdict(ticket)
        diff = {k: {"from": before[k], "to": val} for k, val in values.items() if before[k] != val}
        if not diff:
            return ticket
        now = rt.clock.now()
        updated = await apply_change(tx, ticket, {k: values[k] for k in diff}, now)
        priority = diff.pop("priority", None)
        if diff:
            await tx.append(
                ticket_id=ticket.id,
                group_id=updated.group_id,
                type=TicketEventType.UPDATED,
                occurred_at=now,
                actor_agent_id=principal.agent_id,
                data={"changes": _camel(diff), "version": updated.version},
            )
        if priority is not None:
            await tx.append(
                ticket_id=ticket.id,
                group_id=updated.group_id,
                type=TicketEventType.PRIORITY_CHANGED,
                occurred_at=now,
                actor_agent_id=principal.agent_id,
                data={**priority, "version": updated.version},
            )
    return updated


async def apply_change(tx: Outbox, ticket: TicketRecord, values: dict[str, Any], now: datetime) -> TicketRecord:
    """Writes changed columns, bumps the version and updated_at; the caller writes the events."""
    row = (
        await tx.conn.execute(
            update(t)
            .where(t.c.id == ticket.id)
            .values(**values, version=t.c.version + 1, updated_at=func.greatest(now, t.c.updated_at))
            .returning(*TICKET_COLUMNS)
        )
    ).one()
    return TicketRecord(*row)


def _camel(diff: dict[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(k): val for k, val in diff.items()}
