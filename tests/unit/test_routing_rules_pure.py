"""Routing rules and agent choice as pure functions: matching, order, overrides, accumulation,
stopProcessing, and every assignment strategy with the availability guarantees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.assignment import Candidate, choose_agent, is_available, is_qualified
from app.domain.enums import AgentPresence, AssignmentStrategy, TicketPriority
from app.domain.routing import RoutingRule, TicketFacts, matches, route

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def rule(rule_id: int = 1, **overrides: Any) -> RoutingRule:
    values: dict[str, Any] = {
        "id": rule_id,
        "name": f"rule-{rule_id}",
        "position": rule_id * 10,
        "enabled": True,
        "match_keywords": [],
        "match_channels": [],
        "match_tiers": [],
        "match_categories": [],
        "match_languages": [],
        "set_category": None,
        "set_priority": None,
        "add_tags": [],
        "route_to_group_id": None,
        "require_skills": [],
        "stop_processing": False,
    }
    values.update(overrides)
    return RoutingRule(**values)


def facts(**overrides: Any) -> TicketFacts:
    values: dict[str, Any] = {
        "subject": "Cannot log in",
        "description": "The login page says my password is wrong.",
        "channel": "EMAIL",
        "tier": "STANDARD",
        "language": "en",
        "category": None,
    }
    values.update(overrides)
    return TicketFacts(**values)


# ---------------------------------------------------------------- matching


def test_a_rule_with_no_conditions_matches_any_ticket() -> None:
    assert matches(rule(), facts())
    assert matches(rule(), facts(subject="随便", description="什么都行", channel="CHAT", tier="VIP", language=None))


def test_a_disabled_rule_never_matches() -> None:
    assert not matches(rule(enabled=False), facts())
    assert route([rule(enabled=False, route_to_group_id=7)], facts()).group_id is None


@pytest.mark.parametrize(
    ("keywords", "subject", "description", "expected"),
    [
        (["login"], "Cannot LOG IN", "LOGIN page broken", True),  # case-insensitive
        (["LOGIN"], "cannot login", "", True),
        (["Passwort"], "Hilfe", "Mein PASSWORT ist falsch", True),  # keyword in the description
        (["无法登录"], "账号问题", "我无法登录账号", True),  # Chinese substring, no spaces
        (["无法登录"], "我无法登录账号", "", True),  # ...in the subject too
        (["网络故障"], "网络很慢", "有时候会断", False),
        (["refund", "退款"], "申请退款", "", True),  # any of the keywords
        (["refund", "退款"], "Where is my parcel?", "", False),
        (["ログイン"], "ログインできません", "", True),  # Japanese
        (["   "], "anything", "", False),  # a blank keyword matches nothing
    ],
)
def test_keywords_match_subject_or_description_case_insensitively_in_any_script(
    keywords: list[str], subject: str, description: str, expected: bool
) -> None:
    assert matches(rule(match_keywords=keywords), facts(subject=subject, description=description)) is expected


def test_channel_condition() -> None:
    r = rule(match_channels=["PHONE", "CHAT"])
    assert matches(r, facts(channel="PHONE"))
    assert matches(r, facts(channel="CHAT"))
    assert not matches(r, facts(channel="EMAIL"))


def test_tier_condition() -> None:
    r = rule(match_tiers=["VIP"])
    assert matches(r, facts(tier="VIP"))
    assert not matches(r, facts(tier="STANDARD"))


def test_category_condition() -> None:
    r = rule(match_categories=["refund", "billing"])
    assert matches(r, facts(category="billing"))
    assert not matches(r, facts(category="technical"))
    assert not matches(r, facts(category=None))


def test_language_condition_compares_primary_tags() -> None:
    r = rule(match_languages=["zh"])
    assert matches(r, facts(language="zh"))
    assert matches(r, facts(language="zh-Hant"))
    assert not matches(r, facts(language="en"))
    assert not matches(r, facts(language=None))
    assert matches(rule(match_languages=["pt-BR"]), facts(language="pt"))


def test_every_condition_must_hold() -> None:
    r = rule(match_keywords=["退款"], match_channels=["CHAT"], match_tiers=["VIP"], match_languages=["zh"])
    vip_chat = facts(subject="申请退款", channel="CHAT", tier="VIP", language="zh")
    assert matches(r, vip_chat)
    for spoil in (
        {"subject": "发票"},
        {"channel": "EMAIL"},
        {"tier": "STANDARD"},
        {"language": "en"},
    ):
        spoiled = TicketFacts(
            subject=spoil.get("subject", vip_chat.subject),
            description=vip_chat.description,
            channel=spoil.get("channel", vip_chat.channel),
            tier=spoil.get("tier", vip_chat.tier),
            language=spoil.get("language", vip_chat.language),
        )
        assert not matches(r, spoiled), spoil


# ---------------------------------------------------------------- running the rules


def test_no_rules_decide_nothing() -> None:
    decision = route([], facts())
    assert decision.group_id is None
    assert decision.priority is None
    assert decision.category is None
    assert decision.tags == ()
    assert decision.required_skills == ()
    assert decision.fired == ()
    assert decision.explain()["rules"] == []


def test_rules_run_by_position_not_by_list_order_and_a_later_rule_overrides() -> None:
    first = rule(1, position=10, set_category="account", set_priority="LOW", route_to_group_id=100)
    second = rule(2, position=20, set_category="security", set_priority="HIGH", route_to_group_id=200)
    for order in ([first, second], [second, first]):
        decision = route(order, facts())
        assert decision.category == "security"
        assert decision.priority is TicketPriority.HIGH
        assert decision.group_id == 200
        assert [name for _, name in decision.fired] == ["rule-1", "rule-2"]


def test_position_decides_even_against_the_id() -> None:
    early = rule(9, position=1, route_to_group_id=900)
    late = rule(1, position=50, route_to_group_id=100)
    assert route([early, late], facts()).group_id == 100
    assert route([rule(9, position=60, route_to_group_id=900), late], facts()).group_id == 900


def test_a_later_rule_that_sets_nothing_keeps_earlier_decisions() -> None:
    first = rule(1, set_category="account", set_priority="URGENT", route_to_group_id=100)
    second = rule(2, add_tags=["login"])
    decision = route([first, second], facts())
    assert (decision.category, decision.priority, decision.group_id) == ("account", TicketPriority.URGENT, 100)
    assert decision.tags == ("login",)


def test_tags_and_skills_accumulate_without_duplicates() -> None:
    rules = [
        rule(1, add_tags=["login", "account"], require_skills=["network"]),
        rule(2, add_tags=["account", "urgent-check"], require_skills=["network", "zh-support"]),
        rule(3, match_keywords=["does-not-occur"], add_tags=["never"], require_skills=["never"]),
    ]
    decision = route(rules, facts())
    assert decision.tags == ("login", "account", "urgent-check")
    assert decision.required_skills == ("network", "zh-support")
    assert [rule_id for rule_id, _ in decision.fired] == [1, 2]


def test_stop_processing_ends_the_run_only_when_that_rule_matched() -> None:
    stopper = rule(1, match_keywords=["login"], route_to_group_id=100, stop_processing=True)
    after = rule(2, route_to_group_id=200, add_tags=["late"])
    decision = route([stopper, after], facts())
    assert decision.group_id == 100
    assert decision.tags == ()
    assert [rule_id for rule_id, _ in decision.fired] == [1]

    # When the stopping rule does not match, the later rules run.
    decision = route([stopper, after], facts(subject="Invoice", description="Please send the invoice."))
    assert decision.group_id == 200
    assert [rule_id for rule_id, _ in decision.fired] == [2]


def test_a_disabled_stop_rule_does_not_stop() -> None:
    stopper = rule(1, enabled=False, stop_processing=True)
    after = rule(2, route_to_group_id=200)
    assert route([stopper, after], facts()).group_id == 200


def test_a_category_set_by_one_rule_is_seen_by_a_later_rules_match_categories() -> None:
    classify = rule(1, match_keywords=["无法登录"], set_category="account")
    by_category = rule(2, match_categories=["account"], route_to_group_id=300, require_skills=["identity"])
    decision = route([classify, by_category], facts(subject="我无法登录账号", description="", language="zh"))
    assert decision.category == "account"
    assert decision.group_id == 300
    assert decision.required_skills == ("identity",)
    # ...but not by an earlier one.
    reversed_positions = [rule(1, position=20, **_fields(classify)), rule(2, position=10, **_fields(by_category))]
    decision = route(reversed_positions, facts(subject="我无法登录账号", description="", language="zh"))
    assert decision.category == "account"
    assert decision.group_id is None


def _fields(r: RoutingRule) -> dict[str, Any]:
    return {k: getattr(r, k) for k in r.__slots__ if k not in ("id", "position")}


def test_the_given_category_is_seen_by_match_categories() -> None:
    decision = route([rule(1, match_categories=["refund"], route_to_group_id=5)], facts(category="refund"))
    assert decision.group_id == 5
    assert decision.category == "refund"


def test_explain_names_the_fired_rules_and_the_outcome() -> None:
    rules = [
        rule(1, name="网络", match_keywords=["网络故障"], set_category="technical", route_to_group_id=42),
        rule(2, name="unrelated", match_keywords=["invoice"], route_to_group_id=99),
        rule(3, name="tag it", add_tags=["network"], set_priority="HIGH", require_skills=["network"]),
    ]
    explained = route(rules, facts(subject="网络故障", description="公司网络断了", language="zh")).explain()
    assert explained == {
        "rules": [{"id": 1, "name": "网络"}, {"id": 3, "name": "tag it"}],
        "category": "technical",
        "priority": "HIGH",
        "groupId": 42,
        "tags": ["network"],
        "requiredSkills": ["network"],
    }


# ---------------------------------------------------------------- choosing the agent


def agent(
    agent_id: int,
    *,
    presence: AgentPresence = AgentPresence.ONLINE,
    on_vacation: bool = False,
    capacity: int = 10,
    open_tickets: int = 0,
    skills: tuple[str, ...] = (),
    languages: tuple[str, ...] = (),
    last_in_group: datetime | None = None,
    last: datetime | None = None,
) -> Candidate:
    return Candidate(
        agent_id=agent_id,
        presence=presence.value,
        on_vacation=on_vacation,
        capacity=capacity,
        open_tickets=open_tickets,
        skills=frozenset(skills),
        languages=frozenset(languages),
        last_assigned_in_group=last_in_group,
        last_assigned=last if last is not None else last_in_group,
    )


def chosen(strategy: AssignmentStrategy, candidates: list[Candidate], **kwargs: Any) -> int | None:
    pick = choose_agent(strategy, candidates, **kwargs)
    return pick.agent_id if pick else None


STRATEGIES = list(AssignmentStrategy)
AUTOMATIC = [s for s in STRATEGIES if s is not AssignmentStrategy.MANUAL]


def test_round_robin_picks_whoever_got_a_group_ticket_longest_ago() -> None:
    candidates = [
        agent(1, last_in_group=T0 + timedelta(minutes=3)),
        agent(2, last_in_group=T0 + timedelta(minutes=1)),
        agent(3, last_in_group=T0 + timedelta(minutes=2)),
    ]
    assert chosen(AssignmentStrategy.ROUND_ROBIN, candidates) == 2


def test_round_robin_prefers_an_agent_who_never_had_one_over_one_who_has() -> None:
    candidates = [agent(1, last_in_group=T0), agent(2), agent(3, last_in_group=T0 - timedelta(days=1))]
    assert chosen(AssignmentStrategy.ROUND_ROBIN, candidates) == 2


def test_round_robin_ignores_load() -> None:
    candidates = [agent(1, open_tickets=0, last_in_group=T0), agent(2, open_tickets=8, last_in_group=T0 - timedelta(1))]
    assert chosen(AssignmentStrategy.ROUND_ROBIN, candidates) == 2


def test_round_robin_turns_stay_even_over_many_tickets() -> None:
    candidates = {i: agent(i) for i in (1, 2, 3)}
    order: list[int] = []
    for n in range(9):
        pick = choose_agent(AssignmentStrategy.ROUND_ROBIN, list(candidates.values()))
        assert pick is not None
        order.append(pick.agent_id)
        at = T0 + timedelta(seconds=n)
        candidates[pick.agent_id] = agent(pick.agent_id, open_tickets=pick.open_tickets + 1, last_in_group=at)
    assert order == [1, 2, 3] * 3


def test_least_loaded_compares_open_tickets_relative_to_capacity() -> None:
    # 3/10 = 0.3 beats 2/4 = 0.5 although 2 tickets are fewer than 3.
    candidates = [agent(1, capacity=4, open_tickets=2), agent(2, capacity=10, open_tickets=3)]
    assert chosen(AssignmentStrategy.LEAST_LOADED, candidates) == 2
    equal_capacity = [agent(1, capacity=10, open_tickets=5), agent(2, capacity=10, open_tickets=3)]
    assert chosen(AssignmentStrategy.LEAST_LOADED, equal_capacity) == 2


def test_least_loaded_ties_go_by_rotation() -> None:
    candidates = [
        agent(1, open_tickets=2, last_in_group=T0 + timedelta(minutes=5)),
        agent(2, open_tickets=2, last_in_group=T0),
        agent(3, open_tickets=2, last_in_group=T0 + timedelta(minutes=9)),
    ]
    assert chosen(AssignmentStrategy.LEAST_LOADED, candidates) == 2


def test_least_loaded_tie_between_an_agent_who_never_had_a_ticket_and_one_who_had() -> None:
    candidates = [agent(1, open_tickets=0, last_in_group=T0), agent(2, open_tickets=0)]
    assert chosen(AssignmentStrategy.LEAST_LOADED, candidates) == 2


def test_skill_based_needs_every_required_skill_and_the_language() -> None:
    candidates = [
        agent(1, skills=("billing",), languages=("zh",)),
        agent(2, skills=("network",), languages=("en",)),
        agent(3, skills=("network", "billing"), languages=("zh", "en"), open_tickets=4),
    ]
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, required_skills=["network"], language="zh") == 3
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, required_skills=["network"], language="en") == 2
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, required_skills=["network", "billing"]) == 3
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, required_skills=["legal"]) is None
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, required_skills=[], language="fr") is None


def test_skill_based_matches_languages_by_primary_tag() -> None:
    candidates = [agent(1, languages=("en",)), agent(2, languages=("fr-CA",))]
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, language="fr") == 2
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, language="fr-FR") == 2
    assert is_qualified(candidates[1], [], "fr-BE")
    assert not is_qualified(candidates[0], [], "fr")
    assert is_qualified(candidates[0], [], None)  # no language known: any agent


def test_skill_based_picks_the_least_loaded_qualified_agent_then_rotation() -> None:
    candidates = [
        agent(1, skills=("network",), open_tickets=5),
        agent(2, skills=("network",), open_tickets=1, last_in_group=T0 + timedelta(minutes=1)),
        agent(3, skills=("network",), open_tickets=1, last_in_group=T0),
        agent(4, open_tickets=0),  # least loaded but without the skill
    ]
    assert chosen(AssignmentStrategy.SKILL_BASED, candidates, required_skills=["network"]) == 3


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_manual_never_picks_and_the_others_pick_someone(strategy: AssignmentStrategy) -> None:
    result = chosen(strategy, [agent(1), agent(2)])
    assert (result is None) is (strategy is AssignmentStrategy.MANUAL)


@pytest.mark.parametrize("strategy", AUTOMATIC)
@pytest.mark.parametrize(
    "unavailable",
    [
        {"presence": AgentPresence.OFFLINE},
        {"presence": AgentPresence.AWAY},
        {"on_vacation": True},
        {"capacity": 3, "open_tickets": 3},
        {"capacity": 3, "open_tickets": 7},  # past capacity (a supervisor went over it)
        {"capacity": 0},
    ],
    ids=["offline", "away", "vacation", "at-capacity", "over-capacity", "zero-capacity"],
)
def test_unavailable_agents_are_never_chosen(strategy: AssignmentStrategy, unavailable: dict[str, Any]) -> None:
    # The unavailable agent would otherwise win on every strategy: skilled, idle, first in rotation.
    blocked = agent(1, skills=("network",), languages=("zh",), **unavailable)
    assert not is_available(blocked)
    assert chosen(strategy, [blocked], required_skills=["network"], language="zh") is None
    busy = agent(2, skills=("network",), languages=("zh",), open_tickets=2, last_in_group=T0)
    assert chosen(strategy, [blocked, busy], required_skills=["network"], language="zh") == 2


def test_an_agent_one_below_capacity_is_still_available() -> None:
    assert is_available(agent(1, capacity=3, open_tickets=2))
    assert chosen(AssignmentStrategy.LEAST_LOADED, [agent(1, capacity=3, open_tickets=2)]) == 1


def test_nobody_available_means_the_queue() -> None:
    for strategy in STRATEGIES:
        assert choose_agent(strategy, []) is None
