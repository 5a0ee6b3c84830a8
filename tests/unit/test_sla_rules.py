"""SLA rules, pure: which policy applies, and how clocks run, pause, meet and re-target."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.enums import SlaClockState, SlaTarget
from app.domain.records import BusinessCalendarRecord, SlaClockRecord, SlaPolicyRecord
from app.domain.sla import (
    SlaConfig,
    SlaFacts,
    applicable_policy,
    breach,
    reconcile,
    remaining_seconds,
    ticket_sla_view,
    warn,
    warning_threshold,
)

T0 = datetime(2031, 1, 6, 10, 0, tzinfo=UTC)  # a Monday
FR, RES = SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION


def policy(pk: int = 1, **kwargs: Any) -> SlaPolicyRecord:
    values: dict[str, Any] = {
        "id": pk,
        "name": f"policy {pk}",
        "position": pk * 10,
        "enabled": True,
        "match_priorities": [],
        "match_tiers": [],
        "match_categories": [],
        "match_channels": [],
        "match_group_ids": [],
        "first_response_seconds": 3600,
        "resolution_seconds": 4 * 3600,
        "warning_at_percent": 75,
        "calendar_id": None,
        "escalate_priority_on_breach": True,
    }
    return SlaPolicyRecord(**{**values, **kwargs})


def facts(**kwargs: Any) -> SlaFacts:
    values: dict[str, Any] = {
        "status": "NEW",
        "priority": "NORMAL",
        "tier": "STANDARD",
        "category": None,
        "channel": "EMAIL",
        "group_id": None,
        "first_responded_at": None,
        "resolved_at": None,
    }
    return SlaFacts(**{**values, **kwargs})


class Ticket:
    """A ticket's clocks driven through reconcile, as the service does (ids given on 'store')."""

    def __init__(self, config: SlaConfig, at: datetime = T0, **kwargs: Any) -> None:
        self.config = config
        self.facts = facts(**kwargs)
        self.clocks: dict[SlaTarget, SlaClockRecord] = {}
        self.history: list[SlaClockRecord] = []
        self.sync(at)

    def sync(self, at: datetime, **changes: Any) -> list[SlaClockRecord]:
        self.facts = replace(self.facts, **changes)
        changed = reconcile(1, self.facts, self.clocks, self.config, at)
        for clock in changed:
            stored = clock if clock.id else replace(clock, id=len(self.history) + 1)
            self.history.append(stored)
            self.clocks[SlaTarget(stored.target)] = stored
        return changed

    def __getitem__(self, target: SlaTarget) -> SlaClockRecord:
        return self.clocks[target]


# ---------------------------------------------------------------- matching


def test_the_first_enabled_matching_policy_by_position_applies() -> None:
    vip = policy(1, position=10, match_tiers=["VIP"], match_categories=["technical"])
    urgent = policy(2, position=20, match_priorities=["URGENT", "HIGH"])
    disabled = policy(3, position=5, enabled=False)
    fallback = policy(4, position=100)
    policies = [fallback, urgent, disabled, vip]
    assert applicable_policy(policies, facts(tier="VIP", category="technical")) == vip
    assert applicable_policy(policies, facts(tier="VIP", category="refund", priority="HIGH")) == urgent
    assert applicable_policy(policies, facts(tier="VIP")) == fallback
    assert applicable_policy([vip, urgent], facts()) is None


def test_equal_positions_are_tried_in_id_order() -> None:
    first, second = policy(1, position=10), policy(2, position=10)
    assert applicable_policy([second, first], facts()) == first


def test_every_condition_must_hold() -> None:
    p = policy(match_channels=["CHAT"], match_group_ids=[7])
    assert applicable_policy([p], facts(channel="CHAT", group_id=7)) == p
    assert applicable_policy([p], facts(channel="CHAT", group_id=8)) is None
    assert applicable_policy([p], facts(channel="EMAIL", group_id=7)) is None
    assert applicable_policy([p], facts(channel="CHAT", group_id=None)) is None


def test_warning_threshold_rounds_up() -> None:
    assert warning_threshold(3600, 80) == 2880
    assert warning_threshold(4, 80) == 4  # 3.2 -> 4: never before the share has elapsed
    assert warning_threshold(10, 1) == 1


# ---------------------------------------------------------------- clocks


def test_intake_starts_both_clocks_with_due_and_warning_instants() -> None:
    ticket = Ticket(SlaConfig.of([policy()], []))
    fr, res = ticket[FR], ticket[RES]
    assert (fr.state, fr.cycle, fr.target_seconds) == ("RUNNING", 1, 3600)
    assert fr.due_at == T0 + timedelta(hours=1)
    assert fr.warn_at == T0 + timedelta(minutes=45)
    assert fr.next_check_at == fr.warn_at
    assert res.due_at == T0 + timedelta(hours=4)


def test_no_policy_no_clocks() -> None:
    ticket = Ticket(SlaConfig.of([policy(match_tiers=["VIP"])], []))
    assert ticket.clocks == {}


def test_a_policy_with_one_target_starts_one_clock() -> None:
    ticket = Ticket(SlaConfig.of([policy(resolution_seconds=None)], []))
    assert set(ticket.clocks) == {FR}


def test_first_public_reply_meets_first_response() -> None:
    ticket = Ticket(SlaConfig.of([policy()], []))
    reply = T0 + timedelta(minutes=20)
    ticket.sync(reply, first_responded_at=reply, status="OPEN")
    fr = ticket[FR]
    assert (fr.state, fr.met_at, fr.elapsed_seconds, fr.next_check_at) == ("MET", reply, 1200, None)
    assert remaining_seconds(fr, reply + timedelta(days=3), None) == 2400
    assert ticket[RES].state == "RUNNING"


def test_pending_pauses_resolution_only_and_the_due_time_moves_by_the_pause() -> None:
    ticket = Ticket(SlaConfig.of([policy()], []), status="OPEN")
    ticket.sync(T0 + timedelta(hours=1), status="PENDING")
    res = ticket[RES]
    assert (res.state, res.elapsed_seconds, res.due_at, res.next_check_at) == ("PAUSED", 3600, None, None)
    assert remaining_seconds(res, T0 + timedelta(days=5), None) == 3 * 3600
    assert ticket[FR].state == "RUNNING"  # first response does not wait for the customer
    ticket.sync(T0 + timedelta(hours=3), status="OPEN")
    res = ticket[RES]
    assert res.state == "RUNNING"
    assert res.due_at == T0 + timedelta(hours=6)  # 4h target + 2h paused


def test_resolving_meets_resolution_and_an_unanswered_first_response() -> None:
    ticket = Ticket(SlaConfig.of([policy()], []), status="OPEN")
    done = T0 + timedelta(minutes=30)
    ticket.sync(done, status="RESOLVED", resolved_at=done)
    assert (ticket[FR].state, ticket[FR].met_at) == ("MET", done)
    assert (ticket[RES].state, ticket[RES].met_at, ticket[RES].elapsed_seconds) == ("MET", done, 1800)


def test_a_reopen_starts_a_new_resolution_cycle_with_a_fresh_target() -> None:
    ticket = Ticket(SlaConfig.of([policy()], []), status="OPEN")
    ticket.sync(T0 + timedelta(hours=1), status="RESOLVED", resolved_at=T0 + timedelta(hours=1))
    first_cycle = ticket[RES]
    reopened = T0 + timedelta(hours=2)
    changed = ticket.sync(reopened, status="OPEN", resolved_at=None)
    assert [c.target for c in changed] == ["RESOLUTION"]
    second = ticket[RES]
    assert (second.cycle, second.id == first_cycle.id, second.elapsed_seconds) == (2, False, 0)
    assert second.due_at == reopened + timedelta(hours=4)
    assert ticket[FR].state == "MET"


def test_re_evaluation_keeps_the_elapsed_time_and_takes_the_new_target() -> None:
    normal = policy(1, position=20, first_response_seconds=4 * 3600)
    urgent = policy(2, position=10, match_priorities=["URGENT"], first_response_seconds=3600)
    ticket = Ticket(SlaConfig.of([normal, urgent], []))
    assert ticket[FR].due_at == T0 + timedelta(hours=4)
    ticket.sync(T0 + timedelta(minutes=30), priority="URGENT")
    fr = ticket[FR]
    assert (fr.policy_id, fr.target_seconds, fr.elapsed_seconds) == (2, 3600, 1800)
    assert fr.due_at == T0 + timedelta(hours=1)


def test_no_policy_any_more_detaches_the_clock_and_a_new_match_resumes_it() -> None:
    vip = policy(match_tiers=["VIP"])
    ticket = Ticket(SlaConfig.of([vip], []), tier="VIP")
    ticket.sync(T0 + timedelta(minutes=10), tier="STANDARD")
    fr = ticket[FR]
    assert (fr.policy_id, fr.state, fr.elapsed_seconds, fr.next_check_at) == (None, "PAUSED", 600, None)
    ticket.sync(T0 + timedelta(minutes=40), tier="VIP")
    fr = ticket[FR]
    assert (fr.policy_id, fr.state, fr.elapsed_seconds) == (vip.id, "RUNNING", 600)
    assert fr.due_at == T0 + timedelta(minutes=40 + 50)


def test_a_new_policy_does_not_breach_old_tickets_retroactively() -> None:
    ticket = Ticket(SlaConfig(), status="OPEN")
    assert ticket.clocks == {}
    ticket.config = SlaConfig.of([policy()], [])
    later = T0 + timedelta(days=2)
    ticket.sync(later)
    assert ticket[FR].due_at == later + timedelta(hours=1)


def test_a_breached_clock_keeps_counting_and_keeps_its_target_until_met() -> None:
    normal = policy(1, position=20, first_response_seconds=3600)
    relaxed = policy(2, position=10, match_priorities=["HIGH"], first_response_seconds=8 * 3600)
    ticket = Ticket(SlaConfig.of([normal, relaxed], []))
    fr = warn(ticket[FR], T0 + timedelta(minutes=45))
    fr = breach(fr)
    ticket.clocks[FR] = fr
    assert (fr.state, fr.breached_at, fr.next_check_at) == ("BREACHED", T0 + timedelta(hours=1), None)
    assert remaining_seconds(fr, T0 + timedelta(hours=2), None) == -3600
    # Priority raised on breach: the other policy applies, but the breached clock keeps its target.
    ticket.sync(T0 + timedelta(hours=1), priority="HIGH")
    assert (ticket[FR].target_seconds, ticket[FR].state) == (3600, "BREACHED")
    replied = T0 + timedelta(hours=3)
    ticket.sync(replied, first_responded_at=replied, status="OPEN")
    fr = ticket[FR]
    assert (fr.state, fr.met_at) == ("BREACHED", replied)
    assert remaining_seconds(fr, T0 + timedelta(days=9), None) == -2 * 3600


def test_closing_by_merge_stops_the_clocks() -> None:
    ticket = Ticket(SlaConfig.of([policy()], []), status="OPEN")
    ticket.sync(T0 + timedelta(minutes=5), status="CLOSED")
    assert {c.state for c in ticket.clocks.values()} == {"PAUSED"}
    assert all(c.next_check_at is None for c in ticket.clocks.values())


def test_business_calendar_clocks_count_business_time() -> None:
    calendar = BusinessCalendarRecord(
        1, "Shanghai", "Asia/Shanghai", [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)], []
    )
    vip = policy(calendar_id=1, first_response_seconds=3600)
    friday_1730 = datetime(2031, 1, 3, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
    ticket = Ticket(SlaConfig.of([vip], [calendar]), at=friday_1730)
    assert ticket[FR].due_at == datetime(2031, 1, 6, 1, 30, tzinfo=UTC)  # Monday 09:30 in Shanghai
    assert ticket[FR].warn_at == datetime(2031, 1, 6, 1, 15, tzinfo=UTC)  # 45 minutes in


def test_what_ticket_sla_shows() -> None:
    config = SlaConfig.of([policy()], [])
    ticket = Ticket(config, status="OPEN")
    now = T0 + timedelta(minutes=15)
    view = ticket_sla_view([(c, config.policies[0], None) for c in ticket.clocks.values()], now)
    assert view is not None and view.policy.id == 1
    assert view.first_response is not None and view.first_response.remaining_seconds == 45 * 60
    assert view.resolution is not None and view.resolution.state == "RUNNING"
    assert ticket_sla_view([(c, None, None) for c in ticket.clocks.values()], now) is None


# ---------------------------------------------------------------- a property over event sequences

events = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=4 * 3600),
        st.sampled_from(["pending", "open", "priority", "resolve", "reopen", "reply"]),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(events)
def test_clock_invariants_hold_whatever_happens(steps: list[tuple[int, str]]) -> None:
    config = SlaConfig.of([policy(1, position=20), policy(2, position=10, match_priorities=["URGENT"])], [])
    ticket = Ticket(config, status="OPEN")
    now = T0
    for seconds, step in steps:
        now += timedelta(seconds=seconds)
        status = ticket.facts.status
        match step:
            case "pending" if status == "OPEN":
                ticket.sync(now, status="PENDING")
            case "open" if status == "PENDING":
                ticket.sync(now, status="OPEN")
            case "priority":
                ticket.sync(now, priority="URGENT" if ticket.facts.priority == "NORMAL" else "NORMAL")
            case "resolve" if status in ("OPEN", "PENDING"):
                ticket.sync(now, status="RESOLVED", resolved_at=now)
            case "reopen" if status == "RESOLVED":
                ticket.sync(now, status="OPEN", resolved_at=None)
            case "reply" if ticket.facts.first_responded_at is None and status != "RESOLVED":
                ticket.sync(now, first_responded_at=now)
        for clock in ticket.clocks.values():
            state = SlaClockState(clock.state)
            assert (state is SlaClockState.RUNNING) == (clock.running_since is not None and clock.met_at is None)
            assert (clock.next_check_at is not None) == (state is SlaClockState.RUNNING)
            assert 0 <= clock.elapsed_seconds <= (now - clock.started_at).total_seconds()
            if state is SlaClockState.RUNNING:
                assert clock.due_at is not None and clock.warn_at is not None
                assert clock.warn_at <= clock.due_at
                assert clock.due_at - now <= timedelta(seconds=clock.target_seconds)
        res = ticket.clocks[SlaTarget.RESOLUTION]
        paused = ticket.facts.status == "PENDING"
        assert (res.state == "PAUSED") == paused
