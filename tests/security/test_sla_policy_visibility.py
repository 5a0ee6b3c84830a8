"""One rule for SLA policies, whichever way a caller meets one (review finding 7).

Through the real server: `Ticket.sla.policy`, `node(id)` and `slaPolicies` agree for an agent, a
supervisor, an admin and a partner API token. Every signed-in caller reads a policy's name and
targets; its configuration (matching, order, calendar, breach action) and the listing are the
admins'. app.auth.policy.sla_policy_view decides it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.domain.enums import AgentRole, AssignmentStrategy
from app.domain.records import GroupRecord
from app.services import routing_rules
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

TARGETS = "id name firstResponseSeconds resolutionSeconds warningAtPercent"
CONFIGURATION = {
    "position": "position",
    "enabled": "enabled",
    "matchPriorities": "matchPriorities",
    "matchTiers": "matchTiers",
    "matchCategories": "matchCategories",
    "matchChannels": "matchChannels",
    "matchGroups": "matchGroups { id }",
    "calendar": "calendar { id name timezone hours { weekday } holidays }",
    "escalatePriorityOnBreach": "escalatePriorityOnBreach",
}
ROLES = ("agent", "supervisor", "admin", "partner_token")


def through_ticket(selection: str) -> str:
    return "query($id: ID!) { ticket(id: $id) { id sla { policy { " + selection + " } } } }"


def through_node(selection: str) -> str:
    return "query($id: ID!) { node(id: $id) { ... on SlaPolicy { " + selection + " } } }"


LIST = "query { slaPolicies { " + TARGETS + " } }"
CALENDAR_NODE = "query($id: ID!) { node(id: $id) { ... on BusinessCalendar { id name } } }"


class Setup:
    def __init__(self, callers: dict[str, GraphQLClient], ticket: str, policy: dict[str, Any], calendar: str):
        self.callers, self.ticket, self.policy, self.calendar = callers, ticket, policy, calendar

    async def via_ticket(self, role: str, selection: str) -> dict[str, Any]:
        result = await self.callers[role].post(through_ticket(selection), {"id": self.ticket})
        sla = result["data"]["ticket"]["sla"]
        return {"value": sla["policy"] if sla else None, "errors": codes(result)}

    async def via_node(self, role: str, selection: str) -> dict[str, Any]:
        result = await self.callers[role].post(through_node(selection), {"id": self.policy["id"]})
        return {"value": result["data"]["node"], "errors": codes(result)}


async def mutate(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    (payload,) = (await client.execute(document, variables)).values()
    assert payload["userErrors"] == [], payload
    return payload  # type: ignore[no-any-return]


def codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(last path element, code) of each GraphQL error."""
    return [(str(e["path"][-1]), e["extensions"]["code"]) for e in result.get("errors", [])]


@pytest.fixture
async def setup(rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup) -> Setup:
    group = await make_group("售后", assignment_strategy=AssignmentStrategy.MANUAL)
    await routing_rules.create_rule(
        rt, admin.principal, routing_rules.RuleInput(name="all", route_to_group_id=group.id)
    )
    calendar = await mutate(
        admin.client,
        "mutation($input: BusinessCalendarInput!) { createBusinessCalendar(input: $input) "
        "{ calendar { id } userErrors { code } } }",
        {
            "input": {
                "name": "上海办公室",
                "timezone": "Asia/Shanghai",
                "hours": [{"weekday": 0, "start": "09:00", "end": "18:00"}],
            }
        },
    )
    policy = await mutate(
        admin.client,
        "mutation($input: SlaPolicyInput!) { createSlaPolicy(input: $input) "
        "{ policy { " + TARGETS + " } userErrors { code } } }",
        {
            "input": {
                "name": "VIP 客户",
                "matchTiers": ["VIP", "STANDARD"],
                "matchPriorities": ["LOW", "NORMAL", "HIGH", "URGENT"],
                "matchCategories": ["network"],
                "matchChannels": ["PHONE"],
                "matchGroupIds": [ids.encode("Group", group.id)],
                "firstResponseSeconds": 3600,
                "resolutionSeconds": 8 * 3600,
                "warningAtPercent": 75,
                "calendarId": calendar["calendar"]["id"],
            }
        },
    )
    ticket = await mutate(
        admin.client,
        "mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } userErrors { code } } }",
        {
            "input": {
                "subject": "Router",
                "description": "No signal.",
                "channel": "PHONE",
                "category": "network",
                "customer": {"email": "a@b.cn"},
            }
        },
    )
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    shop = await make_actor(AgentRole.AGENT, groups=[group])
    token = await mutate(
        admin.client,
        'mutation($a: ID) { createApiToken(name: "shop", agentId: $a) { token userErrors { code } } }',
        {"a": ids.encode("Agent", shop.agent.id)},
    )
    callers = {
        "agent": agent.client,
        "supervisor": supervisor.client,
        "admin": admin.client,
        "partner_token": admin.client.as_(token["token"]),
    }
    return Setup(callers, ticket["ticket"]["id"], policy["policy"], calendar["calendar"]["id"])


@pytest.mark.parametrize("role", ROLES)
async def test_name_and_targets_read_the_same_through_the_ticket_and_node(setup: Setup, role: str) -> None:
    expected = {
        "id": setup.policy["id"],
        "name": "VIP 客户",
        "firstResponseSeconds": 3600,
        "resolutionSeconds": 8 * 3600,
        "warningAtPercent": 75,
    }
    assert await setup.via_ticket(role, TARGETS) == {"value": expected, "errors": []}
    assert await setup.via_node(role, TARGETS) == {"value": expected, "errors": []}


@pytest.mark.parametrize("role", ROLES)
async def test_the_configuration_and_the_list_are_the_admins(setup: Setup, role: str) -> None:
    admin = role == "admin"
    listed = await setup.callers[role].post(LIST)
    if admin:
        assert [p["id"] for p in listed["data"]["slaPolicies"]] == [setup.policy["id"]]
    else:
        assert codes(listed) == [("slaPolicies", "FORBIDDEN")]
    calendar = (await setup.callers[role].post(CALENDAR_NODE, {"id": setup.calendar}))["data"]["node"]
    assert (calendar is not None) is admin

    for field, selection in CONFIGURATION.items():
        by_ticket = await setup.via_ticket(role, "id " + selection)
        by_node = await setup.via_node(role, "id " + selection)
        if admin:
            assert by_ticket["errors"] == by_node["errors"] == [], field
            assert by_ticket["value"] == by_node["value"] and by_node["value"][field] not in (None, []), field
        else:
            # Refused the same way on both paths, never shown.
            assert by_ticket["errors"] == by_node["errors"] == [(field, "FORBIDDEN")], field
            if field == "calendar":  # nullable: the field alone is null
                assert by_ticket["value"] == by_node["value"] == {"id": setup.policy["id"], "calendar": None}
            else:  # non-null: the policy is null, and Ticket.sla with it
                assert by_ticket["value"] is None and by_node["value"] is None, field
