"""Automations through the real server: refusals at their field paths when saved, each kind of
trigger firing through the server's own "automations" consumer, conditions, a refused action
recorded while the others apply, the loop guard and depth 5, stopProcessing, and the preview."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.db import tables
from app.domain.enums import AgentRole, AssignmentStrategy, Channel, CommentVisibility, TicketEventType, TicketPriority
from app.domain.records import GroupRecord
from app.services import assignment, conversation, event_consumers, lifecycle
from app.services import tickets as ticket_service
from app.services.automation_runner import CONSUMER
from app.services.automations import PREVIEW_SAMPLE
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

CREATE = "console/admin/CreateAutomation.graphql"
UPDATE = "console/admin/UpdateAutomation.graphql"
DELETE = "console/admin/DeleteAutomation.graphql"
LIST = "console/admin/Automations.graphql"
PREVIEW = "console/admin/PreviewAutomation.graphql"
HISTORY = "console/TicketHistory.graphql"
DETAIL = "console/TicketDetail.graphql"
NOTIFICATIONS = "console/Notifications.graphql"
# How long a test waits for the server's consumer (it looks every HELPDESK_EVENT_POLL_SECONDS).
WAIT_SECONDS = 30.0


@pytest.fixture
async def consumer(rt: Runtime) -> AsyncIterator[None]:
    """The shared server's automations consumer reads from the start of this test's (emptied) log."""
    async with rt.engine.begin() as conn:
        await event_consumers.ensure_consumer(conn, CONSUMER)
    yield


@pytest.fixture
async def team(make_group: MakeGroup, make_actor: MakeActor) -> dict[str, Any]:
    group = await make_group("售后 After-sales", assignment_strategy=AssignmentStrategy.MANUAL)
    return {
        "group": group,
        "agent": await make_actor(AgentRole.AGENT, [group], name="王芳"),
        "supervisor": await make_actor(AgentRole.SUPERVISOR, [group], name="Sam Supervisor"),
    }


def action(type_: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "value": value}


def condition(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


async def create(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    payload = await client.mutate(CREATE, {"input": {"name": "rule", **input}})
    return payload["automation"]  # type: ignore[no-any-return]


async def new_ticket(
    rt: Runtime, team: dict[str, Any], priority: TicketPriority = TicketPriority.NORMAL, **extra: Any
) -> int:
    supervisor = team["supervisor"].principal
    record, _ = await ticket_service.create_ticket(
        rt,
        supervisor,
        ticket_service.NewTicket(
            subject=extra.pop("subject", "订单 SO-1001 咨询 / a question about order SO-1001"),
            description="When will order SO-1001 be shipped?",
            channel=Channel.EMAIL,
            customer=CustomerRef(email="li.lei@example.cn", name="李雷"),
            priority=priority,
            **extra,
        ),
    )
    return record.id


async def history(client: GraphQLClient, ticket_id: int) -> list[dict[str, Any]]:
    data = await client.run(HISTORY, {"id": ids.encode("Ticket", ticket_id), "first": 100})
    return [edge["node"] for edge in data["ticket"]["history"]["edges"]]


async def applied(client: GraphQLClient, ticket_id: int, count: int = 1) -> list[dict[str, Any]]:
    """The ticket's AUTOMATION_APPLIED events once there are `count` of them (waits for the consumer)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        found = [e for e in await history(client, ticket_id) if e["type"] == "AUTOMATION_APPLIED"]
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.2)


async def settled(rt: Runtime) -> None:
    """Waits until the consumer has read the whole log (so 'nothing fired' means nothing will)."""
    te = tables.ticket_events
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        async with rt.engine.connect() as conn:
            last = (
                await conn.execute(select(te.c.txid, te.c.id).order_by(te.c.txid.desc(), te.c.id.desc()).limit(1))
            ).first()
            at = await event_consumers.position(conn, CONSUMER)
        if at is not None and last is not None and (at.txid, at.id) >= (last.txid, last.id):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the automations consumer did not reach the end of the log")


async def timers_decided(rt: Runtime) -> None:
    """Waits until every TIME_IN_STATUS timer has fired or gone (each fires or is dropped once due)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        async with rt.engine.connect() as conn:
            if not (await conn.execute(select(tables.automation_timers.c.event_id).limit(1))).first():
                return
        await asyncio.sleep(0.2)
    raise AssertionError("TIME_IN_STATUS timers still pending")


# ---------------------------------------------------------------- saving


@pytest.mark.parametrize(
    ("conditions", "actions", "field"),
    [
        ([condition("colour", "EQUALS", "red")], None, ["input", "conditions", "0", "field"]),
        ([condition("tags", "GREATER_THAN", "x")], None, ["input", "conditions", "0", "operator"]),
        ([condition("priority", "EQUALS", "SOON")], None, ["input", "conditions", "0", "value"]),
        ([condition("priority", "IN", "HIGH")], None, ["input", "conditions", "0", "value"]),
        ([condition("status", "IS_SET")], None, ["input", "conditions", "0", "operator"]),
        ([condition("assigneeId", "IS_SET", "x")], None, ["input", "conditions", "0", "value"]),
        ([condition("groupId", "EQUALS", "not-an-id")], None, ["input", "conditions", "0", "value"]),
        ([condition("customFields.orderTotal", "GREATER_THAN", "big")], None, ["input", "conditions", "0", "value"]),
        (
            [condition("priority", "EQUALS", "HIGH"), condition("channel", "IN", ["EMAIL", "FAX"])],
            None,
            ["input", "conditions", "1", "value", "1"],
        ),
        (None, [action("SET_PRIORITY", {"priority": "SOON"})], ["input", "actions", "0", "value", "priority"]),
        (
            None,
            [action("ASSIGN_TO_GROUP", {"groupId": ids.encode("Group", 999_999)})],
            ["input", "actions", "0", "value", "groupId"],
        ),
        (
            None,
            [action("ADD_INTERNAL_NOTE", {"body": "{{ticket.secret}}"})],
            ["input", "actions", "0", "value", "body"],
        ),
        (
            None,
            [action("NOTIFY_AGENTS", {"supervisors": False, "message": "m"})],
            ["input", "actions", "0", "value", "supervisors"],
        ),
        (
            None,
            [action("NOTIFY_AGENTS", {"supervisors": True, "assignee": True, "message": "m"})],
            ["input", "actions", "0", "value"],
        ),
        (None, [], ["input", "actions"]),
    ],
)
async def test_a_bad_condition_or_action_is_refused_at_its_path_and_nothing_is_saved(
    admin: Actor, conditions: list[dict[str, Any]] | None, actions: list[dict[str, Any]] | None, field: list[str]
) -> None:
    input = {
        "name": "bad",
        "trigger": "TICKET_CREATED",
        "conditions": conditions,
        "actions": actions if actions is not None else [action("ADD_TAGS", {"tags": ["x"]})],
    }
    data = await admin.client.run(CREATE, {"input": input})

    payload = data["createAutomation"]
    assert payload["automation"] is None
    assert [e["field"] for e in payload["userErrors"]] == [field], payload["userErrors"]
    assert payload["userErrors"][0]["code"] in ("INVALID_INPUT", "NOT_FOUND")
    assert (await admin.client.run(LIST))["automations"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"afterSeconds": 60}, ["input", "status"]),
        ({"status": "NEW"}, ["input", "afterSeconds"]),
        ({"status": "NEW", "afterSeconds": 0}, ["input", "afterSeconds"]),
        ({"status": "CLOSED", "afterSeconds": 60}, ["input", "status"]),
    ],
)
async def test_time_in_status_needs_a_status_and_a_positive_interval(
    admin: Actor, extra: dict[str, Any], field: list[str]
) -> None:
    input = {"name": "timed", "trigger": "TIME_IN_STATUS", "actions": [action("ADD_TAGS", {"tags": ["x"]})], **extra}
    payload = (await admin.client.run(CREATE, {"input": input}))["createAutomation"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID_INPUT")]
    other = {**input, "trigger": "TICKET_CREATED", "status": "NEW", "afterSeconds": None}
    payload = (await admin.client.run(CREATE, {"input": other}))["createAutomation"]
    assert [e["field"] for e in payload["userErrors"]] == [["input", "status"]]


async def test_saved_automations_read_back_in_order_update_and_delete(admin: Actor, team: dict[str, Any]) -> None:
    group = ids.encode("Group", team["group"].id)
    first = await create(
        admin.client,
        name="first",
        trigger="SLA_BREACHED",
        actions=[action("SET_PRIORITY", {"priority": "URGENT"})],
    )
    # Without a position, a new automation goes last.
    second = await create(
        admin.client,
        name="second",
        trigger="TICKET_UPDATED",
        conditions=[condition("groupId", "IN", [group]), condition("subject", "CONTAINS", "Refund")],
        actions=[action("ADD_TAGS", {"tags": ["Seen"]})],
    )
    assert (first["position"], second["position"]) == (0, 1)
    assert second["conditions"] == [
        {"field": "groupId", "operator": "IN", "value": [group]},
        {"field": "subject", "operator": "CONTAINS", "value": "refund"},
    ]
    assert second["actions"] == [{"type": "ADD_TAGS", "value": {"tags": ["seen"]}}]
    assert second["firedCount"] == 0 and second["lastFiredAt"] is None and second["enabled"] is True

    listed = (await admin.client.run(LIST))["automations"]
    assert [a["name"] for a in listed] == ["first", "second"]

    updated = (
        await admin.client.mutate(
            UPDATE,
            {
                "id": first["id"],
                "input": {
                    "name": "renamed",
                    "position": 5,
                    "trigger": "SLA_WARNING",
                    "enabled": False,
                    "actions": first["actions"],
                },
            },
        )
    )["automation"]
    assert (updated["name"], updated["position"], updated["trigger"], updated["enabled"]) == (
        "renamed",
        5,
        "SLA_WARNING",
        False,
    )
    assert [a["name"] for a in (await admin.client.run(LIST))["automations"]] == ["second", "renamed"]

    assert (await admin.client.mutate(DELETE, {"id": first["id"]}))["deletedId"] == first["id"]
    gone = (await admin.client.run(DELETE, {"id": first["id"]}))["deleteAutomation"]
    assert [e["code"] for e in gone["userErrors"]] == ["NOT_FOUND"]


# ---------------------------------------------------------------- firing


async def test_ticket_created_fires_when_the_conditions_hold_and_counts(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]
) -> None:
    rule = await create(
        admin.client,
        trigger="TICKET_CREATED",
        conditions=[condition("priority", "IN", ["URGENT", "HIGH"]), condition("customer.tier", "EQUALS", "STANDARD")],
        actions=[action("ADD_TAGS", {"tags": ["hot"]})],
    )
    urgent = await new_ticket(rt, team, TicketPriority.URGENT)
    normal = await new_ticket(rt, team, TicketPriority.NORMAL)

    (event,) = await applied(admin.client, urgent)
    await settled(rt)

    assert event["actorAgent"] is None
    assert event["data"]["automationId"] == rule["id"]
    assert event["data"]["trigger"] == "TICKET_CREATED"
    assert event["data"]["actions"] == [{"type": "ADD_TAGS", "applied": True}]
    detail = (await admin.client.run(DETAIL, {"id": ids.encode("Ticket", urgent)}))["ticket"]
    assert detail["tags"] == ["hot"]
    # The tag's own UPDATED event names the automation that wrote it.
    updated = [e for e in await history(admin.client, urgent) if e["type"] == "UPDATED"]
    assert updated[-1]["data"]["automationId"] == rule["id"]
    assert await applied(admin.client, normal, count=0) == []
    (listed,) = (await admin.client.run(LIST))["automations"]
    assert listed["firedCount"] == 1 and listed["lastFiredAt"] is not None


async def test_a_changed_automation_fires_on_its_new_conditions(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]
) -> None:
    # The running consumer keeps automations decoded between events: an edit must reach it.
    rule = await create(
        admin.client,
        trigger="TICKET_CREATED",
        conditions=[condition("priority", "EQUALS", "URGENT")],
        actions=[action("ADD_TAGS", {"tags": ["hot"]})],
    )
    urgent = await new_ticket(rt, team, TicketPriority.URGENT)
    assert len(await applied(admin.client, urgent)) == 1
    await admin.client.mutate(
        UPDATE,
        {
            "id": rule["id"],
            "input": {
                "name": "rule",
                "trigger": "TICKET_CREATED",
                "conditions": [condition("priority", "EQUALS", "LOW")],
                "actions": rule["actions"],
            },
        },
    )
    low = await new_ticket(rt, team, TicketPriority.LOW)
    later_urgent = await new_ticket(rt, team, TicketPriority.URGENT)

    assert len(await applied(admin.client, low)) == 1
    await settled(rt)
    assert await applied(admin.client, later_urgent, count=0) == []


async def test_status_changed_and_agent_and_customer_replies_fire_their_automations(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]
) -> None:
    agent, supervisor = team["agent"], team["supervisor"]
    await create(
        admin.client,
        name="status",
        trigger="STATUS_CHANGED",
        conditions=[condition("status", "EQUALS", "PENDING")],
        actions=[action("ADD_TAGS", {"tags": ["waiting"]})],
    )
    await create(
        admin.client, name="agent", trigger="AGENT_REPLIED", actions=[action("ADD_TAGS", {"tags": ["answered"]})]
    )
    # The demo's rule: a customer answered a ticket we were waiting on -> tell its assignee.
    await create(
        admin.client,
        name="customer",
        trigger="CUSTOMER_REPLIED",
        conditions=[condition("status", "EQUALS", "PENDING")],
        actions=[action("NOTIFY_AGENTS", {"assignee": True, "message": "#{{ticket.number}}: the customer replied"})],
    )
    ticket = await new_ticket(rt, team)
    await assignment.assign_ticket(rt, supervisor.principal, ticket, agent.agent.id, team["group"].id, None)
    await conversation.add_comment(rt, agent.principal, ticket, "我们正在处理 / on it", CommentVisibility.PUBLIC)
    await lifecycle.transition(rt, agent.principal, ticket, lifecycle.Action.SET_PENDING)
    await conversation.add_customer_reply(rt, agent.principal, ticket, "订单号 SO-1001")

    events = await applied(admin.client, ticket, count=3)
    await settled(rt)

    assert sorted(e["data"]["name"] for e in events) == ["agent", "customer", "status"]
    notes = (await agent.client.run(NOTIFICATIONS, {}))["notifications"]["edges"]
    assert [n["node"]["kind"] for n in notes].count("AUTOMATION") == 1
    # A reply on an OPEN ticket is not "on a PENDING ticket".
    await conversation.add_customer_reply(rt, agent.principal, ticket, "还有问题 / one more thing")
    await settled(rt)
    assert len(await applied(admin.client, ticket, count=4)) == 3


async def test_sla_breach_fires_its_automation(rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]) -> None:
    await create(admin.client, trigger="SLA_BREACHED", actions=[action("SET_PRIORITY", {"priority": "URGENT"})])
    ticket = await new_ticket(rt, team)
    async with rt.transaction() as tx:  # the SLA engine's own event, as the scheduler writes it
        await tx.append(
            ticket_id=ticket, group_id=team["group"].id, type=TicketEventType.SLA_BREACHED, occurred_at=rt.clock.now()
        )
    (event,) = await applied(admin.client, ticket)
    assert event["data"]["trigger"] == "SLA_BREACHED"
    detail = (await admin.client.run(DETAIL, {"id": ids.encode("Ticket", ticket)}))["ticket"]
    assert detail["priority"] == "URGENT"


async def test_a_refused_action_is_recorded_with_its_reason_and_the_others_still_apply(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]
) -> None:
    await create(
        admin.client,
        trigger="TICKET_CREATED",
        actions=[
            action("NOTIFY_AGENTS", {"assignee": True, "message": "new ticket"}),
            action("ADD_TAGS", {"tags": ["triaged"]}),
        ],
    )
    ticket = await new_ticket(rt, team)  # no assignee: the notification is refused

    (event,) = await applied(admin.client, ticket)

    refused, tagged = event["data"]["actions"]
    assert refused["type"] == "NOTIFY_AGENTS" and refused["applied"] is False
    assert refused["code"] == "PRECONDITION_FAILED" and "no assignee" in refused["reason"]
    assert tagged == {"type": "ADD_TAGS", "applied": True}
    detail = (await admin.client.run(DETAIL, {"id": ids.encode("Ticket", ticket)}))["ticket"]
    assert detail["tags"] == ["triaged"]


async def test_an_automation_never_fires_on_its_own_changes_and_chains_stop_at_depth_5(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]
) -> None:
    supervisor = team["supervisor"].principal
    # ping -> pong -> ping -> ...: each one's change triggers the other (stopProcessing: one of
    # them per event, so the chain is a line).
    ping = await create(
        admin.client,
        name="ping",
        trigger="TICKET_UPDATED",
        stopProcessing=True,
        conditions=[condition("tags", "CONTAINS", "ping")],
        actions=[action("REMOVE_TAGS", {"tags": ["ping"]}), action("ADD_TAGS", {"tags": ["pong"]})],
    )
    pong = await create(
        admin.client,
        name="pong",
        trigger="TICKET_UPDATED",
        stopProcessing=True,
        conditions=[condition("tags", "CONTAINS", "pong")],
        actions=[action("REMOVE_TAGS", {"tags": ["pong"]}), action("ADD_TAGS", {"tags": ["ping"]})],
    )
    # One that its own change would trigger again, if the guard let it.
    itself = await create(
        admin.client,
        name="itself",
        trigger="TICKET_UPDATED",
        conditions=[condition("subject", "CONTAINS", "itself")],
        actions=[
            action("ADD_INTERNAL_NOTE", {"body": "seen #{{ticket.number}}"}),
            action("SET_CATEGORY", {"category": "seen"}),
        ],
    )
    chained = await new_ticket(rt, team)
    alone = await new_ticket(rt, team, subject="itself")
    await ticket_service.update_ticket(rt, supervisor, chained, ticket_service.TicketChanges(tags=["ping"]), None)
    await ticket_service.update_ticket(rt, supervisor, alone, ticket_service.TicketChanges(tags=["once"]), None)

    await applied(admin.client, chained, count=5)
    await settled(rt)

    chain = await applied(admin.client, chained)
    assert [e["data"]["name"] for e in chain] == ["ping", "pong", "ping", "pong", "ping"]
    assert [e["data"]["automationDepth"] for e in chain] == [1, 2, 3, 4, 5]
    assert [e["data"].get("stopped") for e in chain] == [None, None, None, None, "depth"]
    assert [e["data"]["automationId"] for e in chain] == [ping["id"], pong["id"]] * 2 + [ping["id"]]
    (once,) = await applied(admin.client, alone)
    assert once["data"]["automationId"] == itself["id"]
    caused = [e for e in await history(admin.client, alone) if e["data"].get("automationId") == itself["id"]]
    assert {e["type"] for e in caused} >= {"UPDATED", "AUTOMATION_APPLIED"}


async def test_stop_processing_ends_the_run_for_that_event(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any]
) -> None:
    await create(
        admin.client,
        name="first",
        position=1,
        trigger="TICKET_CREATED",
        stopProcessing=True,
        actions=[action("ADD_TAGS", {"tags": ["first"]})],
    )
    await create(
        admin.client,
        name="second",
        position=2,
        trigger="TICKET_CREATED",
        actions=[action("ADD_TAGS", {"tags": ["second"]})],
    )
    ticket = await new_ticket(rt, team)

    await applied(admin.client, ticket)
    await settled(rt)

    assert [e["data"]["name"] for e in await applied(admin.client, ticket)] == ["first"]
    detail = (await admin.client.run(DETAIL, {"id": ids.encode("Ticket", ticket)}))["ticket"]
    assert detail["tags"] == ["first"]


async def test_preview_counts_the_open_tickets_the_conditions_match_now(
    rt: Runtime, admin: Actor, team: dict[str, Any]
) -> None:
    urgent = [await new_ticket(rt, team, TicketPriority.URGENT) for _ in range(3)]
    await new_ticket(rt, team, TicketPriority.LOW)
    await lifecycle.transition(rt, team["supervisor"].principal, urgent[0], lifecycle.Action.START)
    await lifecycle.transition(rt, team["supervisor"].principal, urgent[0], lifecycle.Action.RESOLVE, resolution="done")
    input = {
        "name": "preview",
        "trigger": "TICKET_UPDATED",
        "conditions": [condition("priority", "GREATER_THAN", "NORMAL"), condition("subject", "CONTAINS", "so-1001")],
        "actions": [action("ADD_TAGS", {"tags": ["x"]})],
    }

    preview = (await admin.client.run(PREVIEW, {"input": input}))["previewAutomation"]

    assert preview["matchingOpenTickets"] == 2
    assert sorted(t["id"] for t in preview["sample"]) == sorted(ids.encode("Ticket", i) for i in urgent[1:])
    bad = await admin.client.post(
        "query($input: AutomationInput!) { previewAutomation(input: $input) { matchingOpenTickets } }",
        {"input": {**input, "conditions": [condition("nope", "EQUALS", 1)]}},
    )
    # A query's bad argument is a GraphQL error naming the field, as for the other queries.
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["field"] == ["input", "conditions", "0", "field"]
    assert (await admin.client.run(LIST))["automations"] == []


async def test_preview_counts_every_match_and_samples_the_newest(
    rt: Runtime, admin: Actor, team: dict[str, Any]
) -> None:
    # More matches than the sample holds: the count is not the sample's length.
    made = [await new_ticket(rt, team, TicketPriority.URGENT) for _ in range(PREVIEW_SAMPLE + 2)]
    await new_ticket(rt, team, TicketPriority.LOW)
    input = {
        "name": "preview",
        "trigger": "TICKET_UPDATED",
        "conditions": [condition("priority", "EQUALS", "URGENT")],
        "actions": [action("ADD_TAGS", {"tags": ["x"]})],
    }

    preview = (await admin.client.run(PREVIEW, {"input": input}))["previewAutomation"]

    assert preview["matchingOpenTickets"] == PREVIEW_SAMPLE + 2
    assert [t["id"] for t in preview["sample"]] == [ids.encode("Ticket", i) for i in reversed(made[2:])]


async def test_an_urgent_ticket_unhandled_for_its_interval_tells_the_supervisors_once(
    rt: Runtime, consumer: None, admin: Actor, team: dict[str, Any], make_group: MakeGroup, make_actor: MakeActor
) -> None:
    """The seed's rule with 2 seconds instead of 24 business hours: the supervisors of the
    ticket's group hear of it, not another group's."""
    supervisor = team["supervisor"]
    elsewhere = await make_actor(AgentRole.SUPERVISOR, [await make_group("其他 Other")], name="Otto Other")
    # Already NEW before the automation existed: timed from its creation all the same.
    waiting = await new_ticket(rt, team, TicketPriority.URGENT)
    await assignment.assign_ticket(rt, supervisor.principal, waiting, None, team["group"].id, None)
    await create(
        admin.client,
        name="超过24小时未处理 / unhandled",
        trigger="TIME_IN_STATUS",
        status="NEW",
        afterSeconds=2,
        conditions=[condition("priority", "IN", ["URGENT", "HIGH"])],
        actions=[
            action(
                "NOTIFY_AGENTS",
                {"supervisors": True, "message": "#{{ticket.number}} unhandled"},
            ),
            action("ADD_TAGS", {"tags": ["overdue"]}),
        ],
    )
    low = await new_ticket(rt, team, TicketPriority.LOW)
    started = await new_ticket(rt, team, TicketPriority.HIGH)
    await lifecycle.transition(rt, supervisor.principal, started, lifecycle.Action.START)

    (event,) = await applied(admin.client, waiting)
    await settled(rt)
    await timers_decided(rt)

    assert event["data"]["trigger"] == "TIME_IN_STATUS" and event["data"]["actions"] == [
        {"type": "NOTIFY_AGENTS", "applied": True},
        {"type": "ADD_TAGS", "applied": True},
    ]
    assert (await admin.client.run(DETAIL, {"id": ids.encode("Ticket", waiting)}))["ticket"]["tags"] == ["overdue"]
    notes = (await supervisor.client.run(NOTIFICATIONS, {}))["notifications"]["edges"]
    n = (await admin.client.run(DETAIL, {"id": ids.encode("Ticket", waiting)}))["ticket"]["number"]
    assert [(e["node"]["kind"], e["node"]["message"]) for e in notes if e["node"]["kind"] == "AUTOMATION"] == [
        ("AUTOMATION", f"#{n} unhandled")
    ]
    assert (await elsewhere.client.run(NOTIFICATIONS, {}))["notifications"]["edges"] == []
    assert await applied(admin.client, low, count=0) == []
    assert await applied(admin.client, started, count=0) == []
    assert len(await applied(admin.client, waiting)) == 1
