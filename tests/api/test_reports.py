"""The report through the real server: who may read it, what bad arguments get, and the
reports page's document (frontend_examples/reports/Report.graphql) end to end.

The figures themselves are checked against hand-computed values in tests/integration/test_reports.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

REPORT = load_document("reports/Report.graphql")


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


def around_now() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}


def new_ticket(subject: str, channel: str = "EMAIL") -> dict[str, Any]:
    return {
        "input": {
            "subject": subject,
            "description": "Please help.",
            "channel": channel,
            "category": "billing",
            "customer": {"email": "li@example.cn"},
        }
    }


async def test_supervisors_read_the_whole_report(
    make_actor: Callable[..., Awaitable[Actor]],
    make_group: Callable[..., Awaitable[GroupRecord]],
    admin: Actor,
) -> None:
    group = await make_group("Billing")
    agent = await make_actor(AgentRole.AGENT, groups=[group], name="Wang Fang")
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    first = (await admin.client.mutate("console/CreateTicket.graphql", new_ticket("Refund please")))["ticket"]
    await admin.client.mutate("console/CreateTicket.graphql", new_ticket("Where is my parcel", "CHAT"))
    await admin.client.mutate(
        "console/AssignTicket.graphql", {"id": first["id"], "agentId": ids.encode("Agent", agent.agent.id)}
    )
    await agent.client.mutate("console/StartTicket.graphql", {"id": first["id"]})
    await agent.client.mutate("console/ResolveTicket.graphql", {"id": first["id"], "resolution": "Refunded."})

    report = (await supervisor.client.execute(REPORT, around_now()))["report"]

    assert report["timezone"] == "UTC"  # HELPDESK_TIMEZONE
    assert report["group"] is None
    assert (report["ticketsCreated"], report["ticketsResolved"], report["reopenRate"]) == (2, 1, 0.0)
    assert report["resolution"]["count"] == 1 and report["resolution"]["medianSeconds"] >= 0
    assert report["firstResponse"]["count"] == 0  # nobody replied publicly
    assert sorted((c["channel"], c["count"]) for c in report["byChannel"]) == [("CHAT", 1), ("EMAIL", 1)]
    assert report["byCategory"] == [{"category": "billing", "count": 2}]
    assert sum(d["created"] for d in report["daily"]) == 2 and sum(d["resolved"] for d in report["daily"]) == 1
    assert len(report["daily"]) in (2, 3)  # two days around now: three dates unless now is midnight
    (row,) = report["byAgent"]
    assert row["agent"] == {"id": ids.encode("Agent", agent.agent.id), "name": "Wang Fang"}
    assert (row["assigned"], row["resolved"], row["csatAverage"]) == (1, 1, None)
    assert (report["csatResponses"], report["slaBreaches"]) == (0, 0)

    by_group = await admin.client.execute(REPORT, {**around_now(), "groupId": ids.encode("Group", group.id)})
    assert by_group["report"]["group"] == {"id": ids.encode("Group", group.id), "name": "Billing"}


async def test_days_follow_the_requested_zone_and_local_times(admin: Actor) -> None:
    variables = {"from": "2026-03-01T00:00:00", "to": "2026-03-03T00:00:00", "timezone": "Asia/Shanghai"}

    report = (await admin.client.execute(REPORT, variables))["report"]

    # Times without an offset are the zone's wall-clock time: Shanghai midnight is 16:00 UTC.
    assert datetime.fromisoformat(report["from"]) == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert datetime.fromisoformat(report["to"]) == datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert report["daily"] == [
        {"date": "2026-03-01", "created": 0, "resolved": 0},
        {"date": "2026-03-02", "created": 0, "resolved": 0},
    ]
    assert report["firstResponse"] == {"count": 0, "averageSeconds": None, "medianSeconds": None, "p90Seconds": None}


async def test_agents_are_forbidden_and_anonymous_callers_unauthenticated(
    make_actor: Callable[..., Awaitable[Actor]], anonymous: GraphQLClient
) -> None:
    agent = await make_actor(AgentRole.AGENT)

    assert error_codes(await agent.client.post(REPORT, around_now())) == ["FORBIDDEN"]
    assert error_codes(await anonymous.post(REPORT, around_now())) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "to"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "to"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "timezone": "Mars/Olympus"}, "timezone"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "timezone": ""}, "timezone"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "groupId": "not-an-id"}, "groupId"),
        (
            {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "groupId": ids.encode("Group", 999)},
            "groupId",
        ),
    ],
)
async def test_bad_arguments_are_bad_user_input(admin: Actor, variables: dict[str, Any], argument: str | None) -> None:
    result = await admin.client.post(REPORT, variables)

    assert result["data"] is None
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"].get("argument") == argument
