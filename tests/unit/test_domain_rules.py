"""Pure rules: validation, intake priority and language, cursors, role policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.auth.policy import MINIMUM_ROLE, Action, allows, may_read_internal_notes, require
from app.domain import validation as v
from app.domain.enums import AgentRole, CustomerTier, OrderDirection, TicketOrderField, TicketPriority
from app.domain.errors import Forbidden, InvalidInput, ValidationErrors
from app.domain.intake import initial_priority, ticket_language
from app.domain.principal import CredentialKind, Principal
from app.domain.ticket_query import TicketOrder, TicketPageCursor
from app.events.cursors import EventPosition


@pytest.mark.parametrize(
    ("requested", "tier", "expected"),
    [
        (None, CustomerTier.STANDARD, TicketPriority.NORMAL),
        (TicketPriority.LOW, CustomerTier.STANDARD, TicketPriority.LOW),
        (None, CustomerTier.VIP, TicketPriority.HIGH),
        (TicketPriority.LOW, CustomerTier.VIP, TicketPriority.HIGH),
        (TicketPriority.URGENT, CustomerTier.VIP, TicketPriority.URGENT),
    ],
)
def test_initial_priority(requested: TicketPriority | None, tier: CustomerTier, expected: TicketPriority) -> None:
    assert initial_priority(requested, tier, TicketPriority.HIGH) is expected


def test_priority_raise_stops_at_urgent() -> None:
    assert TicketPriority.LOW.raised() is TicketPriority.NORMAL
    assert TicketPriority.URGENT.raised() is TicketPriority.URGENT


def test_ticket_language_prefers_given_then_customer() -> None:
    assert ticket_language("fr", "zh") == "fr"
    assert ticket_language(None, "zh") == "zh"
    assert ticket_language(None, None) is None


def test_problems_are_collected_and_reported_together() -> None:
    problems = v.Problems()
    v.required_text(problems, "  ", ["input", "subject"], 10)
    v.required_text(problems, "x" * 11, ["input", "description"], 10)
    with pytest.raises(ValidationErrors) as caught:
        problems.raise_if_any()
    assert [e.field for e in caught.value.errors] == [["input", "subject"], ["input", "description"]]


def test_one_problem_raises_it_alone() -> None:
    problems = v.Problems()
    v.email(problems, "not-an-email", ["input", "email"])
    with pytest.raises(InvalidInput):
        problems.raise_if_any()


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07"])
def test_control_characters_are_refused(text: str) -> None:
    problems = v.Problems()
    v.required_text(problems, text, ["f"], 100)
    assert problems.items and "control" in problems.items[0].message


def test_tags_are_trimmed_lowercased_and_deduplicated() -> None:
    problems = v.Problems()
    assert v.tags(problems, [" Refund ", "refund", "VIP", "退款"], ["tags"], v.TextLimits()) == [
        "refund",
        "vip",
        "退款",
    ]
    assert problems.items == []


def test_phone_numbers_are_normalised() -> None:
    problems = v.Problems()
    assert v.phone(problems, "+86 138-0000-0000", ["p"]) == "+8613800000000"
    assert v.phone(problems, "(010) 1234 5678", ["p"]) == "01012345678"
    assert problems.items == []


@pytest.mark.parametrize(("raw", "clean"), [("ZH", "zh"), ("pt-BR", "pt-BR"), ("en", "en")])
def test_language_tags(raw: str, clean: str) -> None:
    problems = v.Problems()
    assert v.language(problems, raw, ["l"]) == clean
    assert problems.items == []


@given(st.integers(min_value=0, max_value=2**62), st.integers(min_value=1, max_value=2**62))
def test_event_cursor_round_trip_and_order(txid: int, event_id: int) -> None:
    position = EventPosition(txid, event_id)
    assert EventPosition.decode(position.encode()) == position
    assert EventPosition(txid, event_id) < EventPosition(txid + 1, 0)


@pytest.mark.parametrize("garbage", ["", "abc", "ZXYxOng6eQ", "%%%"])
def test_bad_event_cursor_is_invalid_input(garbage: str) -> None:
    with pytest.raises(InvalidInput):
        EventPosition.decode(garbage)


@given(
    st.sampled_from(list(TicketOrderField)),
    st.sampled_from(list(OrderDirection)),
    st.datetimes(timezones=st.just(UTC)),
    st.integers(min_value=1, max_value=2**62),
)
def test_ticket_page_cursor_round_trip(
    field: TicketOrderField, direction: OrderDirection, moment: datetime, pk: int
) -> None:
    order = TicketOrder(field, direction)
    shapes = {
        TicketOrderField.NUMBER: (pk,),
        TicketOrderField.PRIORITY: (2, moment, pk),
        TicketOrderField.SLA_DUE_AT: (0, moment, pk),
    }
    cursor = TicketPageCursor(order, shapes.get(field, (moment, pk)))
    assert TicketPageCursor.decode(cursor.encode(), order) == cursor


def test_ticket_page_cursor_refuses_another_order() -> None:
    cursor = TicketPageCursor(TicketOrder(TicketOrderField.NUMBER, OrderDirection.ASC), (1000,))
    with pytest.raises(InvalidInput):
        TicketPageCursor.decode(cursor.encode(), TicketOrder(TicketOrderField.NUMBER, OrderDirection.DESC))


def test_every_action_has_a_minimum_role() -> None:
    assert set(MINIMUM_ROLE) == set(Action)


def test_roles_are_ordered() -> None:
    agent = Principal(1, AgentRole.AGENT)
    supervisor = Principal(2, AgentRole.SUPERVISOR)
    admin = Principal(3, AgentRole.ADMIN)
    assert not allows(agent, Action.ASSIGN_TICKET) and allows(supervisor, Action.ASSIGN_TICKET)
    assert not allows(supervisor, Action.CREATE_AGENT) and allows(admin, Action.CREATE_AGENT)
    with pytest.raises(Forbidden):
        require(agent, Action.CREATE_GROUP)


def test_partner_tokens_never_read_internal_notes() -> None:
    assert may_read_internal_notes(Principal(1, AgentRole.AGENT))
    assert not may_read_internal_notes(Principal(1, AgentRole.ADMIN, credential=CredentialKind.API_TOKEN))
    assert not may_read_internal_notes(None)
