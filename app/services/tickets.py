"""Ticket intake and edits. Each public function is one transaction; every change writes its events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import UpdateBase

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import validation as v
from app.domain.enums import Channel, CustomerTier, TicketEventType, TicketPriority, TicketStatus
from app.domain.intake import initial_priority, intake_tags, ticket_language
from app.domain.language import detect_language
from app.domain.lifecycle import check_edit
from app.domain.principal import Principal
from app.domain.records import AgentRecord, CustomerRecord, GroupRecord, TicketRecord
from app.domain.routing import TicketFacts, route
from app.domain.sentiment import classify, sentiment_score
from app.domain.sla import SlaFacts
from app.domain.ticket_fields import field_changes
from app.events.outbox import Outbox
from app.services import idempotency
from app.services.assignment import assignment_data, pick_agent, turn_taken
from app.services.attachments import StagedUploads, attach_files, staged_uploads
from app.services.customers import CustomerRef, resolve_customer_ref
from app.services.lexicons import sentiment_lexicon
from app.services.runtime import Runtime
from app.services.sla import intake_clocks, new_clocks_insert
from app.services.ticket_changes import Actor, apply_change, check_version, event_about, lock_ticket, record
from app.services.ticket_fields import checked_custom_fields
from app.services.ticket_search import new_ticket_document, reindex_ticket
from app.storage import IncomingFile

t = tables.tickets
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
    attachments: Sequence[IncomingFile] = ()


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


async def create_ticket(
    rt: Runtime, principal: Principal, data: NewTicket, idempotency_key: str | None = None
) -> tuple[TicketRecord, bool]:
    """Creates the ticket and its CREATED event in one transaction; returns (ticket, created).

    With an idempotency key, at most one ticket is ever created per caller and key, whatever
    the retries and races; a retry gets the first ticket back with created=False.
    """
    done = await create_ticket_detailed(rt, principal, data, idempotency_key)
    return done.ticket, done.admitted is not None


@dataclass(frozen=True, slots=True)
class CreatedTicket:
    ticket: TicketRecord
    # What intake decided, when this call created the ticket; None: a retry got the first one.
    admitted: Admitted | None


async def create_ticket_detailed(
    rt: Runtime, principal: Principal, data: NewTicket, idempotency_key: str | None = None
) -> CreatedTicket:
    """create_ticket, with the customer, group and assignee the new ticket got (createTicket's
    payload shows them without reading them again)."""
    require(principal, Action.CREATE_TICKET)
    intake = validated_intake(rt, data)
    if idempotency_key is not None:
        problems = v.Problems()
        v.required_text(problems, idempotency_key, ["idempotencyKey"], 200)
        problems.raise_if_any()
    async with staged_uploads(rt, data.attachments, ["input", "attachments"]) as files:
        try:
            return await _create_ticket(rt, principal, data, intake, idempotency_key, files)
        except IntegrityError as exc:
            # mergeCustomers deleted the customer this intake had found, between the lookup and
            # the insert: once more, and the lookup finds the customer it went into (an alias).
            if CUSTOMER_FK not in str(exc.orig):
                raise
            return await _create_ticket(rt, principal, data, intake, idempotency_key, files)


async def _create_ticket(
    rt: Runtime,
    principal: Principal,
    data: NewTicket,
    intake: dict[str, Any],
    idempotency_key: str | None,
    files: StagedUploads,
) -> CreatedTicket:
    now = rt.clock.now()
    async with rt.transaction() as tx:
        remember = None
        if idempotency_key is not None:
            request_hash = idempotency.request_fingerprint(
                {**asdict(replace(data, attachments=())), "files": [f.sha256 for f in files.files]}
            )
            existing = await idempotency.claim(tx.conn, principal, "createTicket", idempotency_key, request_hash)
            if existing is not None:
                row = (await tx.conn.execute(select(*TICKET_COLUMNS).where(t.c.id == existing))).one()
                return CreatedTicket(TicketRecord(*row), None)
            remember = _remembering(principal, idempotency_key, request_hash, now)
        admitted = await admit_ticket(rt, tx, principal, data, intake, now, check_fields=True, also=remember)
        await attach_files(tx, admitted.ticket, files, None, Actor.of(principal), now)
    return CreatedTicket(admitted.ticket, admitted)


def _remembering(
    principal: Principal, key: str, request_hash: str, now: datetime
) -> Callable[[TicketRecord], list[UpdateBase]]:
    """The idempotency key's row for the new ticket, written with its events (the claim's lock
    is held until the commit either way)."""
    return lambda ticket: [idempotency.remembering(principal, "createTicket", key, request_hash, ticket.id, now)]


CUSTOMER_FK = "fk_tickets_customer_id_customers"


def validated_intake(rt: Runtime, data: NewTicket) -> dict[str, Any]:
    """The cleaned columns of a new ticket, or every input problem at once."""
    limits = _limits(rt)
    problems = v.Problems()
    values = {
        "subject": v.required_text(problems, data.subject, ["input", "subject"], limits.max_subject),
        "description": v.required_text(problems, data.description, ["input", "description"], limits.max_description),
        "tags": v.tags(problems, data.tags, ["input", "tags"], limits),
        "category": _category(problems, data.category, ["input", "category"]),
        "custom_fields": v.json_object(problems, data.custom_fields, ["input", "customFields"]),
        "external_ref": v.optional_text(problems, data.external_ref, ["input", "externalRef"], 200),
        "language": v.language(problems, data.language, ["input", "language"]),
        "channel": data.channel.value,
    }
    problems.raise_if_any()
    return values


async def insert_ticket(
    rt: Runtime,
    tx: Outbox,
    principal: Principal | None,
    data: NewTicket,
    intake: dict[str, Any],
    now: datetime,
    *,
    parent_id: int | None = None,
    group_id: int | None = None,
    mailbox_id: int | None = None,
    default_group_id: int | None = None,
    check_fields: bool = False,
    customer_facing: bool = False,
    by_customer: bool = False,
) -> TicketRecord:
    """Inserts the ticket with everything intake decides, in the caller's transaction: the
    customer (found or created), language, sentiment, the routing rules' classification and
    group, priority, and the assignee the group's strategy picks (or the group queue). The
    CREATED event says which rules fired; ASSIGNED follows when an agent took it. A None
    principal is the system (inbound mail). With check_fields, customFields are checked against
    the defined fields for the category routing decided (requiredOnCreate included); with
    customer_facing too, only fields visibleToCustomer (the web form). by_customer: the events
    are the customer's (the web form), not the principal's."""
    return (
        await admit_ticket(
            rt,
            tx,
            principal,
            data,
            intake,
            now,
            parent_id=parent_id,
            group_id=group_id,
            mailbox_id=mailbox_id,
            default_group_id=default_group_id,
            check_fields=check_fields,
            customer_facing=customer_facing,
            by_customer=by_customer,
        )
    ).ticket


@dataclass(frozen=True, slots=True)
class Admitted:
    """A ticket intake inserted, with the customer, group and assignee it decided (as read in
    its transaction), so the caller can show them without reading them again."""

    ticket: TicketRecord
    customer: CustomerRecord
    group: GroupRecord | None
    assignee: AgentRecord | None


async def admit_ticket(
    rt: Runtime,
    tx: Outbox,
    principal: Principal | None,
    data: NewTicket,
    intake: dict[str, Any],
    now: datetime,
    *,
    parent_id: int | None = None,
    group_id: int | None = None,
    mailbox_id: int | None = None,
    default_group_id: int | None = None,
    check_fields: bool = False,
    customer_facing: bool = False,
    by_customer: bool = False,
    also: Callable[[TicketRecord], Sequence[UpdateBase]] | None = None,
) -> Admitted:
    """insert_ticket, returning what it decided too. In few statements: the configuration comes
    from the process's cache (one version check), SLA clocks are decided before the ticket is
    inserted with its due time, and the events, the clocks and the assignee's turn are one
    statement. `also`: the caller's own writes that need the new ticket's id (an idempotency
    key), sent in that statement too."""
    config = await rt.intake_config.current(tx.conn)
    customer = await resolve_customer_ref(tx.conn, data.customer, ["input", "customer"], now)
    text = f"{intake['subject']}\n{intake['description']}"
    language = ticket_language(intake["language"], customer.language, detect_language(text))
    sentiment = classify(sentiment_score(text, sentiment_lexicon()))
    facts = TicketFacts(
        subject=intake["subject"],
        description=intake["description"],
        channel=intake["channel"],
        tier=customer.tier,
        language=language,
        category=intake["category"],
        custom_fields=intake["custom_fields"],
    )
    decision = route(config.rules, facts)
    if check_fields:
        intake = {
            **intake,
            "custom_fields": await checked_custom_fields(
                tx.conn,
                intake["custom_fields"],
                intake["category"] or decision.category,
                creating=True,
                customer_facing=customer_facing,
                defined=config.field_definitions(customer_facing=customer_facing),
            ),
        }
    priority = initial_priority(
        data.priority,
        CustomerTier(customer.tier),
        TicketPriority(rt.settings.vip_min_priority),
        routed=decision.priority,
        sentiment=sentiment,
    )
    target_group = group_id if group_id is not None else decision.group_id
    if target_group is None:
        target_group = default_group_id  # e.g. the mailbox's group, when no rule routed the ticket
    choice = await pick_agent(tx.conn, target_group, decision.required_skills, language, groups=config.groups)
    category = intake["category"] or decision.category
    clocks, sla_due_at, sla_at_risk = intake_clocks(
        SlaFacts(
            status=TicketStatus.NEW.value,
            priority=priority.value,
            tier=customer.tier,
            category=category,
            channel=intake["channel"],
            group_id=target_group,
            first_responded_at=None,
            resolved_at=None,
        ),
        config.sla,
        now,
    )
    row = (
        await tx.conn.execute(
            insert(t)
            .values(
                **{
                    **intake,
                    "language": language,
                    "category": category,
                    "tags": intake_tags(intake["tags"], decision.tags, sentiment),
                },
                status=TicketStatus.NEW.value,
                priority=priority.value,
                sentiment=sentiment.value,
                customer_id=customer.id,
                parent_id=parent_id,
                mailbox_id=mailbox_id,
                group_id=target_group,
                required_skills=list(decision.required_skills),
                assignee_id=choice.agent_id if choice else None,
                created_at=now,
                updated_at=now,
                queued_at=None if choice else now,
                search_vector=new_ticket_document(intake["subject"], intake["description"]),
                sla_due_at=sla_due_at,
                sla_at_risk=sla_at_risk,
            )
            .returning(*TICKET_COLUMNS)
        )
    ).one()
    ticket = TicketRecord(*row)
    actor = Actor(customer_id=customer.id) if by_customer else Actor.of(principal)
    events = [
        event_about(
            ticket,
            TicketEventType.CREATED,
            actor,
            now,
            {
                "number": ticket.number,
                "subject": ticket.subject,
                "channel": ticket.channel,
                "priority": ticket.priority,
                "sentiment": ticket.sentiment,
                "language": ticket.language,
                "customerId": customer.id,
                "parentId": parent_id,
                "groupId": target_group,
                "routing": decision.explain(),
            },
        )
    ]
    writes: list[UpdateBase] = [new_clocks_insert(ticket.id, clocks)] if clocks else []
    if choice is not None:
        events.append(
            event_about(
                ticket,
                TicketEventType.ASSIGNED,
                actor,
                now,
                assignment_data(choice.agent_id, None, target_group, choice.reason),
            )
        )
        writes += turn_taken(target_group, choice.agent_id, now)
    if also is not None:
        writes += also(ticket)
    await tx.append_all(events, *writes)
    group = config.groups.get(target_group) if target_group is not None else None
    return Admitted(ticket, customer, group, choice.agent if choice else None)


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
        values["custom_fields"] = v.json_object(problems, changes.custom_fields, ["input", "customFields"])
    if changes.external_ref is not UNSET:
        values["external_ref"] = v.optional_text(problems, changes.external_ref, ["input", "externalRef"], 200)
    problems.raise_if_any()

    async with rt.transaction() as tx:
        ticket = await lock_ticket(tx.conn, principal, ticket_id)
        check_version(ticket, expected_version)
        if "custom_fields" in values:
            category = values.get("category", ticket.category)
            values["custom_fields"] = await checked_custom_fields(
                tx.conn, values["custom_fields"], category, creating=False
            )
        return await edit_locked(tx, ticket, values, Actor.of(principal), rt.clock.now())


async def edit_locked(
    tx: Outbox, ticket: TicketRecord, values: dict[str, Any], actor: Actor, now: datetime
) -> TicketRecord:
    """Writes cleaned field values on a ticket the caller locked, in the caller's transaction:
    UPDATED for the fields that changed (custom fields included), PRIORITY_CHANGED for a new
    priority and FIELD_CHANGED for each custom field key that changed; no change, no event, no
    new version. A CLOSED ticket takes new tags only."""
    before = asdict(ticket)
    diff = {k: {"from": before[k], "to": val} for k, val in values.items() if before[k] != val}
    if not diff:
        return ticket
    check_edit(TicketStatus(ticket.status), _camel(diff))
    updated = await apply_change(tx, ticket, {k: values[k] for k in diff}, now)
    if "subject" in diff or "description" in diff:
        await reindex_ticket(tx.conn, ticket.id)
    priority = diff.pop("priority", None)
    # Custom fields stay in UPDATED's changes, as in version 1, and each changed key also gets
    # its FIELD_CHANGED (version 2).
    custom_fields = diff.get("custom_fields")
    if diff:
        await record(tx, updated, TicketEventType.UPDATED, actor, now, {"changes": _camel(diff)})
    if priority is not None:
        await record(tx, updated, TicketEventType.PRIORITY_CHANGED, actor, now, priority)
    if custom_fields is not None:
        for change in field_changes(custom_fields["from"] or {}, custom_fields["to"] or {}):
            await record(tx, updated, TicketEventType.FIELD_CHANGED, actor, now, change)
    return updated


def _camel(diff: dict[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(k): val for k, val in diff.items()}
