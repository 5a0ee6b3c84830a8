"""The ticket lifecycle as pure rules: the whole (status, action) table, the conversation's
effect on status, and random walks over the graph."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.domain.enums import ErrorCode, TicketStatus
from app.domain.errors import InvalidTransition
from app.domain.lifecycle import Action, after_agent_public_reply, after_customer_reply, allowed, next_status

S = TicketStatus
A = Action

# The graph of the API contract, written out independently of app.domain.lifecycle:
# (from, action) -> to. Every pair not listed must be refused.
CONTRACT: dict[tuple[TicketStatus, Action], TicketStatus] = {
    (S.NEW, A.START): S.OPEN,
    (S.OPEN, A.SET_PENDING): S.PENDING,
    (S.OPEN, A.HOLD): S.ON_HOLD,
    (S.PENDING, A.RESUME): S.OPEN,
    (S.ON_HOLD, A.RESUME): S.OPEN,
    (S.OPEN, A.RESOLVE): S.RESOLVED,
    (S.PENDING, A.RESOLVE): S.RESOLVED,
    (S.ON_HOLD, A.RESOLVE): S.RESOLVED,
    (S.RESOLVED, A.REOPEN): S.OPEN,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    # A merge closes its source from anywhere but CLOSED.
    (S.NEW, A.MERGE_CLOSE): S.CLOSED,
    (S.OPEN, A.MERGE_CLOSE): S.CLOSED,
    (S.PENDING, A.MERGE_CLOSE): S.CLOSED,
    (S.ON_HOLD, A.MERGE_CLOSE): S.CLOSED,
    (S.RESOLVED, A.MERGE_CLOSE): S.CLOSED,
}

# What each action asks for, whether or not it is allowed from where the ticket is.
REQUESTED: dict[Action, TicketStatus] = {
    A.START: S.OPEN,
    A.SET_PENDING: S.PENDING,
    A.HOLD: S.ON_HOLD,
    A.RESUME: S.OPEN,
    A.RESOLVE: S.RESOLVED,
    A.REOPEN: S.OPEN,
    A.CLOSE: S.CLOSED,
    A.MERGE_CLOSE: S.CLOSED,
}

ALL_PAIRS = [(status, action) for status in S for action in A]
REFUSED = [pair for pair in ALL_PAIRS if pair not in CONTRACT]


def test_every_action_is_covered_by_the_table() -> None:
    assert set(REQUESTED) == set(A)
    assert len(CONTRACT) + len(REFUSED) == len(S) * len(A)


@pytest.mark.parametrize(("status", "action"), sorted(CONTRACT, key=str), ids=str)
def test_allowed_transition_leads_to_the_contract_target(status: TicketStatus, action: Action) -> None:
    assert allowed(status, action)
    assert next_status(status, action) is CONTRACT[status, action]


@pytest.mark.parametrize(("status", "action"), REFUSED, ids=str)
def test_refused_transition_names_current_and_requested_status(status: TicketStatus, action: Action) -> None:
    assert not allowed(status, action)
    with pytest.raises(InvalidTransition) as caught:
        next_status(status, action)
    assert caught.value.code is ErrorCode.INVALID_TRANSITION
    message = caught.value.message
    assert status.value in message
    assert REQUESTED[action].value in message


@pytest.mark.parametrize("action", list(A), ids=str)
def test_closed_refuses_every_action(action: Action) -> None:
    assert not allowed(S.CLOSED, action)
    with pytest.raises(InvalidTransition, match="CLOSED"):
        next_status(S.CLOSED, action)


def test_refusal_message_for_a_reachable_but_wrong_source_reads_naturally() -> None:
    with pytest.raises(InvalidTransition) as caught:
        next_status(S.NEW, A.RESOLVE)
    assert "from NEW to RESOLVED" in caught.value.message


# ---------------------------------------------------------------- the conversation


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.NEW, (S.NEW, None)),
        (S.OPEN, (S.OPEN, None)),
        (S.PENDING, (S.OPEN, A.RESUME)),
        (S.ON_HOLD, (S.ON_HOLD, None)),
        (S.RESOLVED, (S.OPEN, A.REOPEN)),
    ],
    ids=str,
)
def test_customer_reply(status: TicketStatus, expected: tuple[TicketStatus, Action | None]) -> None:
    assert after_customer_reply(status) == expected


def test_customer_reply_on_closed_ticket_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="CLOSED"):
        after_customer_reply(S.CLOSED)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.NEW, (S.OPEN, A.START)),
        (S.OPEN, (S.OPEN, None)),
        (S.PENDING, (S.PENDING, None)),
        (S.ON_HOLD, (S.ON_HOLD, None)),
        (S.RESOLVED, (S.RESOLVED, None)),
        (S.CLOSED, (S.CLOSED, None)),
    ],
    ids=str,
)
def test_agent_public_reply(status: TicketStatus, expected: tuple[TicketStatus, Action | None]) -> None:
    assert after_agent_public_reply(status) == expected


@pytest.mark.parametrize("status", [s for s in S if s is not S.CLOSED], ids=str)
def test_conversation_actions_are_lifecycle_edges(status: TicketStatus) -> None:
    """The services apply the returned action through the state machine: it must agree."""
    for rule_ in (after_customer_reply, after_agent_public_reply):
        target, action = rule_(status)
        if action is not None:
            assert CONTRACT[status, action] is target


# ---------------------------------------------------------------- random walks

REACHABLE_FROM_NEW = {S.NEW}
_frontier = [S.NEW]
while _frontier:
    _here = _frontier.pop()
    for (_source, _), _target in CONTRACT.items():
        if _source is _here and _target not in REACHABLE_FROM_NEW:
            REACHABLE_FROM_NEW.add(_target)
            _frontier.append(_target)

EDGES = {(source, target) for (source, _), target in CONTRACT.items()}
CONVERSATION = ("customer_reply", "agent_public_reply")


def test_every_status_is_reachable_from_new() -> None:
    assert set(S) == REACHABLE_FROM_NEW


@given(st.lists(st.sampled_from([*A, *CONVERSATION]), max_size=40))
def test_random_sequence_stays_on_the_graph(steps: list[Action | str]) -> None:
    status = S.NEW
    for step in steps:
        before = status
        try:
            if step == "customer_reply":
                status, _ = after_customer_reply(status)
            elif step == "agent_public_reply":
                status, _ = after_agent_public_reply(status)
            else:
                status = next_status(status, Action(step))
        except InvalidTransition:
            assert status is before
            continue
        assert status in REACHABLE_FROM_NEW
        assert status is before or (before, status) in EDGES
        if before is S.CLOSED:
            assert status is S.CLOSED


class LifecycleMachine(RuleBasedStateMachine):
    """Drives the pure rules from NEW with every action and conversation event; a model of the
    contract graph predicts each outcome."""

    def __init__(self) -> None:
        super().__init__()
        self.status = S.NEW
        self.was_closed = False

    @rule(action=st.sampled_from(list(A)))
    def act(self, action: Action) -> None:
        expected = CONTRACT.get((self.status, action))
        if expected is None:
            with pytest.raises(InvalidTransition) as caught:
                next_status(self.status, action)
            assert self.status.value in caught.value.message
            assert REQUESTED[action].value in caught.value.message
        else:
            self.status = next_status(self.status, action)
            assert self.status is expected

    @rule()
    def customer_reply(self) -> None:
        if self.status is S.CLOSED:
            with pytest.raises(InvalidTransition):
                after_customer_reply(self.status)
            return
        target, action = after_customer_reply(self.status)
        if action is not None:
            assert CONTRACT[self.status, action] is target
        self.status = target

    @rule()
    def agent_public_reply(self) -> None:
        target, action = after_agent_public_reply(self.status)
        if action is not None:
            assert CONTRACT[self.status, action] is target
        else:
            assert target is self.status
        self.status = target

    @precondition(lambda self: self.status is S.CLOSED)
    @rule(action=st.sampled_from(list(A)))
    def closed_refuses(self, action: Action) -> None:
        with pytest.raises(InvalidTransition):
            next_status(self.status, action)

    @invariant()
    def on_the_graph_and_closed_is_final(self) -> None:
        assert self.status in REACHABLE_FROM_NEW
        if self.was_closed:
            assert self.status is S.CLOSED
        self.was_closed = self.status is S.CLOSED


TestLifecycleMachine = LifecycleMachine.TestCase
TestLifecycleMachine.settings = settings(max_examples=200, stateful_step_count=30)
