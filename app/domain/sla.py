"""SLA rules: which policy applies to a ticket, and what its clocks do.

A ticket has at most one clock per target and cycle. FIRST_RESPONSE runs from intake until the
first PUBLIC agent reply (resolving the ticket answers it too). RESOLUTION runs from intake
until RESOLVED, pauses while PENDING and resumes when the ticket leaves PENDING; a reopen
starts a new RESOLUTION cycle with a fresh target. A clock counts business seconds in its
policy's calendar: `elapsed_seconds` are banked whenever it stops or changes policy, and while
it runs `running_since` says since when. A breached clock keeps counting (remaining time goes
negative) until it is met; its state stays BREACHED and `met_at` records when it was met.

Re-evaluation (priority, category, channel, group or tier changed, or the policies changed):
a clock keeps its elapsed time and takes the new policy's target; a target the new policy does
not have, or a ticket no policy matches, leaves the clock detached (policy None, stopped, time
banked) so it can resume with its time if a policy applies again. A target a ticket gets for
the first time starts counting then: a new policy does not retroactively breach old tickets.
A breached clock keeps the target it breached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from app.domain.business_time import (
    BusinessCalendar,
    add_business_seconds,
    business_seconds_between,
    parse_clock_time,
)
from app.domain.enums import SlaClockState, SlaTarget, TicketStatus
from app.domain.records import BusinessCalendarRecord, SlaClockRecord, SlaPolicyRecord

TARGETS = (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION)
_OPEN = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD})
_DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


@dataclass(frozen=True, slots=True)
class SlaFacts:
    """What policies and clocks look at on a ticket."""

    status: str
    priority: str
    tier: str
    category: str | None
    channel: str
    group_id: int | None
    first_responded_at: datetime | None
    resolved_at: datetime | None


def calendar_of(record: BusinessCalendarRecord) -> BusinessCalendar:
    """The stored calendar (hours as [{"weekday", "start", "end"}], holidays as YYYY-MM-DD)."""
    hours: dict[int, list[tuple[Any, Any]]] = {}
    for entry in record.hours:
        hours.setdefault(int(entry["weekday"]), []).append(
            (parse_clock_time(entry["start"]), parse_clock_time(entry["end"]))
        )
    return BusinessCalendar(record.timezone, hours, frozenset(date.fromisoformat(d) for d in record.holidays))


@dataclass(frozen=True, slots=True)
class SlaConfig:
    """Every policy (by position, then id) and the calendars they use."""

    policies: tuple[SlaPolicyRecord, ...] = ()
    calendars: Mapping[int, BusinessCalendar] = field(default_factory=dict)

    @classmethod
    def of(cls, policies: Iterable[SlaPolicyRecord], calendars: Iterable[BusinessCalendarRecord]) -> SlaConfig:
        return cls(tuple(sorted(policies, key=lambda p: (p.position, p.id))), {c.id: calendar_of(c) for c in calendars})

    def policy(self, policy_id: int | None) -> SlaPolicyRecord | None:
        return next((p for p in self.policies if p.id == policy_id), None) if policy_id is not None else None

    def calendar(self, policy: SlaPolicyRecord | None) -> BusinessCalendar | None:
        """Null means around the clock (no calendar, or one that no longer exists)."""
        if policy is None or policy.calendar_id is None:
            return None
        return self.calendars.get(policy.calendar_id)

    def applicable(self, facts: SlaFacts) -> SlaPolicyRecord | None:
        return applicable_policy(self.policies, facts)


def policy_matches(policy: SlaPolicyRecord, facts: SlaFacts) -> bool:
    """Every condition the policy sets must hold; an empty condition holds for any ticket."""
    if not policy.enabled:
        return False
    if policy.match_priorities and facts.priority not in policy.match_priorities:
        return False
    if policy.match_tiers and facts.tier not in policy.match_tiers:
        return False
    if policy.match_categories and (facts.category or "") not in policy.match_categories:
        return False
    if policy.match_channels and facts.channel not in policy.match_channels:
        return False
    return not policy.match_group_ids or facts.group_id in policy.match_group_ids


def applicable_policy(policies: Sequence[SlaPolicyRecord], facts: SlaFacts) -> SlaPolicyRecord | None:
    """The first enabled policy by (position, id) whose conditions all match, if any."""
    for policy in sorted(policies, key=lambda p: (p.position, p.id)):
        if policy_matches(policy, facts):
            return policy
    return None


def target_seconds(policy: SlaPolicyRecord | None, target: SlaTarget) -> int | None:
    if policy is None:
        return None
    return policy.first_response_seconds if target is SlaTarget.FIRST_RESPONSE else policy.resolution_seconds


def warning_threshold(seconds: int, percent: int) -> int:
    """Business seconds after which WARNING fires (rounded up: never before the share elapsed)."""
    return math.ceil(seconds * percent / 100)


def counts_while(target: SlaTarget, status: TicketStatus) -> bool:
    """Whether an unfinished clock counts in this status (RESOLUTION pauses while PENDING)."""
    if status not in _OPEN:
        return False
    return not (target is SlaTarget.RESOLUTION and status is TicketStatus.PENDING)


def finished_at(target: SlaTarget, facts: SlaFacts) -> datetime | None:
    """When the ticket met this target, or None while it has not."""
    status = TicketStatus(facts.status)
    resolved = facts.resolved_at if status in _DONE else None
    if target is SlaTarget.FIRST_RESPONSE:
        return facts.first_responded_at or resolved
    return resolved


# ---------------------------------------------------------------- one clock


def _with_state(clock: SlaClockRecord) -> SlaClockRecord:
    if clock.breached_at is not None:
        state = SlaClockState.BREACHED
    elif clock.met_at is not None:
        state = SlaClockState.MET
    elif clock.running_since is not None:
        state = SlaClockState.RUNNING
    else:
        state = SlaClockState.PAUSED
    return replace(clock, state=state.value)


def elapsed_at(clock: SlaClockRecord, moment: datetime, calendar: BusinessCalendar | None) -> int:
    """Business seconds consumed by `moment` (banked time plus the current running stretch)."""
    if clock.running_since is None or moment <= clock.running_since:
        return clock.elapsed_seconds
    return clock.elapsed_seconds + business_seconds_between(clock.running_since, moment, calendar)


def remaining_seconds(clock: SlaClockRecord, now: datetime, calendar: BusinessCalendar | None) -> int:
    """Business seconds left; negative once the target is exceeded; frozen once met."""
    moment = clock.met_at if clock.met_at is not None else now
    return clock.target_seconds - elapsed_at(clock, moment, calendar)


def new_clock(
    ticket_id: int, target: SlaTarget, cycle: int, seconds: int, policy_id: int, now: datetime, counting: bool
) -> SlaClockRecord:
    return _with_state(
        SlaClockRecord(
            id=0,
            ticket_id=ticket_id,
            policy_id=policy_id,
            target=target.value,
            cycle=cycle,
            state=SlaClockState.RUNNING.value,
            target_seconds=seconds,
            elapsed_seconds=0,
            started_at=now,
            running_since=now if counting else None,
            due_at=None,
            warn_at=None,
            warned_at=None,
            breached_at=None,
            met_at=None,
            next_check_at=None,
        )
    )


def stop(clock: SlaClockRecord, moment: datetime, calendar: BusinessCalendar | None) -> SlaClockRecord:
    """Banks the running stretch up to `moment` and stops counting."""
    if clock.running_since is None:
        return clock
    return _with_state(replace(clock, elapsed_seconds=elapsed_at(clock, moment, calendar), running_since=None))


def start(clock: SlaClockRecord, now: datetime) -> SlaClockRecord:
    if clock.running_since is not None or clock.met_at is not None:
        return clock
    return _with_state(replace(clock, running_since=now))


def meet(clock: SlaClockRecord, at: datetime, calendar: BusinessCalendar | None) -> SlaClockRecord:
    stopped = stop(clock, at, calendar)
    return _with_state(replace(stopped, met_at=at, next_check_at=None))


def warn(clock: SlaClockRecord, now: datetime) -> SlaClockRecord:
    """WARNING fired: from now on only the due time is left to check."""
    return _with_state(replace(clock, warned_at=now, next_check_at=clock.due_at))


def breach(clock: SlaClockRecord) -> SlaClockRecord:
    """BREACHED fired: breached at the due instant; nothing is left to check."""
    return _with_state(replace(clock, breached_at=clock.due_at, next_check_at=None))


def scheduled(clock: SlaClockRecord, calendar: BusinessCalendar | None, warning_percent: int) -> SlaClockRecord:
    """Due and warning instants, and when the scheduler must look next, for the clock as it is.

    A stopped clock has no due time (it depends on when it resumes); a breached one keeps the
    instant it breached at; a met one keeps its last due time for the record.
    """
    if clock.breached_at is not None or clock.met_at is not None:
        return replace(clock, next_check_at=None)
    if clock.running_since is None or clock.policy_id is None:
        return replace(clock, due_at=None, warn_at=None, next_check_at=None)
    since, elapsed = clock.running_since, clock.elapsed_seconds
    due = add_business_seconds(since, max(clock.target_seconds - elapsed, 0), calendar)
    threshold = warning_threshold(clock.target_seconds, warning_percent)
    warn_at = add_business_seconds(since, max(threshold - elapsed, 0), calendar)
    return replace(clock, due_at=due, warn_at=warn_at, next_check_at=due if clock.warned_at else warn_at)


# ---------------------------------------------------------------- a ticket's clocks


def reconcile(
    ticket_id: int,
    facts: SlaFacts,
    latest: Mapping[SlaTarget, SlaClockRecord],
    config: SlaConfig,
    now: datetime,
) -> list[SlaClockRecord]:
    """The ticket's current clock per target after applying the rules to its facts as they are
    now: existing clocks updated (same id), new ones with id 0. `latest` is the highest cycle of
    each target. Only clocks that differ from `latest` are returned."""
    status = TicketStatus(facts.status)
    policy = config.applicable(facts)
    calendar = config.calendar(policy)
    result: list[SlaClockRecord] = []
    for target in TARGETS:
        clock = latest.get(target)
        seconds = target_seconds(policy, target)
        if clock is not None and clock.met_at is not None:
            # Finished. Only a reopened ticket starts a new RESOLUTION cycle.
            if target is SlaTarget.RESOLUTION and seconds and policy and status in _OPEN:
                counting = counts_while(target, status)
                fresh = new_clock(ticket_id, target, clock.cycle + 1, seconds, policy.id, now, counting)
                result.append(scheduled(fresh, calendar, policy.warning_at_percent))
            continue
        if clock is None:
            if seconds and policy and status in _OPEN and finished_at(target, facts) is None:
                fresh = new_clock(ticket_id, target, 1, seconds, policy.id, now, counts_while(target, status))
                result.append(scheduled(fresh, calendar, policy.warning_at_percent))
            continue
        old_policy = config.policy(clock.policy_id)
        old_calendar = config.calendar(old_policy)
        updated = clock
        if not seconds or policy is None:
            updated = replace(stop(updated, now, old_calendar), policy_id=None)
        elif policy.id != clock.policy_id or seconds != clock.target_seconds:
            # Elapsed time is kept (banked in the calendar it ran in); the target changes.
            updated = stop(updated, now, old_calendar)
            if updated.breached_at is None:
                updated = replace(updated, target_seconds=seconds)
            updated = replace(updated, policy_id=policy.id)
        current_calendar = config.calendar(config.policy(updated.policy_id))
        done = finished_at(target, facts)
        if done is not None:
            updated = meet(updated, max(done, updated.running_since or done), current_calendar)
        elif updated.policy_id is not None and counts_while(target, status):
            updated = start(updated, now)
        else:
            updated = stop(updated, now, current_calendar)
        percent = policy.warning_at_percent if policy is not None and updated.policy_id == policy.id else 80
        updated = _with_state(scheduled(updated, current_calendar, percent))
        if updated != clock:
            result.append(updated)
    return result


# ---------------------------------------------------------------- what Ticket.sla shows


def ticket_summary(clocks: Iterable[SlaClockRecord]) -> tuple[datetime | None, bool]:
    """A ticket's `sla_due_at` and `sla_at_risk` from its clocks (the rule that
    app.services.sla.refresh_ticket_summaries applies in SQL): the earliest due time among the
    clocks that count (running, not met, under a policy), and whether one of them has warned or
    breached."""
    counting = [c for c in clocks if c.running_since is not None and c.met_at is None and c.policy_id is not None]
    due = [c.due_at for c in counting if c.due_at is not None]
    return (min(due) if due else None), any(c.warned_at is not None or c.breached_at is not None for c in counting)


@dataclass(frozen=True, slots=True)
class SlaClockView:
    target: str
    state: str
    due_at: datetime | None
    remaining_seconds: int
    warned_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None


@dataclass(frozen=True, slots=True)
class TicketSlaView:
    policy: SlaPolicyRecord
    calendar: BusinessCalendarRecord | None
    first_response: SlaClockView | None
    resolution: SlaClockView | None


def ticket_sla_view(
    entries: Sequence[tuple[SlaClockRecord, SlaPolicyRecord | None, BusinessCalendarRecord | None]], now: datetime
) -> TicketSlaView | None:
    """A ticket's SLA as shown: its current clock per target under the policy that applies
    (the RESOLUTION clock's, else FIRST_RESPONSE's). Detached clocks are not shown; a ticket
    with no attached clock has no SLA."""
    views: dict[SlaTarget, SlaClockView] = {}
    shown: tuple[SlaPolicyRecord, BusinessCalendarRecord | None] | None = None
    for clock, policy, calendar_record in sorted(entries, key=lambda e: TARGETS.index(SlaTarget(e[0].target))):
        if policy is None:
            continue
        calendar = calendar_of(calendar_record) if calendar_record is not None else None
        views[SlaTarget(clock.target)] = SlaClockView(
            target=clock.target,
            state=clock.state,
            due_at=clock.due_at,
            remaining_seconds=remaining_seconds(clock, now, calendar),
            warned_at=clock.warned_at,
            breached_at=clock.breached_at,
            met_at=clock.met_at,
        )
        shown = (policy, calendar_record)  # RESOLUTION sorts last, so its policy wins
    if shown is None:
        return None
    return TicketSlaView(
        policy=shown[0],
        calendar=shown[1],
        first_response=views.get(SlaTarget.FIRST_RESPONSE),
        resolution=views.get(SlaTarget.RESOLUTION),
    )
