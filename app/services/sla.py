"""SLA clocks kept in step with tickets, and the administration of calendars and policies.

`sync_sla` runs inside every ticket change (apply_change), at intake and when a customer's tier
changes: it re-applies the rules of app.domain.sla to the ticket as it now is and maintains the
ticket's denormalised `sla_due_at` / `sla_at_risk` with a direct UPDATE (part of the same
change, so no new version). Clock rows are only written while their ticket is locked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories import sla as sla_reads
from app.db.repositories.rows import columns_for
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import validation as v
from app.domain.business_time import format_clock_time, parse_clock_time, zone_of
from app.domain.enums import OPEN_STATUSES, CustomerTier, SlaTarget, TicketPriority
from app.domain.errors import NotFound
from app.domain.principal import Principal
from app.domain.records import BusinessCalendarRecord, SlaClockRecord, SlaPolicyRecord, TicketRecord
from app.domain.sla import SlaConfig, SlaFacts, reconcile, ticket_summary
from app.events.outbox import Outbox

if TYPE_CHECKING:  # runtime.py installs the survey observer, which writes through ticket changes -> here
    from app.services.runtime import Runtime

log = logging.getLogger("helpdesk.sla")

t, sc, p, cal = tables.tickets, tables.sla_clocks, tables.sla_policies, tables.business_calendars
jobs = tables.sla_reevaluations
_OPEN = [s.value for s in OPEN_STATUSES]
# A ticket change that touches none of these cannot change its clocks.
_SLA_FIELDS = (
    "status",
    "priority",
    "category",
    "channel",
    "group_id",
    "customer_id",
    "first_responded_at",
    "resolved_at",
)
_CLOCK_VALUES = [f.name for f in fields(SlaClockRecord) if f.name != "id"]
# Longest target accepted: a year of business seconds.
MAX_TARGET_SECONDS = 366 * 24 * 3600
REEVALUATION_BATCH = 500

# ---------------------------------------------------------------- keeping clocks in step

_config_in_use: ContextVar[SlaConfig | None] = ContextVar("sla_config_in_use", default=None)


@contextmanager
def config_in_use(config: SlaConfig) -> Iterator[None]:
    """Within the block, `sync_sla` uses `config` instead of reading policies per ticket (the
    scheduler and re-evaluation batches load them once per batch)."""
    token = _config_in_use.set(config)
    try:
        yield
    finally:
        _config_in_use.reset(token)


async def load_config(conn: AsyncConnection) -> SlaConfig:
    return _config_in_use.get() or await sla_reads.sla_config(conn)


def facts_of(ticket: TicketRecord, tier: str) -> SlaFacts:
    return SlaFacts(
        status=ticket.status,
        priority=ticket.priority,
        tier=tier,
        category=ticket.category,
        channel=ticket.channel,
        group_id=ticket.group_id,
        first_responded_at=ticket.first_responded_at,
        resolved_at=ticket.resolved_at,
    )


async def tiers_of(conn: AsyncConnection, tickets: Sequence[TicketRecord], config: SlaConfig) -> dict[int, str]:
    """Customer tier per ticket id (read only when some policy looks at tiers)."""
    if not any(policy.enabled and policy.match_tiers for policy in config.policies):
        return {ticket.id: CustomerTier.STANDARD.value for ticket in tickets}
    cu = tables.customers
    customer_ids = {ticket.customer_id for ticket in tickets}
    tiers = dict((await conn.execute(select(cu.c.id, cu.c.tier).where(cu.c.id.in_(customer_ids)))).all())
    return {ticket.id: tiers.get(ticket.customer_id, CustomerTier.STANDARD.value) for ticket in tickets}


async def write_clocks(conn: AsyncConnection, clocks: Sequence[SlaClockRecord]) -> list[SlaClockRecord]:
    """Inserts new clocks (id 0) and updates the others; returns them as stored."""
    stored: list[SlaClockRecord] = []
    for clock in clocks:
        values = {name: getattr(clock, name) for name in _CLOCK_VALUES}
        if clock.id == 0:
            written = await conn.execute(insert(sc).values(**values).returning(*sla_reads.CLOCK_COLUMNS))
        else:
            written = await conn.execute(
                update(sc).where(sc.c.id == clock.id).values(**values).returning(*sla_reads.CLOCK_COLUMNS)
            )
        row = written.one()
        stored.append(SlaClockRecord(*row))
    return stored


def new_clocks_insert(ticket_id: int, clocks: Sequence[SlaClockRecord]) -> Insert:
    """Inserting a new ticket's clocks in one statement (intake writes it with its events)."""
    rows = [{**{name: getattr(clock, name) for name in _CLOCK_VALUES}, "ticket_id": ticket_id} for clock in clocks]
    return insert(sc).values(rows)


def intake_clocks(
    facts: SlaFacts, config: SlaConfig, now: datetime
) -> tuple[list[SlaClockRecord], datetime | None, bool]:
    """A new ticket's clocks (ticket id 0 until it has one) with the `sla_due_at` and
    `sla_at_risk` they give it, so the ticket is inserted with them: what sync_sla would write
    just after the insert, decided before it."""
    clocks = reconcile(0, facts, {}, config, now)
    due, at_risk = ticket_summary(clocks)
    return clocks, due, at_risk


async def refresh_ticket_summaries(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, datetime | None]:
    """Sets tickets.sla_due_at (the earliest due time among clocks that count, a breached one
    included) and tickets.sla_at_risk (a counting clock has warned or breached) from the clocks.
    Returns the new due time of each ticket whose summary changed."""
    counting = and_(
        sc.c.ticket_id == t.c.id, sc.c.running_since.isnot(None), sc.c.met_at.is_(None), sc.c.policy_id.isnot(None)
    )
    due = select(func.min(sc.c.due_at)).where(counting).scalar_subquery()
    at_risk = exists().where(counting, or_(sc.c.warned_at.isnot(None), sc.c.breached_at.isnot(None)))
    rows = await conn.execute(
        update(t)
        .where(t.c.id.in_(list(ticket_ids)), or_(t.c.sla_due_at.is_distinct_from(due), t.c.sla_at_risk != at_risk))
        .values(sla_due_at=due, sla_at_risk=at_risk)
        .returning(t.c.id, t.c.sla_due_at)
    )
    return dict(rows.all())


async def reconcile_ticket(
    conn: AsyncConnection,
    ticket: TicketRecord,
    latest: dict[SlaTarget, SlaClockRecord],
    config: SlaConfig,
    tier: str,
    now: datetime,
) -> dict[SlaTarget, SlaClockRecord]:
    """Applies the rules to one locked ticket and writes what changed; returns its clocks."""
    changed = reconcile(ticket.id, facts_of(ticket, tier), latest, config, now)
    for clock in await write_clocks(conn, changed):
        latest[SlaTarget(clock.target)] = clock
    return latest


async def sync_sla(
    tx: Outbox, before: TicketRecord | None, after: TicketRecord, now: datetime, *, inserted: bool = False
) -> TicketRecord:
    """Brings the clocks of a locked ticket in line with the ticket as it is now (`before` None:
    intake, or re-evaluate whatever changed); returns the ticket with its new `sla_due_at`.
    `inserted`: the ticket was inserted in this transaction, so it has no clocks to read yet.

    Cheap when nothing the SLA looks at changed: no statement at all."""
    if before is not None and all(getattr(before, name) == getattr(after, name) for name in _SLA_FIELDS):
        return after
    conn = tx.conn
    config = await load_config(conn)
    latest = {} if inserted else (await sla_reads.latest_clocks(conn, [after.id])).get(after.id, {})
    if not latest and not config.policies:
        return after
    tier = (await tiers_of(conn, [after], config))[after.id]
    changed = reconcile(after.id, facts_of(after, tier), latest, config, now)
    if not changed:
        return after
    await write_clocks(conn, changed)
    summaries = await refresh_ticket_summaries(conn, [after.id])
    if after.id in summaries:
        return _with_due(after, summaries[after.id])
    return after


def _with_due(ticket: TicketRecord, due: datetime | None) -> TicketRecord:
    return replace(ticket, sla_due_at=due)


async def lock_open_tickets_for_tier_change(tx: Outbox, customer_id: int, new_tier: str | None) -> list[TicketRecord]:
    """Before a customer's tier changes: locks (in id order, before anything else) the open
    tickets whose policies may change with it. Nothing when the tier stays the same."""
    if new_tier is None:
        return []
    cu = tables.customers
    current = (await tx.conn.execute(select(cu.c.tier).where(cu.c.id == customer_id))).scalar_one_or_none()
    if current is None or current == new_tier:
        return []
    rows = await tx.conn.execute(
        select(*TICKET_COLUMNS)
        .where(t.c.customer_id == customer_id, t.c.status.in_(_OPEN))
        .order_by(t.c.id)
        .with_for_update(of=t)
    )
    return [TicketRecord(*row) for row in rows]


async def resync_tickets(tx: Outbox, tickets: Sequence[TicketRecord], now: datetime) -> None:
    """Re-evaluates locked tickets (after their customer's tier changed)."""
    for ticket in tickets:
        await sync_sla(tx, None, ticket, now)


# ---------------------------------------------------------------- re-evaluation after policy changes

# How long the request that changed a policy has to finish the re-evaluation pass before a
# scheduler takes it over (only matters if the request died half-way).
HAND_OVER_AFTER = timedelta(minutes=1)


async def request_reevaluation(tx: Outbox, now: datetime) -> None:
    """Every open ticket's clocks must be re-evaluated: a new pass from the first ticket
    replaces any pass under way (it covers all of it)."""
    await tx.conn.execute(delete(jobs))
    await tx.conn.execute(insert(jobs).values(requested_at=now, scheduler_from=now + HAND_OVER_AFTER))


async def reevaluate_step(rt: Runtime, batch: int = REEVALUATION_BATCH, *, requester: bool = False) -> int | None:
    """One batch of the pending re-evaluation pass, in one transaction: the next `batch` open
    tickets by id are locked and re-evaluated. Returns how many, or None when there is nothing
    to do. A scheduler (`requester` False) only takes a pass handed over to it and skips one
    another process is working on; the requesting request waits for it instead."""
    now = rt.clock.now()
    async with rt.transaction() as tx:
        claim = select(jobs.c.id, jobs.c.after_ticket_id).order_by(jobs.c.id).limit(1)
        if requester:
            claim = claim.with_for_update()
        else:
            claim = claim.where(jobs.c.scheduler_from <= now).with_for_update(skip_locked=True)
        job = (await tx.conn.execute(claim)).first()
        if job is None:
            return None
        rows = await tx.conn.execute(
            select(*TICKET_COLUMNS)
            .where(t.c.id > job.after_ticket_id, t.c.status.in_(_OPEN))
            .order_by(t.c.id)
            .limit(batch)
            .with_for_update(of=t)
        )
        tickets = [TicketRecord(*row) for row in rows]
        config = await sla_reads.sla_config(tx.conn)
        latest = await sla_reads.latest_clocks(tx.conn, [ticket.id for ticket in tickets])
        tiers = await tiers_of(tx.conn, tickets, config)
        changed: list[int] = []
        for ticket in tickets:
            before = dict(latest.get(ticket.id, {}))
            after = await reconcile_ticket(tx.conn, ticket, dict(before), config, tiers[ticket.id], now)
            if after != before:
                changed.append(ticket.id)
        if changed:
            await refresh_ticket_summaries(tx.conn, changed)
        if len(tickets) < batch:
            await tx.conn.execute(delete(jobs).where(jobs.c.id == job.id))
        else:
            await tx.conn.execute(update(jobs).where(jobs.c.id == job.id).values(after_ticket_id=tickets[-1].id))
    return len(tickets)


async def reevaluate_pending(rt: Runtime, max_tickets: int) -> bool:
    """The requesting request's share of a pass: batches until it is done or `max_tickets`
    were re-evaluated, then hands the rest to the schedulers. True when the pass is done."""
    done = 0
    while done < max_tickets:
        count = await reevaluate_step(rt, requester=True)
        if count is None or count < REEVALUATION_BATCH:
            return True
        done += count
    async with rt.transaction() as tx:
        await tx.conn.execute(update(jobs).values(scheduler_from=rt.clock.now()))
    return False


# ---------------------------------------------------------------- business calendars

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class HoursInput:
    weekday: int
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class CalendarInput:
    name: str
    timezone: str
    hours: list[HoursInput]
    holidays: list[str] = field(default_factory=list)


def _clean_calendar(data: CalendarInput) -> dict[str, Any]:
    problems = v.Problems()
    name = v.required_text(problems, data.name, ["input", "name"], 200)
    zone = data.timezone.strip()
    try:
        zone_of(zone)
    except ValueError:
        problems.add("must be an IANA time zone such as Asia/Shanghai", ["input", "timezone"])
    if not data.hours:
        problems.add("give the business hours of at least one weekday", ["input", "hours"])
    if len(data.hours) > 70:
        problems.add("at most 70 intervals", ["input", "hours"])
    hours: list[tuple[int, Any, Any]] = []
    for index, entry in enumerate(data.hours):
        where = ["input", "hours", str(index)]
        if not 0 <= entry.weekday <= 6:
            problems.add("must be 0 (Monday) to 6 (Sunday)", [*where, "weekday"])
            continue
        try:
            start = parse_clock_time(entry.start)
        except ValueError:
            problems.add("must be a time of day as HH:MM (00:00-23:59)", [*where, "start"])
            continue
        try:
            end = parse_clock_time(entry.end)
        except ValueError:
            problems.add("must be a time of day as HH:MM (00:00-23:59)", [*where, "end"])
            continue
        if start >= end:
            problems.add("must be after the start (an interval cannot cross midnight)", [*where, "end"])
            continue
        clash = next((i for i, (d, s, e) in enumerate(hours) if d == entry.weekday and s < end and start < e), None)
        if clash is not None:
            problems.add("overlaps another interval of the same weekday", where)
            continue
        hours.append((entry.weekday, start, end))
    holidays: list[str] = []
    for index, text in enumerate(data.holidays):
        try:
            if not _DATE.match(text.strip()):
                raise ValueError(text)
            day = date.fromisoformat(text.strip()).isoformat()
        except ValueError:
            problems.add("must be a date as YYYY-MM-DD", ["input", "holidays", str(index)])
            continue
        if day not in holidays:
            holidays.append(day)
    if len(holidays) > 1000:
        problems.add("at most 1000 holidays", ["input", "holidays"])
    problems.raise_if_any()
    return {
        "name": name,
        "timezone": zone,
        "hours": [
            {"weekday": d, "start": format_clock_time(s), "end": format_clock_time(e)} for d, s, e in sorted(hours)
        ],
        "holidays": sorted(holidays),
    }


async def create_calendar(rt: Runtime, principal: Principal, data: CalendarInput) -> BusinessCalendarRecord:
    """A business calendar (admins). Validated: IANA zone, HH:MM, weekday 0-6, start before end,
    no overlapping intervals on a weekday, holidays as YYYY-MM-DD."""
    require(principal, Action.MANAGE_SLA)
    values = _clean_calendar(data)
    now = rt.clock.now()
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                insert(cal)
                .values(**values, created_at=now, updated_at=now)
                .returning(*columns_for(cal, BusinessCalendarRecord))
            )
        ).one()
    return BusinessCalendarRecord(*row)


# ---------------------------------------------------------------- policies


@dataclass(frozen=True, slots=True)
class PolicyInput(v.OrderedRuleInput):
    match_priorities: list[str] = field(default_factory=list)
    match_group_ids: list[int] = field(default_factory=list)
    first_response_seconds: int | None = None
    resolution_seconds: int | None = None
    warning_at_percent: int = 80
    calendar_id: int | None = None
    escalate_priority_on_breach: bool = True


def _clean_policy(data: PolicyInput) -> dict[str, Any]:
    problems = v.Problems()
    values: dict[str, Any] = {
        **v.ordered_rule(problems, data),
        "match_priorities": [TicketPriority(x).value for x in dict.fromkeys(data.match_priorities)],
        "match_group_ids": list(dict.fromkeys(data.match_group_ids)),
        "first_response_seconds": data.first_response_seconds,
        "resolution_seconds": data.resolution_seconds,
        "warning_at_percent": data.warning_at_percent,
        "calendar_id": data.calendar_id,
        "escalate_priority_on_breach": data.escalate_priority_on_breach,
    }
    for key, name in (("first_response_seconds", "firstResponseSeconds"), ("resolution_seconds", "resolutionSeconds")):
        seconds = values[key]
        if seconds is not None and not 1 <= seconds <= MAX_TARGET_SECONDS:
            problems.add(f"must be between 1 and {MAX_TARGET_SECONDS} seconds", ["input", name])
    if data.first_response_seconds is None and data.resolution_seconds is None:
        problems.add("give firstResponseSeconds, resolutionSeconds or both", ["input"])
    if not 1 <= data.warning_at_percent <= 99:
        problems.add("must be between 1 and 99", ["input", "warningAtPercent"])
    problems.raise_if_any()
    return values


async def _check_references(conn: AsyncConnection, data: PolicyInput) -> None:
    known = select(cal.c.id).where(cal.c.id == data.calendar_id)
    if data.calendar_id is not None and (await conn.execute(known)).first() is None:
        raise NotFound("no such business calendar", ["input", "calendarId"])
    if data.match_group_ids:
        g = tables.groups
        found = set((await conn.execute(select(g.c.id).where(g.c.id.in_(data.match_group_ids)))).scalars())
        if set(data.match_group_ids) - found:
            raise NotFound("no such group", ["input", "matchGroupIds"])


async def _after_policy_change(rt: Runtime) -> None:
    """Open tickets' clocks follow the new policies: this request re-evaluates the first
    batches itself; a larger helpdesk's remainder is finished by the scheduler."""
    try:
        finished = await reevaluate_pending(rt, rt.settings.sla_reevaluate_inline)
    except Exception:  # the policy change is committed; the scheduler retries the pass
        log.exception("re-evaluating SLA clocks after a policy change failed")
        return
    if not finished:
        log.info("SLA re-evaluation continues in the scheduler")


async def create_policy(rt: Runtime, principal: Principal, data: PolicyInput) -> SlaPolicyRecord:
    """A new policy (admins); without a position it goes after the last one. Open tickets are
    re-evaluated against the new set of policies."""
    require(principal, Action.MANAGE_SLA)
    values = _clean_policy(data)
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await request_reevaluation(tx, now)
        await _check_references(tx.conn, data)
        position = data.position
        if position is None:
            position = (await tx.conn.execute(select(func.coalesce(func.max(p.c.position), 0) + 10))).scalar_one()
        row = (
            await tx.conn.execute(
                insert(p)
                .values(**values, position=position, created_at=now, updated_at=now)
                .returning(*sla_reads.POLICY_COLUMNS)
            )
        ).one()
    await _after_policy_change(rt)
    return SlaPolicyRecord(*row)


async def update_policy(rt: Runtime, principal: Principal, policy_id: int, data: PolicyInput) -> SlaPolicyRecord:
    """Replaces the policy's definition (the input is the whole policy); without a position it
    keeps its place. Running clocks keep their elapsed time and take the new targets."""
    require(principal, Action.MANAGE_SLA)
    values = _clean_policy(data)
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await request_reevaluation(tx, now)
        await _check_references(tx.conn, data)
        if data.position is not None:
            values["position"] = data.position
        row = (
            await tx.conn.execute(
                update(p)
                .where(p.c.id == policy_id)
                .values(**values, updated_at=now)
                .returning(*sla_reads.POLICY_COLUMNS)
            )
        ).first()
        if row is None:
            raise NotFound("no such SLA policy", ["id"])
    await _after_policy_change(rt)
    return SlaPolicyRecord(*row)


async def delete_policy(rt: Runtime, principal: Principal, policy_id: int) -> int:
    """Deletes the policy; its tickets are re-evaluated (another policy may apply, else their
    clocks stop, keeping their time). Warnings and breaches already fired stay in history."""
    require(principal, Action.MANAGE_SLA)
    async with rt.transaction() as tx:
        # The pass is requested first: it may wait for a scheduler's batch, and must do so
        # before this transaction holds the clock rows the foreign key detaches.
        await request_reevaluation(tx, rt.clock.now())
        deleted = (await tx.conn.execute(delete(p).where(p.c.id == policy_id).returning(p.c.id))).first()
        if deleted is None:
            raise NotFound("no such SLA policy", ["id"])
    await _after_policy_change(rt)
    return policy_id
