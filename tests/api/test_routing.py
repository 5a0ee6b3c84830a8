"""Routing rules through the real server: administration (admins only) and what the rules,
the customer's tier, the message's sentiment and its language do to a ticket on intake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.domain.enums import AgentRole, AssignmentStrategy
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

CREATE_RULE = "console/admin/CreateRoutingRule.graphql"
UPDATE_RULE = "console/admin/UpdateRoutingRule.graphql"
DELETE_RULE = "console/admin/DeleteRoutingRule.graphql"
RULES = "console/admin/RoutingRules.graphql"
NODE = "console/Node.graphql"
CREATE = "console/CreateTicket.graphql"
CREATE_CUSTOMER = "console/CreateCustomer.graphql"
DETAIL = "console/TicketDetail.graphql"
AUTO_ASSIGN = "console/AutoAssignTicket.graphql"
SET_PRESENCE = "console/SetPresence.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


# ---------------------------------------------------------------- helpers (also used by test_assignment)


def gid(group: GroupRecord) -> str:
    return ids.encode("Group", group.id)


def aid(actor: Actor) -> str:
    return ids.encode("Agent", actor.agent.id)


async def payload_of(client: GraphQLClient, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The single mutation payload of a document, userErrors not asserted."""
    result = await client.post(load_document(document), variables or {})
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload


def errors(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def create_rule(admin: Actor, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "rule")
    rule: dict[str, Any] = (await admin.client.mutate(CREATE_RULE, {"input": fields}))["rule"]
    return rule


def ticket_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "Question about my order",
        "description": "Could you tell me when the parcel ships?",
        "channel": "EMAIL",
        "customer": {"email": "li.na@example.cn", "name": "李娜"},
    }
    data.update(overrides)
    return data


async def create_ticket(client: GraphQLClient, **overrides: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = (await client.mutate(CREATE, {"input": ticket_input(**overrides)}))["ticket"]
    return ticket


async def detail(client: GraphQLClient, ticket_id: str) -> dict[str, Any]:
    ticket: dict[str, Any] | None = (await client.run(DETAIL, {"id": ticket_id}))["ticket"]
    assert ticket is not None
    return ticket


async def history(client: GraphQLClient, ticket_id: str, *types: str) -> list[dict[str, Any]]:
    events = [edge["node"] for edge in (await detail(client, ticket_id))["history"]["edges"]]
    return [e for e in events if not types or e["type"] in types]


async def go_online(*actors: Actor, presence: str = "ONLINE") -> None:
    for actor in actors:
        await actor.client.mutate(SET_PRESENCE, {"presence": presence})


async def rule_count(rt: Runtime) -> int:
    async with rt.engine.connect() as conn:
        count: int = (await conn.execute(select(func.count()).select_from(tables.routing_rules))).scalar_one()
    return count


# ---------------------------------------------------------------- administration


async def test_admin_creates_reads_updates_and_deletes_a_rule(admin: Actor, make_group: MakeGroup) -> None:
    support = await make_group("技术支持")
    billing = await make_group("Billing")
    created = await create_rule(
        admin,
        name="网络故障 → 技术支持",
        position=5,
        enabled=True,
        matchKeywords=["网络故障", "Network Down"],
        matchChannels=["EMAIL", "CHAT"],
        matchTiers=["VIP"],
        matchCategories=["Technical"],
        matchLanguages=["zh", "EN"],
        setCategory="Network",
        setPriority="HIGH",
        addTags=["Network", "outage"],
        routeToGroupId=gid(support),
        requireSkills=["network"],
        stopProcessing=True,
    )
    assert created["name"] == "网络故障 → 技术支持"
    assert created["position"] == 5
    assert created["enabled"] is True
    assert created["matchKeywords"] == ["网络故障", "Network Down"]
    assert created["matchChannels"] == ["EMAIL", "CHAT"]
    assert created["matchTiers"] == ["VIP"]
    assert created["matchCategories"] == ["technical"]
    assert created["matchLanguages"] == ["zh", "en"]
    assert created["setCategory"] == "network"
    assert created["setPriority"] == "HIGH"
    assert created["addTags"] == ["network", "outage"]
    assert created["requireSkills"] == ["network"]
    assert created["stopProcessing"] is True
    assert created["routeToGroup"] == {"id": gid(support), "name": "技术支持"}
    assert ids.decode_as(created["id"], "RoutingRule") is not None

    listed = (await admin.client.run(RULES))["routingRules"]
    assert listed == [created]

    updated = (
        await admin.client.mutate(
            UPDATE_RULE,
            {
                "id": created["id"],
                "input": {"name": "Refunds", "matchKeywords": ["refund"], "routeToGroupId": gid(billing)},
            },
        )
    )["rule"]
    # The input is the whole rule: what it leaves out goes back to the defaults.
    assert updated == {
        "id": created["id"],
        "name": "Refunds",
        "position": 5,  # no position given: it keeps its place
        "enabled": True,
        "matchKeywords": ["refund"],
        "setCategory": None,
        "setPriority": None,
        "addTags": [],
        "requireSkills": [],
        "stopProcessing": False,
        "routeToGroup": {"id": gid(billing), "name": "Billing"},
    }
    listed = (await admin.client.run(RULES))["routingRules"]
    assert [(r["id"], r["name"], r["matchChannels"], r["matchTiers"]) for r in listed] == [
        (created["id"], "Refunds", [], [])
    ]

    deleted = await admin.client.mutate(DELETE_RULE, {"id": created["id"]})
    assert deleted["deletedId"] == created["id"]
    assert (await admin.client.run(RULES))["routingRules"] == []

    again = await payload_of(admin.client, DELETE_RULE, {"id": created["id"]})
    assert errors(again) == [(["id"], "NOT_FOUND")]
    gone = await payload_of(admin.client, UPDATE_RULE, {"id": created["id"], "input": {"name": "x"}})
    assert errors(gone) == [(["id"], "NOT_FOUND")]
    assert gone["rule"] is None


async def test_a_rule_without_a_position_goes_after_the_last_one(admin: Actor) -> None:
    first = await create_rule(admin, name="first")
    second = await create_rule(admin, name="second")
    early = await create_rule(admin, name="early", position=1)
    far = await create_rule(admin, name="far", position=500)
    after_far = await create_rule(admin, name="after far")
    assert first["position"] < second["position"] < after_far["position"]
    assert after_far["position"] > far["position"]
    listed = [r["name"] for r in (await admin.client.run(RULES))["routingRules"]]
    assert listed == ["early", "first", "second", "far", "after far"]
    assert early["position"] == 1


async def test_moving_a_rule_changes_the_order(admin: Actor) -> None:
    a = await create_rule(admin, name="a")
    await create_rule(admin, name="b")
    await admin.client.mutate(UPDATE_RULE, {"id": a["id"], "input": {"name": "a", "position": 1000}})
    assert [r["name"] for r in (await admin.client.run(RULES))["routingRules"]] == ["b", "a"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, [(["input", "name"], "INVALID_INPUT")]),
        ({"name": "   "}, [(["input", "name"], "INVALID_INPUT")]),
        ({"name": "x", "matchLanguages": ["english please"]}, [(["input", "matchLanguages"], "INVALID_INPUT")]),
        ({"name": "x", "matchKeywords": [""]}, [(["input", "matchKeywords"], "INVALID_INPUT")]),
        ({"name": "x", "position": 10**7}, [(["input", "position"], "INVALID_INPUT")]),
        ({"name": "x", "routeToGroupId": ids.encode("Group", 987654)}, [(["input", "routeToGroupId"], "NOT_FOUND")]),
    ],
)
async def test_bad_rules_are_refused_with_the_field_and_nothing_is_saved(
    admin: Actor, rt: Runtime, fields: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    payload = await payload_of(admin.client, CREATE_RULE, {"input": fields})
    assert errors(payload) == expected
    assert payload["rule"] is None
    assert await rule_count(rt) == 0


async def test_a_group_id_of_another_type_is_refused(admin: Actor, rt: Runtime) -> None:
    payload = await payload_of(
        admin.client, CREATE_RULE, {"input": {"name": "x", "routeToGroupId": ids.encode("Agent", admin.agent.id)}}
    )
    assert payload["rule"] is None
    assert errors(payload) == [(["input", "routeToGroupId"], "NOT_FOUND")]
    assert await rule_count(rt) == 0


async def test_an_update_with_bad_input_changes_nothing(admin: Actor) -> None:
    rule = await create_rule(admin, name="keep me", matchKeywords=["login"])
    for fields, field in (
        ({"name": ""}, ["input", "name"]),
        ({"name": "x", "routeToGroupId": ids.encode("Group", 424242)}, ["input", "routeToGroupId"]),
        ({"name": "x", "matchLanguages": ["??"]}, ["input", "matchLanguages"]),
    ):
        payload = await payload_of(admin.client, UPDATE_RULE, {"id": rule["id"], "input": fields})
        assert [e["field"] for e in payload["userErrors"]] == [field]
    assert (await admin.client.run(RULES))["routingRules"] == [rule]


@pytest.mark.parametrize("role", [AgentRole.AGENT, AgentRole.SUPERVISOR])
async def test_only_admins_manage_or_read_rules(role: AgentRole, admin: Actor, make_actor: MakeActor) -> None:
    rule = await create_rule(admin, name="admins only", matchKeywords=["login"])
    caller = await make_actor(role)

    created = await payload_of(caller.client, CREATE_RULE, {"input": {"name": "mine"}})
    assert [code for _, code in errors(created)] == ["FORBIDDEN"]
    assert created["rule"] is None
    updated = await payload_of(caller.client, UPDATE_RULE, {"id": rule["id"], "input": {"name": "hijacked"}})
    assert [code for _, code in errors(updated)] == ["FORBIDDEN"]
    deleted = await payload_of(caller.client, DELETE_RULE, {"id": rule["id"]})
    assert [code for _, code in errors(deleted)] == ["FORBIDDEN"]
    assert deleted["deletedId"] is None

    read = await caller.client.post(load_document(RULES))
    assert read["data"] is None
    assert [e["extensions"]["code"] for e in read["errors"]] == ["FORBIDDEN"]

    assert (await caller.client.run(NODE, {"id": rule["id"]}))["node"] is None
    # Nothing changed.
    assert (await admin.client.run(RULES))["routingRules"] == [rule]


async def test_anonymous_callers_are_unauthenticated(admin: Actor, anonymous: GraphQLClient) -> None:
    read = await anonymous.post(load_document(RULES))
    assert [e["extensions"]["code"] for e in read["errors"]] == ["UNAUTHENTICATED"]
    created = await anonymous.post(load_document(CREATE_RULE), {"input": {"name": "x"}})
    assert [e["extensions"]["code"] for e in created["errors"]] == ["UNAUTHENTICATED"]


async def test_node_finds_a_rule_for_an_admin(admin: Actor) -> None:
    rule = await create_rule(admin, name="by node")
    node = (await admin.client.run(NODE, {"id": rule["id"]}))["node"]
    assert node == {"id": rule["id"], "__typename": "RoutingRule"}
    await admin.client.mutate(DELETE_RULE, {"id": rule["id"]})
    assert (await admin.client.run(NODE, {"id": rule["id"]}))["node"] is None


# ---------------------------------------------------------------- intake


async def test_keyword_rules_route_classify_and_tag_and_the_created_event_says_which_fired(
    admin: Actor, make_group: MakeGroup
) -> None:
    network = await make_group("网络组")
    account = await make_group("账号组")
    net_rule = await create_rule(
        admin,
        name="网络故障",
        matchKeywords=["网络故障", "断网"],
        setCategory="network",
        setPriority="HIGH",
        addTags=["network", "outage"],
        routeToGroupId=gid(network),
    )
    login_rule = await create_rule(
        admin,
        name="无法登录",
        matchKeywords=["无法登录", "can't log in"],
        setCategory="account",
        addTags=["login"],
        routeToGroupId=gid(account),
    )
    everyone = await create_rule(admin, name="全部打标签", addTags=["triaged"])
    await create_rule(admin, name="never", matchKeywords=["发票"], routeToGroupId=gid(account))

    outage = await create_ticket(
        admin.client, subject="办公室网络故障", description="从早上开始整层楼都上不了网。", channel="PHONE"
    )
    assert outage["group"] == {"id": gid(network), "name": "网络组"}
    assert outage["category"] == "network"
    assert outage["priority"] == "HIGH"
    assert outage["tags"] == ["network", "outage", "triaged"]
    (created,) = await history(admin.client, outage["id"], "CREATED")
    routing = created["data"]["routing"]
    assert routing["rules"] == [
        {"id": net_rule["id"], "name": "网络故障"},
        {"id": everyone["id"], "name": "全部打标签"},
    ]
    assert routing["groupId"] == gid(network)
    assert routing["category"] == "network"

    login = await create_ticket(admin.client, subject="账号问题", description="我无法登录账号，密码是对的。")
    assert login["group"] == {"id": gid(account), "name": "账号组"}
    assert login["category"] == "account"
    assert login["priority"] == "NORMAL"
    assert login["tags"] == ["login", "triaged"]
    (created,) = await history(admin.client, login["id"], "CREATED")
    assert [r["name"] for r in created["data"]["routing"]["rules"]] == [login_rule["name"], "全部打标签"]

    # English keywords match whatever the case.
    english = await create_ticket(admin.client, subject="I CAN'T LOG IN", description="Since the update.")
    assert english["group"]["id"] == gid(account)

    plain = await create_ticket(admin.client, subject="发货时间", description="请问什么时候发货？")
    assert plain["group"] is None
    assert plain["category"] is None
    assert plain["tags"] == ["triaged"]


async def test_both_keyword_rules_fire_and_the_later_one_wins_the_group(admin: Actor, make_group: MakeGroup) -> None:
    network = await make_group("network")
    account = await make_group("account")
    await create_rule(admin, name="net", matchKeywords=["网络故障"], routeToGroupId=gid(network), addTags=["net"])
    await create_rule(admin, name="login", matchKeywords=["无法登录"], routeToGroupId=gid(account), addTags=["login"])
    ticket = await create_ticket(admin.client, subject="网络故障导致无法登录", description="VPN 连不上")
    assert ticket["group"]["id"] == gid(account)
    assert ticket["tags"] == ["net", "login"]


async def test_stop_processing_and_disabled_rules_through_the_api(admin: Actor, make_group: MakeGroup) -> None:
    vip_desk = await make_group("VIP desk")
    general = await make_group("general")
    await create_rule(admin, name="off", enabled=False, routeToGroupId=gid(general), addTags=["disabled-rule"])
    await create_rule(admin, name="vip", matchTiers=["VIP"], routeToGroupId=gid(vip_desk), stopProcessing=True)
    await create_rule(admin, name="rest", routeToGroupId=gid(general), addTags=["general"])

    vip = (
        await admin.client.mutate(
            CREATE_CUSTOMER, {"input": {"name": "Big Corp", "email": "ceo@big.example", "tier": "VIP"}}
        )
    )["customer"]
    vip_ticket = await create_ticket(admin.client, customer={"id": vip["id"]})
    assert vip_ticket["group"]["id"] == gid(vip_desk)
    assert vip_ticket["tags"] == []

    standard_ticket = await create_ticket(admin.client)
    assert standard_ticket["group"]["id"] == gid(general)
    assert standard_ticket["tags"] == ["general"]


async def test_channel_and_language_conditions(admin: Actor, make_group: MakeGroup) -> None:
    chat = await make_group("chat desk")
    french = await make_group("équipe française")
    await create_rule(admin, name="chat", matchChannels=["CHAT"], routeToGroupId=gid(chat))
    await create_rule(admin, name="fr", matchLanguages=["fr"], routeToGroupId=gid(french))
    assert (await create_ticket(admin.client, channel="CHAT"))["group"]["id"] == gid(chat)
    assert (await create_ticket(admin.client, channel="EMAIL"))["group"] is None
    french_ticket = await create_ticket(
        admin.client,
        subject="Problème de connexion",
        description="Je ne peux pas me connecter à mon compte depuis hier soir.",
    )
    assert french_ticket["language"] == "fr"
    assert french_ticket["group"]["id"] == gid(french)


async def test_a_category_given_on_intake_is_kept_and_seen_by_category_rules(
    admin: Actor, make_group: MakeGroup
) -> None:
    refunds = await make_group("refunds")
    await create_rule(admin, name="refund desk", matchCategories=["refund"], routeToGroupId=gid(refunds))
    await create_rule(admin, name="classify", matchKeywords=["order"], setCategory="shipping")
    ticket = await create_ticket(admin.client, category="Refund")
    assert ticket["category"] == "refund"  # the caller's category stands
    assert ticket["group"]["id"] == gid(refunds)


async def test_a_vip_customers_ticket_is_at_least_high(admin: Actor) -> None:
    vip = (
        await admin.client.mutate(
            CREATE_CUSTOMER, {"input": {"name": "王总", "email": "wang@vip.example", "tier": "VIP"}}
        )
    )["customer"]
    assert vip["tier"] == "VIP"
    assert (await create_ticket(admin.client, customer={"id": vip["id"]}))["priority"] == "HIGH"
    # Found by email, the customer is still VIP.
    assert (await create_ticket(admin.client, customer={"email": "WANG@vip.example"}))["priority"] == "HIGH"
    # A rule's LOW does not take a VIP below the floor; URGENT is kept.
    low_rule = await create_rule(admin, name="low", matchKeywords=["newsletter"], setPriority="LOW")
    assert (await create_ticket(admin.client, customer={"id": vip["id"]}, subject="newsletter"))["priority"] == "HIGH"
    await admin.client.mutate(
        UPDATE_RULE,
        {"id": low_rule["id"], "input": {"name": "urgent", "matchKeywords": ["宕机"], "setPriority": "URGENT"}},
    )
    assert (await create_ticket(admin.client, customer={"id": vip["id"]}, subject="服务器宕机"))["priority"] == "URGENT"
    # The VIP floor holds even against a lower priority given on intake.
    assert (await create_ticket(admin.client, customer={"id": vip["id"]}, priority="LOW"))["priority"] == "HIGH"
    # A standard customer with the same ticket gets NORMAL.
    assert (await create_ticket(admin.client))["priority"] == "NORMAL"


@pytest.mark.parametrize(
    "text",
    [
        "你们的客服态度恶劣，我要投诉！！",
        "等了两周还没到货，太差了，要求退款",
        "This is unacceptable, I want a refund NOW!!",
        "Worst service ever, I am furious",
    ],
)
async def test_an_angry_ticket_is_negative_raised_one_step_and_tagged(admin: Actor, text: str) -> None:
    ticket = await create_ticket(admin.client, subject="Order SO-1001", description=text)
    assert ticket["priority"] == "HIGH"
    assert "negative-sentiment" in ticket["tags"]
    assert (await detail(admin.client, ticket["id"]))["sentiment"] == "NEGATIVE"
    (created,) = await history(admin.client, ticket["id"], "CREATED")
    assert created["data"]["sentiment"] == "NEGATIVE"


async def test_anger_raises_the_priority_a_rule_set(admin: Actor) -> None:
    await create_rule(admin, name="refunds are high", matchKeywords=["退款"], setPriority="HIGH", addTags=["refund"])
    ticket = await create_ticket(admin.client, subject="退款", description="等了两周还没到货，太差了，要求退款")
    assert ticket["priority"] == "URGENT"
    assert ticket["tags"] == ["refund", "negative-sentiment"]


async def test_calm_and_grateful_tickets_keep_their_priority_and_get_no_tag(admin: Actor) -> None:
    calm = await create_ticket(admin.client, subject="发票", description="请问发票什么时候能开？")
    assert calm["priority"] == "NORMAL"
    assert calm["tags"] == []
    assert (await detail(admin.client, calm["id"]))["sentiment"] == "NEUTRAL"
    happy = await create_ticket(admin.client, subject="Thanks", description="Thank you, the team was excellent!")
    assert happy["priority"] == "NORMAL"
    assert (await detail(admin.client, happy["id"]))["sentiment"] == "POSITIVE"


async def test_an_explicit_priority_is_kept_whatever_the_rules_and_the_mood(admin: Actor) -> None:
    await create_rule(admin, name="urgent", matchKeywords=["refund"], setPriority="URGENT")
    angry = await create_ticket(
        admin.client, subject="refund", description="This is unacceptable, I want a refund NOW!!", priority="LOW"
    )
    assert angry["priority"] == "LOW"
    assert "negative-sentiment" in angry["tags"]  # still tagged: the mood is a fact
    calm = await create_ticket(
        admin.client, subject="refund", description="How long does a refund take?", priority="LOW"
    )
    assert calm["priority"] == "LOW"


async def test_ticket_language_is_given_then_the_customers_then_detected(admin: Actor) -> None:
    german = (
        await admin.client.mutate(
            CREATE_CUSTOMER, {"input": {"name": "Hans", "email": "hans@example.de", "language": "de"}}
        )
    )["customer"]
    french_text = {
        "subject": "Commande non reçue",
        "description": "Bonjour, ma commande n'est pas arrivée et je ne sais pas pourquoi.",
    }
    given = await create_ticket(admin.client, customer={"id": german["id"]}, language="es", **french_text)
    assert given["language"] == "es"
    customers = await create_ticket(admin.client, customer={"id": german["id"]}, **french_text)
    assert customers["language"] == "de"
    detected = await create_ticket(admin.client, customer={"email": "anne@example.fr", "name": "Anne"}, **french_text)
    assert detected["language"] == "fr"
    chinese = await create_ticket(
        admin.client, customer={"email": "chen@example.cn"}, subject="无法登录", description="我无法登录账号"
    )
    assert chinese["language"] == "zh"
    unknown = await create_ticket(admin.client, customer={"email": "x@example.com"}, subject="SO-1", description="??")
    assert unknown["language"] is None


async def test_a_bad_language_on_intake_is_refused(admin: Actor) -> None:
    payload = await payload_of(admin.client, CREATE, {"input": ticket_input(language="not a language!")})
    assert errors(payload) == [(["input", "language"], "INVALID_INPUT")]


async def test_auto_assign_runs_the_rules_again_after_a_rule_is_added(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    network = await make_group("network", assignment_strategy=AssignmentStrategy.LEAST_LOADED)
    engineer = await make_actor(groups=[network], name="Wang Network")
    await go_online(engineer)
    ticket = await create_ticket(admin.client, subject="网络故障", description="公司网络断了")
    assert ticket["group"] is None
    assert ticket["assignee"] is None

    rule = await create_rule(
        admin,
        name="网络故障",
        matchKeywords=["网络故障"],
        setCategory="network",
        addTags=["network"],
        routeToGroupId=gid(network),
    )
    rerun = (await admin.client.mutate(AUTO_ASSIGN, {"id": ticket["id"]}))["ticket"]
    assert rerun["group"] == {"id": gid(network), "name": "network"}
    assert rerun["category"] == "network"
    assert rerun["tags"] == ["network"]
    assert rerun["assignee"] == {"id": aid(engineer), "name": "Wang Network"}
    assert rerun["version"] > ticket["version"]

    updated = await history(admin.client, ticket["id"], "UPDATED", "ASSIGNED")
    assert [e["type"] for e in updated] == ["ASSIGNED", "UPDATED"]
    assert updated[0]["data"]["reason"] == "LEAST_LOADED"
    assert updated[1]["data"]["routing"]["rules"] == [{"id": rule["id"], "name": "网络故障"}]

    # Running it again with nothing new changes nothing.
    same = (await admin.client.mutate(AUTO_ASSIGN, {"id": ticket["id"]}))["ticket"]
    assert same["version"] == rerun["version"]
