"""The SLA scheduler: fires WARNING and BREACHED when clocks fall due, exactly once.

Any number of processes may run it against one database. Each batch claims the tickets of
the most overdue clocks with `FOR UPDATE OF tickets SKIP LOCKED` (only ticket rows are claimed:
clock rows are only ever written by whoever holds their ticket's lock, so a claim never waits
and two schedulers never deadlock), re-applies the SLA rules to each ticket (the scheduler
acts on clocks as they are now, even while a policy change is still being re-evaluated), and
fires what is due. `sla_notifications` has the primary key (clock, kind): a second WARNING or
BREACHED for a clock cannot be stored, whatever happens. The notification, the clock change,
the ticket change and the events commit together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories import sla as sla_reads
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import sla as rules
from app.domain.enums import SlaEventKind, SlaTarget, TicketEventType, TicketPriority
from app.domain.records import SlaClockRecord, TicketRecord
from app.events.outbox import Outbox
from app.services.relations import add_collaborating_group, collaborator_added
from app.services.runtime import Runtime
from app.services.sla import (
    config_in_use,
    reconcile_ticket,
    reevaluate_step,
    refresh_ticket_summaries,
    tiers_of,
    write_clocks,
)
from app.services.ticket_changes import SYSTEM, apply_change, record

log = logging.getLogger("helpdesk.sla.scheduler")

t, sc, n, g = tables.tickets, tables.sla_clocks, tables.sla_notifications, tables.groups
BATCH = 500
# A ticket whose check failed is looked at again after this long (it must not block the others).
RETRY_AFTER = timedelta(seconds=60)
MIN_SLEEP = 0.02


def due_claim_query(now: datetime, batch: int) -> Any:
    """Tickets with a clock to check by `now`, most overdue first, locked; tickets another
    process holds are skipped. Walks the partial index on sla_clocks.next_check_at."""
    return (
        select(*TICKET_COLUMNS)
        .select_from(sc.join(t, t.c.id == sc.c.ticket_id))
        .where(sc.c.next_check_at <= now)
        .order_by(sc.c.next_check_at)
        .limit(batch)
        .with_for_update(of=t, skip_locked=True)
    )


def look_query(now: datetime) -> Any:
    """What a scheduler round has to do, in one statement: when the next clock must be checked
    (an index lookup on next_check_at), and whether a policy re-evaluation pass has been handed
    to the schedulers."""
    jobs = tables.sla_reevaluations
    handed_over = select(jobs.c.id).where(jobs.c.scheduler_from <= now).exists()
    return select(select(func.min(sc.c.next_check_at)).scalar_subquery(), handed_over)


def _event_data(kind: SlaEventKind, clock: SlaClockRecord, now: datetime, config: rules.SlaConfig) -> dict[str, Any]:
    calendar = config.calendar(config.policy(clock.policy_id))
    assert clock.due_at is not None
    return {
        "kind": kind.value,
        "clockId": clock.id,
        "target": clock.target,
        "cycle": clock.cycle,
        "dueAt": clock.due_at.isoformat(),
        "remainingSeconds": rules.remaining_seconds(clock, now, calendar),
        "policyId": clock.policy_id,
    }


async def _notify_once(
    conn: AsyncConnection, clock: SlaClockRecord, kinds: list[SlaEventKind], now: datetime
) -> set[SlaEventKind]:
    """Records the notifications; returns those that were not recorded before (the primary
    key makes a second one for the same clock and kind impossible)."""
    inserted = await conn.execute(
        pg_insert(n)
        .values([{"clock_id": clock.id, "kind": kind.value, "fired_at": now} for kind in kinds])
        .on_conflict_do_nothing(index_elements=[n.c.clock_id, n.c.kind])
        .returning(n.c.kind)
    )
    return {SlaEventKind(kind) for kind in inserted.scalars()}


async def _breach_consequences(
    tx: Outbox,
    ticket: TicketRecord,
    clock: SlaClockRecord,
    config: rules.SlaConfig,
    escalation_groups: dict[int, int | None],
    now: datetime,
) -> TicketRecord:
    """One ticket change for the breach (one new version): escalation level +1 and, when the
    policy says so, priority one step up. The ticket stays with its group and assignee; if its
    group has an escalation group, that group becomes a collaborating group of the ticket (its
    agents and supervisors may see it and act on it: that is what escalation is for; recorded as
    COLLABORATOR_ADDED, like addCollaborator) and an ESCALATED event is addressed to it."""
    policy = config.policy(clock.policy_id)
    values: dict[str, Any] = {"escalation_level": ticket.escalation_level + 1}
    priority = TicketPriority(ticket.priority)
    if policy is not None and policy.escalate_priority_on_breach and priority.raised() is not priority:
        values["priority"] = priority.raised().value
    updated = await apply_change(tx, ticket, values, now)
    data = _event_data(SlaEventKind.BREACHED, clock, now, config)
    await record(tx, updated, TicketEventType.SLA_BREACHED, SYSTEM, now, data)
    if "priority" in values:
        await record(
            tx,
            updated,
            TicketEventType.PRIORITY_CHANGED,
            SYSTEM,
            now,
            {"from": ticket.priority, "to": updated.priority, "reason": "SLA_BREACHED"},
        )
    escalate_to = escalation_groups.get(ticket.group_id) if ticket.group_id is not None else None
    if escalate_to is not None:
        if escalate_to != ticket.group_id and await add_collaborating_group(tx.conn, updated.id, escalate_to, now):
            await record(
                tx, updated, TicketEventType.COLLABORATOR_ADDED, SYSTEM, now, collaborator_added(None, escalate_to)
            )
        # Addressed to the escalation group (ticket_events.group_id), so subscriptions filtered
        # on that group receive it; its agents may see the ticket now, so it is delivered to them.
        await tx.append(
            ticket_id=updated.id,
            group_id=escalate_to,
            type=TicketEventType.ESCALATED,
            occurred_at=now,
            data={
                "reason": "SLA_BREACHED",
                "level": updated.escalation_level,
                "fromGroupId": ticket.group_id,
                "toGroupId": escalate_to,
                "target": clock.target,
                "clockId": clock.id,
                "version": updated.version,
            },
        )
    return updated


async def _check_ticket(
    tx: Outbox,
    ticket: TicketRecord,
    clocks: dict[SlaTarget, SlaClockRecord],
    tier: str,
    config: rules.SlaConfig,
    escalation_groups: dict[int, int | None],
    now: datetime,
) -> int:
    """Fires what is due on one locked ticket; returns how many notifications fired."""
    # The clocks as the rules say they are now (a policy may have changed since they were
    # scheduled; a stale clock is rescheduled, not fired).
    clocks = await reconcile_ticket(tx.conn, ticket, clocks, config, tier, now)
    fired = 0
    for target in rules.TARGETS:
        clock = clocks.get(target)
        if clock is None or clock.next_check_at is None or clock.next_check_at > now:
            continue
        kinds: list[SlaEventKind] = []
        checked = clock
        if clock.warned_at is None and clock.warn_at is not None and clock.warn_at <= now:
            kinds.append(SlaEventKind.WARNING)
            checked = rules.warn(checked, now)
        if clock.breached_at is None and clock.due_at is not None and clock.due_at <= now:
            kinds.append(SlaEventKind.BREACHED)
            checked = rules.breach(checked)
        if not kinds:
            continue
        fresh = await _notify_once(tx.conn, clock, kinds, now)
        (checked,) = await write_clocks(tx.conn, [checked])
        fired += len(fresh)
        if SlaEventKind.WARNING in fresh:
            data = _event_data(SlaEventKind.WARNING, clock, now, config)
            await record(tx, ticket, TicketEventType.SLA_WARNING, SYSTEM, now, data)
        if SlaEventKind.BREACHED in fresh:
            ticket = await _breach_consequences(tx, ticket, checked, config, escalation_groups, now)
            other = clocks.get(SlaTarget.RESOLUTION) if target is SlaTarget.FIRST_RESPONSE else None
            if other is not None and other.next_check_at is not None:
                # The breach changed the ticket (priority): the other clock may follow another policy now.
                clocks = (await sla_reads.latest_clocks(tx.conn, [ticket.id]))[ticket.id]
    return fired


async def _run_batch(rt: Runtime, batch: int, *, isolated: bool = False) -> tuple[int, int]:
    """One transaction: claims up to `batch` tickets with due clocks and checks them.
    Returns (rows claimed, notifications fired). `isolated` checks each ticket under a
    savepoint, so one that fails is set aside (looked at again after RETRY_AFTER) instead of
    failing the batch; the fast path does without the savepoints."""
    now = rt.clock.now()
    async with rt.transaction() as tx:
        conn = tx.conn
        rows = (await conn.execute(due_claim_query(now, batch))).all()
        if not rows:
            return 0, 0
        # A ticket with two clocks due comes twice.
        claimed = {row.id: TicketRecord(*row) for row in rows}
        tickets = sorted(claimed.values(), key=lambda ticket: ticket.id)
        config = await sla_reads.sla_config(conn)
        latest = await sla_reads.latest_clocks(conn, list(claimed))
        tiers = await tiers_of(conn, tickets, config)
        group_ids = {ticket.group_id for ticket in tickets if ticket.group_id is not None}
        escalation_groups: dict[int, int | None] = {}
        if group_ids:
            escalations = await conn.execute(select(g.c.id, g.c.escalation_group_id).where(g.c.id.in_(group_ids)))
            escalation_groups = dict(escalations.all())
        fired = 0
        failed: list[int] = []
        with config_in_use(config):
            for ticket in tickets:
                check = _check_ticket(
                    tx, ticket, latest.get(ticket.id, {}), tiers[ticket.id], config, escalation_groups, now
                )
                if not isolated:
                    fired += await check
                    continue
                published = len(tx.events)
                try:
                    async with conn.begin_nested():
                        fired += await check
                except Exception:
                    # Rolled back to the savepoint: its events must not be published either.
                    del tx.events[published:]
                    failed.append(ticket.id)
                    log.exception("SLA check of ticket %d failed; retrying in %s", ticket.id, RETRY_AFTER)
        if failed:
            await conn.execute(
                update(sc)
                .where(sc.c.ticket_id.in_(failed), sc.c.next_check_at <= now)
                .values(next_check_at=now + RETRY_AFTER)
            )
        await refresh_ticket_summaries(conn, [ticket.id for ticket in tickets])
    return len(rows), fired


async def _run_batch_safely(rt: Runtime, batch: int) -> tuple[int, int]:
    try:
        return await _run_batch(rt, batch)
    except Exception:
        # Nothing of the batch was written; again, ticket by ticket, so one bad ticket
        # cannot hold up the others.
        log.warning("an SLA batch failed; checking its tickets one by one", exc_info=True)
        return await _run_batch(rt, batch, isolated=True)


async def run_due(rt: Runtime, batch: int = BATCH) -> int:
    """Fires every WARNING and BREACHED due by now, in batches of `batch` tickets, one
    transaction each; returns how many notifications fired. Safe to run in many processes."""
    fired = 0
    while True:
        claimed, count = await _run_batch_safely(rt, batch)
        fired += count
        if claimed < batch:
            return fired


async def scheduler_round(rt: Runtime) -> float:
    """One round: fires what is due, runs a batch of a handed-over re-evaluation pass; returns
    how long to sleep before the next round (until the next clock falls due, at most
    HELPDESK_SLA_TICK_SECONDS; no time at all while work is left)."""
    async with rt.engine.connect() as conn:
        upcoming, handed_over = (await conn.execute(look_query(rt.clock.now()))).one()
    busy = False
    if upcoming is not None and upcoming <= rt.clock.now():
        fired = await run_due(rt)
        if fired:
            log.info("fired %d SLA notification(s)", fired)
        busy = True  # look again at once: what falls due next
    if handed_over:
        reevaluated = await reevaluate_step(rt)
        busy = busy or bool(reevaluated)
    cap = rt.settings.sla_tick_seconds
    if busy:
        return 0.0
    if upcoming is None:
        return cap
    return min(cap, max(0.0, (upcoming - rt.clock.now()).total_seconds()))


async def scheduler_loop(rt: Runtime) -> None:
    """Runs for ever: a round, then sleep until the next clock falls due, at most
    HELPDESK_SLA_TICK_SECONDS (so clocks created meanwhile, by this process or another, are
    seen within that time). Not a fixed full scan: an idle look is one index lookup."""
    while True:
        try:
            delay = await scheduler_round(rt)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep going: a database blip must not stop the SLA engine
            log.exception("SLA scheduler round failed")
            delay = rt.settings.sla_tick_seconds
        # Never spin: due clocks of tickets another process holds are due a moment later.
        await asyncio.sleep(max(delay, MIN_SLEEP))
