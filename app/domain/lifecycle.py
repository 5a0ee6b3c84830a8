"""The ticket lifecycle: which status each action leads to, from where.

    NEW --start--> OPEN --set_pending--> PENDING --resume--> OPEN
                   OPEN --hold---------> ON_HOLD --resume--> OPEN
    OPEN | PENDING | ON_HOLD --resolve--> RESOLVED --close--> CLOSED (final)
                                          RESOLVED --reopen--> OPEN

A merge closes its source from any status but CLOSED (the source lives on as a
DUPLICATE_OF link); nothing ever leaves CLOSED.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.domain.enums import TicketStatus
from app.domain.errors import InvalidTransition

S = TicketStatus


class Action(StrEnum):
    START = "start"
    SET_PENDING = "setPending"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"
    MERGE_CLOSE = "mergeClose"


TRANSITIONS: dict[Action, tuple[frozenset[TicketStatus], TicketStatus]] = {
    Action.START: (frozenset({S.NEW}), S.OPEN),
    Action.SET_PENDING: (frozenset({S.OPEN}), S.PENDING),
    Action.HOLD: (frozenset({S.OPEN}), S.ON_HOLD),
    Action.RESUME: (frozenset({S.PENDING, S.ON_HOLD}), S.OPEN),
    Action.RESOLVE: (frozenset({S.OPEN, S.PENDING, S.ON_HOLD}), S.RESOLVED),
    Action.REOPEN: (frozenset({S.RESOLVED}), S.OPEN),
    Action.CLOSE: (frozenset({S.RESOLVED}), S.CLOSED),
    Action.MERGE_CLOSE: (frozenset({S.NEW, S.OPEN, S.PENDING, S.ON_HOLD, S.RESOLVED}), S.CLOSED),
}


def allowed(current: TicketStatus, action: Action) -> bool:
    sources, _ = TRANSITIONS[action]
    return current in sources


def next_status(current: TicketStatus, action: Action) -> TicketStatus:
    """The status `action` leads to from `current`, or InvalidTransition naming both."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        if current is S.CLOSED:
            raise InvalidTransition(f"the ticket is CLOSED and cannot become {target.value}; open a new ticket")
        allowed_from = " or ".join(sorted(s.value for s in sources))
        raise InvalidTransition(
            f"cannot move the ticket from {current.value} to {target.value} (only from {allowed_from})"
        )
    return target


def action_towards(current: TicketStatus, target: TicketStatus) -> Action | None:
    """The action that takes a ticket from `current` to `target` (None: it is there already), for
    rules that name a status rather than an action (macros, automations). When no action gets
    there from `current`, one that reaches `target` is returned all the same, so that
    `next_status` refuses it in its own words; NEW is reached by none."""
    if current is target:
        return None
    reaching = [a for a, (_, reached) in TRANSITIONS.items() if reached is target and a is not Action.MERGE_CLOSE]
    if not reaching:
        raise InvalidTransition(f"a ticket never goes back to {target.value} (it is {current.value})")
    return next((a for a in reaching if current in TRANSITIONS[a][0]), reaching[0])


def after_customer_reply(current: TicketStatus) -> tuple[TicketStatus, Action | None]:
    """A customer's message moves a PENDING ticket back to OPEN and reopens a RESOLVED one;
    a CLOSED ticket refuses it (a follow-up is a new ticket)."""
    if current is S.PENDING:
        return S.OPEN, Action.RESUME
    if current is S.RESOLVED:
        return S.OPEN, Action.REOPEN
    if current is S.CLOSED:
        raise InvalidTransition("the ticket is CLOSED and cannot take a reply; open a new ticket")
    return current, None


def after_agent_public_reply(current: TicketStatus) -> tuple[TicketStatus, Action | None]:
    """An agent answering a NEW ticket has started work on it."""
    if current is S.NEW:
        return S.OPEN, Action.START
    return current, None


# What may still change on a CLOSED ticket besides internal notes: tags, so that what is learnt
# afterwards (a late satisfaction score, a report's classification) can still be recorded.
EDITABLE_WHEN_CLOSED = frozenset({"tags"})


def check_edit(current: TicketStatus, fields: Iterable[str]) -> None:
    """A CLOSED ticket is final: edits other than EDITABLE_WHEN_CLOSED are refused, naming the fields."""
    if current is not S.CLOSED:
        return
    refused = sorted(set(fields) - EDITABLE_WHEN_CLOSED)
    if refused:
        raise InvalidTransition(
            f"the ticket is CLOSED: only its tags and internal notes may change, not {', '.join(refused)}"
        )
