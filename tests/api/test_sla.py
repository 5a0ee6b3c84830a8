"""SLA through the real server: calendars and policies (admins only), Ticket.sla, the slaAtRisk
filter and SLA_DUE_AT order, and, end to end, the in-process scheduler firing a 4-second
policy's WARNING and BREACHED into the ticket's history on time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from app.clock import ManualClock
from app.domain.enums import AgentRole
from app.services.runtime import Runtime
from app.services.sla_scheduler import run_due
from app.settings import Settings
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread, load_document

CREATE_CALENDAR = "console/admin/CreateBusinessCalendar.graphql"
CALENDARS = "console/admin/BusinessCalendars.graphql"
CREATE_POLICY = "console/admin/CreateSlaPolicy.graphql"
UPDATE_POLICY = "console/admin/UpdateSlaPolicy.graphql"
DELETE_POLICY = "console/admin/DeleteSlaPolicy.graphql"
POLICIES = "console/admin/SlaPolicies.graphql"
TICKET_SLA = "console/TicketSla.graphql"
AT_RISK = "console/AtRiskTickets.graphql"
TICKET_LIST = "console/TicketList.graphql"
HISTORY = "console/TicketHistory.graphql"
CREATE = "console/CreateTicket.graphql"
NODE = "console/Node.graphql"

SHANGHAI_HOURS = [
    {"weekday": d, "start": s, "end": e} for d in range(5) for s, e in (("09:00", "12:00"), ("13:00", "18:00"))
]


async def payload_of(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def create_policy(admin: Actor, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "policy")
    policy: dict[str, Any] = (await admin.client.mutate(CREATE_POLICY, {"input": fields}))["policy"]
    return policy


async def create_ticket(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    fields = {
        "subject": "网络故障",
        "description": "The connection drops every few minutes.",
        "channel": "PHONE",
        "customer": {"email": "li.lei@example.cn", "name": "李雷"},
        **fields,
    }
    ticket: dict[str, Any] = (await client.mutate(CREATE, {"input": fields}))["ticket"]
    return ticket


async def test_admins_define_calendars_and_policies(admin: Actor) -> None:
    calendar = (
        await admin.client.mutate(
            CREATE_CALENDAR,
            {
                "input": {
                    "name": "Shanghai office",
                    "timezone": "Asia/Shanghai",
                    "hours": SHANGHAI_HOURS,
                    "holidays": ["2031-02-01", "2031-01-01", "2031-01-01"],
                }
            },
        )
    )["calendar"]
    assert calendar["timezone"] == "Asia/Shanghai"
    assert calendar["holidays"] == ["2031-01-01", "2031-02-01"]
    assert calendar["hours"][:2] == [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 0, "start": "13:00", "end": "18:00"},
    ]
    first = await create_policy(
        admin,
        name="VIP technical faults",
        matchTiers=["VIP"],
        matchCategories=["Technical"],
        firstResponseSeconds=3600,
        calendarId=calendar["id"],
    )
    assert first["position"] == 10 and first["warningAtPercent"] == 80 and first["escalatePriorityOnBreach"]
    assert first["matchCategories"] == ["technical"] and first["calendar"]["name"] == "Shanghai office"
    second = await create_policy(admin, name="Everyone else", resolutionSeconds=86400, warningAtPercent=90)
    assert second["position"] == 20 and second["calendar"] is None and second["firstResponseSeconds"] is None

    policies = (await admin.client.run(POLICIES))["slaPolicies"]
    assert [p["name"] for p in policies] == ["VIP technical faults", "Everyone else"]
    assert (await admin.client.run(CALENDARS))["businessCalendars"] == [calendar]
    node = (await admin.client.run(NODE, {"id": first["id"]}))["node"]
    assert (node["__typename"], node["name"]) == ("SlaPolicy", "VIP technical faults")
    node = (await admin.client.run(NODE, {"id": calendar["id"]}))["node"]
    assert (node["__typename"], node["timezone"]) == ("BusinessCalendar", "Asia/Shanghai")

    updated = (
        await admin.client.mutate(
            UPDATE_POLICY, {"id": second["id"], "input": {"name": "Everyone", "position": 5, "resolutionSeconds": 3600}}
        )
    )["policy"]
    assert (updated["name"], updated["position"], updated["resolutionSeconds"]) == ("Everyone", 5, 3600)
    assert [p["name"] for p in (await admin.client.run(POLICIES))["slaPolicies"]] == [
        "Everyone",
        "VIP technical faults",
    ]
    deleted = await admin.client.mutate(DELETE_POLICY, {"id": second["id"]})
    assert deleted["deletedId"] == second["id"]
    again = await payload_of(admin.client, DELETE_POLICY, {"id": second["id"]})
    assert codes(again) == [(["id"], "NOT_FOUND")]


async def test_bad_calendars_and_policies_are_user_errors(admin: Actor) -> None:
    bad_calendar = await payload_of(
        admin.client,
        CREATE_CALENDAR,
        {
            "input": {
                "name": "Nowhere",
                "timezone": "Mars/Olympus",
                "hours": [
                    {"weekday": 9, "start": "09:00", "end": "18:00"},
                    {"weekday": 1, "start": "18:00", "end": "9"},
                ],
                "holidays": ["tomorrow"],
            }
        },
    )
    assert bad_calendar["calendar"] is None
    assert codes(bad_calendar) == [
        (["input", "timezone"], "INVALID_INPUT"),
        (["input", "hours", "0", "weekday"], "INVALID_INPUT"),
        (["input", "hours", "1", "end"], "INVALID_INPUT"),
        (["input", "holidays", "0"], "INVALID_INPUT"),
    ]
    no_target = await payload_of(admin.client, CREATE_POLICY, {"input": {"name": "x", "warningAtPercent": 0}})
    assert codes(no_target) == [(["input"], "INVALID_INPUT"), (["input", "warningAtPercent"], "INVALID_INPUT")]
    negative = await payload_of(admin.client, CREATE_POLICY, {"input": {"name": "x", "firstResponseSeconds": -5}})
    assert codes(negative) == [(["input", "firstResponseSeconds"], "INVALID_INPUT")]
    unknown = await payload_of(
        admin.client, CREATE_POLICY, {"input": {"name": "x", "firstResponseSeconds": 60, "calendarId": "nope"}}
    )
    assert codes(unknown) == [(["input", "calendarId"], "NOT_FOUND")]
    unknown_group = await payload_of(
        admin.client,
        CREATE_POLICY,
        {"input": {"name": "x", "firstResponseSeconds": 60, "matchGroupIds": ["R3JvdXA6OTk5"]}},  # Group:999
    )
    assert codes(unknown_group) == [(["input", "matchGroupIds"], "NOT_FOUND")]
    assert (await admin.client.run(POLICIES))["slaPolicies"] == []


async def test_only_admins_manage_or_list_sla_configuration(
    admin: Actor, make_actor: Callable[..., Awaitable[Actor]]
) -> None:
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    policy = await create_policy(admin, firstResponseSeconds=60)
    refused = await payload_of(supervisor.client, CREATE_POLICY, {"input": {"name": "x", "firstResponseSeconds": 60}})
    assert codes(refused) == [([], "FORBIDDEN")]
    refused = await payload_of(supervisor.client, DELETE_POLICY, {"id": policy["id"]})
    assert codes(refused) == [([], "FORBIDDEN")]
    refused = await payload_of(
        supervisor.client,
        CREATE_CALENDAR,
        {"input": {"name": "x", "timezone": "UTC", "hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}]}},
    )
    assert codes(refused) == [([], "FORBIDDEN")]
    for document in (POLICIES, CALENDARS):
        result = await supervisor.client.post(load_document(document))
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A policy's name and targets are for every agent (tests/security/test_sla_policy_visibility.py).
    node = (await supervisor.client.run(NODE, {"id": policy["id"]}))["node"]
    assert (node["name"], node["firstResponseSeconds"]) == ("policy", 60)
    assert len((await admin.client.run(POLICIES))["slaPolicies"]) == 1


async def test_ticket_sla_shows_the_clocks_and_follows_policy_changes(admin: Actor) -> None:
    policy = await create_policy(admin, name="Standard", firstResponseSeconds=4 * 3600, resolutionSeconds=86400)
    ticket = await create_ticket(admin.client)
    sla = (await admin.client.run(TICKET_SLA, {"id": ticket["id"]}))["ticket"]["sla"]
    assert sla["policy"]["name"] == "Standard"
    first, resolution = sla["firstResponse"], sla["resolution"]
    assert (first["target"], first["state"], first["warnedAt"], first["metAt"]) == (
        "FIRST_RESPONSE",
        "RUNNING",
        None,
        None,
    )
    assert 4 * 3600 - 60 < first["remainingSeconds"] <= 4 * 3600
    due = datetime.fromisoformat(first["dueAt"])
    assert timedelta(hours=3, minutes=59) < due - datetime.now(UTC) <= timedelta(hours=4)
    assert resolution["target"] == "RESOLUTION" and resolution["state"] == "RUNNING"

    await admin.client.mutate(
        UPDATE_POLICY, {"id": policy["id"], "input": {"name": "Standard", "firstResponseSeconds": 3600}}
    )
    sla = (await admin.client.run(TICKET_SLA, {"id": ticket["id"]}))["ticket"]["sla"]
    assert 3600 - 60 < sla["firstResponse"]["remainingSeconds"] <= 3600
    assert sla["resolution"] is None  # the policy has no resolution target any more

    await admin.client.mutate(DELETE_POLICY, {"id": policy["id"]})
    assert (await admin.client.run(TICKET_SLA, {"id": ticket["id"]}))["ticket"]["sla"] is None


async def test_sla_at_risk_filter_and_sla_due_at_order(admin: Actor, rt: Runtime, settings: Settings) -> None:
    await create_policy(
        admin, name="Urgent", matchPriorities=["URGENT"], firstResponseSeconds=1800, warningAtPercent=50
    )
    await create_policy(admin, name="High", matchPriorities=["HIGH"], firstResponseSeconds=3600, warningAtPercent=50)
    await create_policy(admin, name="Normal", matchPriorities=["NORMAL"], firstResponseSeconds=4 * 3600)
    urgent = await create_ticket(admin.client, priority="URGENT", subject="urgent")
    high = await create_ticket(admin.client, priority="HIGH", subject="high")
    normal = await create_ticket(admin.client, priority="NORMAL", subject="normal")
    low = await create_ticket(admin.client, priority="LOW", subject="low (no policy)")
    # A scheduler 40 minutes ahead: urgent warned and breached (due at 30), high warned (at 30).
    ahead = Runtime(engine=rt.engine, settings=settings, clock=ManualClock(datetime.now(UTC) + timedelta(minutes=40)))
    assert await run_due(ahead) == 3

    at_risk = (await admin.client.run(AT_RISK))["tickets"]
    assert at_risk["totalCount"] == 2
    nodes = [edge["node"] for edge in at_risk["edges"]]
    assert [node["subject"] for node in nodes] == ["urgent", "high"]
    assert nodes[0]["sla"]["firstResponse"]["state"] == "BREACHED" and nodes[0]["escalationLevel"] == 1
    assert nodes[1]["sla"]["firstResponse"]["state"] == "RUNNING"
    not_at_risk = (await admin.client.run(TICKET_LIST, {"filter": {"slaAtRisk": False}}))["tickets"]
    assert {e["node"]["id"] for e in not_at_risk["edges"]} == {normal["id"], low["id"]}

    for direction, expected in (("ASC", [urgent, high, normal, low]), ("DESC", [normal, high, urgent, low])):
        order = {"field": "SLA_DUE_AT", "direction": direction}
        seen: list[str] = []
        after = None
        while True:  # one ticket per page: the cursors carry the SLA sort key
            page = (await admin.client.run(TICKET_LIST, {"orderBy": order, "first": 1, "after": after}))["tickets"]
            seen += [edge["node"]["id"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [t["id"] for t in expected], direction


async def test_ticket_sla_on_a_list_costs_one_statement_per_page(admin: Actor, server: ServerThread) -> None:
    await create_policy(admin, firstResponseSeconds=3600, resolutionSeconds=7200)
    for i in range(30):
        await create_ticket(admin.client, subject=f"#{i}", customer={"email": f"c{i}@example.com"})
    document = (
        "query($first: Int) { tickets(first: $first) { edges { node { id "
        "sla { policy { name } firstResponse { state dueAt remainingSeconds } resolution { state } } } } } }"
    )
    engine = server.app.state.runtime.engine
    counts: dict[int, list[str]] = {}
    for first in (5, 30):
        sent: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any, sent: list[str] = sent) -> None:
            # The process's event reader follows the log on the same engine; its reads are not the
            # request's. The caller is read once per credential (then cached), not per page.
            if not statement.startswith(("SELECT ticket_events.", "SELECT sessions.")):
                sent.append(statement.split(" FROM ")[0][:60])

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            data = await admin.client.execute(document, {"first": first})
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert len(data["tickets"]["edges"]) == first
        assert all(edge["node"]["sla"]["policy"]["name"] == "policy" for edge in data["tickets"]["edges"])
        counts[first] = sent
    print(f"\nSQL statements per ticket list with Ticket.sla: first=5 -> {counts[5]}, first=30 -> {counts[30]}")
    # The page, one batched load of the clocks and one of the policies they name (with their
    # calendars), whatever the page size.
    assert len(counts[5]) == len(counts[30]) == 3


async def test_the_server_runs_the_scheduler_and_a_four_second_policy_warns_then_breaches_on_time(
    admin: Actor, server: ServerThread
) -> None:
    scheduler = server.app.state.sla_scheduler  # started by the lifespan, next to auto-close
    assert scheduler is not None and not scheduler.task.done()
    await create_policy(admin, name="Four seconds", firstResponseSeconds=4, warningAtPercent=50)
    ticket = await create_ticket(admin.client)
    created = datetime.fromisoformat(
        (await admin.client.run(HISTORY, {"id": ticket["id"]}))["ticket"]["history"]["edges"][0]["node"]["occurredAt"]
    )
    deadline = time.monotonic() + 15
    while True:
        edges = (await admin.client.run(HISTORY, {"id": ticket["id"]}))["ticket"]["history"]["edges"]
        events = [edge["node"] for edge in edges if edge["node"]["type"].startswith("SLA_")]
        if len(events) == 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert [e["type"] for e in events] == ["SLA_WARNING", "SLA_BREACHED"]
    warning, breach = events
    assert warning["actorAgent"] is None and warning["data"]["target"] == "FIRST_RESPONSE"
    warned_after = datetime.fromisoformat(warning["occurredAt"]) - created
    breached_after = datetime.fromisoformat(breach["occurredAt"]) - created
    # Due 4 s after creation, warning at 2 s; the scheduler wakes at the due instant (tick <= 1 s).
    assert timedelta(seconds=2) <= warned_after < timedelta(seconds=3.5), warned_after
    assert timedelta(seconds=4) <= breached_after < timedelta(seconds=5.5), breached_after
    assert breach["data"]["remainingSeconds"] <= 0
    sla = (await admin.client.run(TICKET_SLA, {"id": ticket["id"]}))["ticket"]
    assert sla["sla"]["firstResponse"]["state"] == "BREACHED"
    assert sla["escalationLevel"] == 1
