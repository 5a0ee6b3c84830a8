"""Macros through the real server and the console's documents: a bilingual reply with a tag and a
status change in one step, all or nothing, versions, personal macros, the agent's own
permissions, placeholders, and what is refused when a macro is saved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.db import tables
from app.domain.email.mailbox_settings import MailboxInput
from app.domain.enums import AgentRole, AssignmentStrategy, Channel
from app.domain.records import GroupRecord
from app.services import assignment, email_ingest, mailboxes
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.fixtures.inbound_mail import SUPPORT, customer_mail
from tests.support import GraphQLClient, load_document

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

CREATE = "console/CreateMacro.graphql"
UPDATE = "console/UpdateMacro.graphql"
DELETE = "console/DeleteMacro.graphql"
LIST = "console/Macros.graphql"
RENDER = "console/RenderMacro.graphql"
APPLY = "console/ApplyMacro.graphql"
DETAIL = "console/TicketDetail.graphql"
COMMENTS = "console/TicketComments.graphql"
HISTORY = "console/TicketHistory.graphql"
NODE = "query($id: ID!) { node(id: $id) { id } }"

REFUND_BODY = (
    "{{customer.name}} 您好，您的退款（工单 #{{ticket.number}}）正在处理中。\n"
    "Hello {{customer.name}}, your refund (ticket #{{ticket.number}}) is in progress.\n— {{agent.name}}"
)


@pytest.fixture
async def team(make_group: MakeGroup, make_actor: MakeActor) -> dict[str, Any]:
    """A group (manual assignment, so nothing moves by itself), its agent, a supervisor, an agent
    of another group, and that other group."""
    group = await make_group("售后 After-sales", assignment_strategy=AssignmentStrategy.MANUAL)
    other = await make_group("物流 Logistics", assignment_strategy=AssignmentStrategy.MANUAL)
    return {
        "group": group,
        "other": other,
        "agent": await make_actor(AgentRole.AGENT, [group], name="王芳"),
        "colleague": await make_actor(AgentRole.AGENT, [group], name="Chen Jie"),
        "outsider": await make_actor(AgentRole.AGENT, [other], name="Outsider"),
        "supervisor": await make_actor(AgentRole.SUPERVISOR, [group], name="Sam Supervisor"),
    }


async def new_ticket(rt: Runtime, team: dict[str, Any], custom_fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """A NEW ticket of the team's group from 李雷; returns its global id, number and version."""
    supervisor = team["supervisor"].principal
    record, _ = await ticket_service.create_ticket(
        rt,
        supervisor,
        ticket_service.NewTicket(
            subject="退款：订单 SO-1001 未收到货",
            description="The parcel never arrived; please refund.",
            channel=Channel.EMAIL,
            customer=CustomerRef(email="li.lei@example.cn", name="李雷"),
            custom_fields=custom_fields,
        ),
    )
    record = await assignment.assign_ticket(rt, supervisor, record.id, None, team["group"].id, None)
    return {"id": ids.encode("Ticket", record.id), "number": record.number, "version": record.version}


def action(type_: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "value": value}


async def create_macro(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    payload = await client.mutate(CREATE, {"input": {"name": "macro", **input}})
    return payload["macro"]  # type: ignore[no-any-return]


async def apply(client: GraphQLClient, ticket: str, macro: str, version: int | None = None) -> dict[str, Any]:
    data = await client.run(APPLY, {"ticketId": ticket, "macroId": macro, "expectedVersion": version})
    return data["applyMacro"]  # type: ignore[no-any-return]


async def ticket_state(client: GraphQLClient, ticket: str) -> dict[str, Any]:
    detail = (await client.run(DETAIL, {"id": ticket}))["ticket"]
    comments = (await client.run(COMMENTS, {"id": ticket}))["ticket"]["comments"]
    history = (await client.run(HISTORY, {"id": ticket}))["ticket"]["history"]["edges"]
    return {
        "status": detail["status"],
        "version": detail["version"],
        "tags": detail["tags"],
        "comments": [edge["node"] for edge in comments["edges"]],
        "events": [edge["node"]["type"] for edge in history],
        "history": [edge["node"] for edge in history],
    }


async def usage(client: GraphQLClient, macro_id: str) -> int:
    macros = (await client.run(LIST, {}))["macros"]
    return next(m["usageCount"] for m in macros if m["id"] == macro_id)  # type: ignore[no-any-return]


async def test_a_macro_applies_a_bilingual_reply_a_tag_and_a_status_change_in_one_step(
    rt: Runtime, team: dict[str, Any]
) -> None:
    supervisor, agent = team["supervisor"], team["agent"]
    macro = await create_macro(
        supervisor.client,
        name="退款处理中 / refund in progress",
        body=REFUND_BODY,
        actions=[action("ADD_TAGS", {"tags": ["Refund"]}), action("SET_STATUS", {"status": "PENDING"})],
    )
    assert macro["owner"] is None and macro["visibility"] == "PUBLIC"
    assert macro["actions"] == [
        {"type": "ADD_TAGS", "value": {"tags": ["refund"]}},
        {"type": "SET_STATUS", "value": {"status": "PENDING"}},
    ]
    ticket = await new_ticket(rt, team)

    payload = await apply(agent.client, ticket["id"], macro["id"], ticket["version"])

    assert payload["userErrors"] == []
    assert payload["ticket"]["status"] == "PENDING" and "refund" in payload["ticket"]["tags"]
    state = await ticket_state(agent.client, ticket["id"])
    (reply,) = state["comments"]
    n = ticket["number"]
    assert reply["body"] == (
        f"李雷 您好，您的退款（工单 #{n}）正在处理中。\nHello 李雷, your refund (ticket #{n}) is in progress.\n— 王芳"
    )
    assert reply["visibility"] == "PUBLIC" and reply["authorAgent"]["name"] == "王芳"
    # The reply started the NEW ticket, then the actions ran, then the macro's own record.
    assert state["events"][-4:] == ["COMMENTED", "UPDATED", "STATUS_CHANGED", "MACRO_APPLIED"]
    applied = state["history"][-1]
    assert applied["actorAgent"]["name"] == "王芳"
    assert applied["data"]["macroId"] == macro["id"]
    assert applied["data"]["actions"] == ["ADD_TAGS", "SET_STATUS"]
    assert await usage(agent.client, macro["id"]) == 1


async def test_one_refused_action_leaves_the_ticket_exactly_as_it_was(rt: Runtime, team: dict[str, Any]) -> None:
    supervisor, agent = team["supervisor"], team["agent"]
    # CLOSED is reached from RESOLVED only: the third action is refused after two that worked.
    macro = await create_macro(
        supervisor.client,
        body="Closing this one.",
        actions=[
            action("ADD_TAGS", {"tags": ["closing"]}),
            action("SET_PRIORITY", {"priority": "HIGH"}),
            action("SET_STATUS", {"status": "CLOSED"}),
        ],
    )
    ticket = await new_ticket(rt, team)
    before = await ticket_state(agent.client, ticket["id"])

    payload = await apply(agent.client, ticket["id"], macro["id"])

    assert payload["ticket"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "INVALID_TRANSITION"
    assert "action 3 (SET_STATUS)" in error["message"] and "RESOLVED" in error["message"]
    assert await ticket_state(agent.client, ticket["id"]) == before
    assert await usage(agent.client, macro["id"]) == 0


async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(rt: Runtime, team: dict[str, Any]) -> None:
    supervisor, agent = team["supervisor"], team["agent"]
    macro = await create_macro(supervisor.client, body="请提供订单号 / please send the order number")
    ticket = await new_ticket(rt, team)
    before = await ticket_state(agent.client, ticket["id"])

    payload = await apply(agent.client, ticket["id"], macro["id"], ticket["version"] - 1)

    assert payload["ticket"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("VERSION_CONFLICT", ["expectedVersion"])]
    assert await ticket_state(agent.client, ticket["id"]) == before


async def test_a_personal_macro_is_its_owners_alone(rt: Runtime, team: dict[str, Any]) -> None:
    agent, colleague, supervisor = team["agent"], team["colleague"], team["supervisor"]
    mine = await create_macro(agent.client, name="my greeting", body="Hi, {{agent.name}} here.", shared=False)
    assert mine["owner"]["name"] == "王芳"
    ticket = await new_ticket(rt, team)

    for other in (colleague, supervisor):
        assert mine["id"] not in {m["id"] for m in (await other.client.run(LIST, {}))["macros"]}
        assert (await other.client.execute(NODE, {"id": mine["id"]}))["node"] is None
        refused = await apply(other.client, ticket["id"], mine["id"])
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("NOT_FOUND", ["macroId"])]
        updated = await other.client.run(UPDATE, {"id": mine["id"], "input": {"name": "taken", "body": "x"}})
        assert [e["code"] for e in updated["updateMacro"]["userErrors"]] == ["NOT_FOUND"]
        deleted = (await other.client.run(DELETE, {"id": mine["id"]}))["deleteMacro"]
        assert [e["code"] for e in deleted["userErrors"]] == ["NOT_FOUND"]
        preview = await other.client.post(load_document(RENDER), {"ticketId": ticket["id"], "macroId": mine["id"]})
        assert preview["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    assert mine["id"] in {m["id"] for m in (await agent.client.run(LIST, {"search": "GREET"}))["macros"]}
    applied = await apply(agent.client, ticket["id"], mine["id"])
    assert applied["userErrors"] == []
    # An agent keeps personal macros only: a shared one, or sharing theirs, is for supervisors.
    shared = (await agent.client.run(CREATE, {"input": {"name": "for all", "body": "x"}}))["createMacro"]
    assert shared["macro"] is None and [e["code"] for e in shared["userErrors"]] == ["FORBIDDEN"]
    share = await agent.client.run(UPDATE, {"id": mine["id"], "input": {"name": "mine", "body": "x"}})
    assert [e["code"] for e in share["updateMacro"]["userErrors"]] == ["FORBIDDEN"]
    assert (await agent.client.run(DELETE, {"id": mine["id"]}))["deleteMacro"]["userErrors"] == []


async def test_a_macro_cannot_do_what_its_agent_may_not(rt: Runtime, team: dict[str, Any]) -> None:
    supervisor, agent, outsider = team["supervisor"], team["agent"], team["outsider"]
    move = await create_macro(
        supervisor.client,
        name="hand to logistics",
        body="We are passing this to our logistics team.",
        actions=[action("ASSIGN_TO_GROUP", {"groupId": ids.encode("Group", team["other"].id)})],
    )
    ticket = await new_ticket(rt, team)
    before = await ticket_state(agent.client, ticket["id"])

    # Moving tickets between groups is a supervisor's assignTicket: the agent's macro may not.
    refused = await apply(agent.client, ticket["id"], move["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    assert "ASSIGN_TO_GROUP" in refused["userErrors"][0]["message"]
    assert await ticket_state(agent.client, ticket["id"]) == before
    # A ticket the agent cannot see is a missing one, macro or not.
    hidden = await apply(outsider.client, ticket["id"], move["id"])
    assert [(e["code"], e["field"]) for e in hidden["userErrors"]] == [("NOT_FOUND", ["ticketId"])]

    done = await apply(supervisor.client, ticket["id"], move["id"])
    assert done["userErrors"] == []
    detail = (await supervisor.client.run(DETAIL, {"id": ticket["id"]}))["ticket"]
    assert detail["group"]["id"] == ids.encode("Group", team["other"].id)
    # Now in logistics: the after-sales agent no longer sees it.
    assert (await agent.client.run(DETAIL, {"id": ticket["id"]}))["ticket"] is None


async def test_placeholders_are_rendered_and_the_missing_ones_listed(rt: Runtime, team: dict[str, Any]) -> None:
    supervisor, agent = team["supervisor"], team["agent"]
    macro = await create_macro(
        supervisor.client,
        name="请提供订单号 / please send the order number",
        body="#{{ticket.number}} {{ticket.subject}}: order {{ticket.customFields.orderNo}}, {{customer.name}}",
        visibility="INTERNAL",
    )
    with_order = await new_ticket(rt, team, {"orderNo": "SO-1001"})
    without = await new_ticket(rt, team)

    preview = (await agent.client.run(RENDER, {"ticketId": with_order["id"], "macroId": macro["id"]}))["renderMacro"]
    assert preview == {
        "body": f"#{with_order['number']} 退款：订单 SO-1001 未收到货: order SO-1001, 李雷",
        "missingPlaceholders": [],
    }
    preview = (await agent.client.run(RENDER, {"ticketId": without["id"], "macroId": macro["id"]}))["renderMacro"]
    assert preview["missingPlaceholders"] == ["ticket.customFields.orderNo"]
    assert "order {{ticket.customFields.orderNo}}," in preview["body"]

    # Applying never sends a placeholder as written: refused, nothing written.
    before = await ticket_state(agent.client, without["id"])
    refused = await apply(agent.client, without["id"], macro["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["PRECONDITION_FAILED"]
    assert "{{ticket.customFields.orderNo}}" in refused["userErrors"][0]["message"]
    assert await ticket_state(agent.client, without["id"]) == before

    assert (await apply(agent.client, with_order["id"], macro["id"]))["userErrors"] == []
    (note,) = (await ticket_state(agent.client, with_order["id"]))["comments"]
    assert note["visibility"] == "INTERNAL" and note["body"].endswith("order SO-1001, 李雷")


async def test_a_macro_is_checked_when_it_is_saved(team: dict[str, Any]) -> None:
    supervisor = team["supervisor"]
    bad = {
        "name": " ",
        "body": "Hello {{customer.password}}",
        "actions": [
            action("SET_PRIORITY", {"priority": "SUPER"}),
            action("ADD_TAGS", {"tags": "refund"}),
            action("SET_STATUS", {"status": "PENDING", "reason": "x"}),
            {"type": "ESCALATE", "value": None},
            action("ASSIGN_TO_AGENT", {"agentId": ids.encode("Group", 1)}),
            action("ADD_INTERNAL_NOTE", {"body": "see {{ticket.__class__}}"}),
        ],
    }
    payload = (await supervisor.client.run(CREATE, {"input": bad}))["createMacro"]
    assert payload["macro"] is None
    fields = {tuple(e["field"]): e["code"] for e in payload["userErrors"]}
    assert fields == {
        ("input", "name"): "INVALID_INPUT",
        ("input", "body"): "INVALID_INPUT",
        ("input", "actions", "0", "value", "priority"): "INVALID_INPUT",
        ("input", "actions", "1", "value", "tags"): "INVALID_INPUT",
        ("input", "actions", "2", "value", "reason"): "INVALID_INPUT",
        ("input", "actions", "3", "value"): "INVALID_INPUT",
        ("input", "actions", "4", "value", "agentId"): "INVALID_INPUT",
        ("input", "actions", "5", "value", "body"): "INVALID_INPUT",
    }
    # Well-formed ids of rows that do not exist are refused too, at their own path.
    missing = {
        "name": "moves",
        "actions": [
            action("ADD_TAGS", {"tags": ["x"]}),
            action("ESCALATE", {"reason": "VIP", "toGroupId": ids.encode("Group", 987654)}),
        ],
    }
    payload = (await supervisor.client.run(CREATE, {"input": missing}))["createMacro"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("NOT_FOUND", ["input", "actions", "1", "value", "toGroupId"])
    ]
    nothing = (await supervisor.client.run(CREATE, {"input": {"name": "empty"}}))["createMacro"]
    assert [e["field"] for e in nothing["userErrors"]] == [["input", "body"]]
    assert (await supervisor.client.run(LIST, {}))["macros"] == []


async def test_a_macro_notifies_agents_and_mails_the_customer_of_a_mail_ticket(
    rt: Runtime, team: dict[str, Any], admin: Actor
) -> None:
    supervisor, agent, colleague = team["supervisor"], team["agent"], team["colleague"]
    mailbox = await mailboxes.create_mailbox(rt, admin.principal, MailboxInput(name="售后", address=SUPPORT))
    taken = await email_ingest.ingest_email(rt, None, mailbox.id, customer_mail("<macro-0001@mail.example.cn>"))
    assert taken.ticket is not None
    ticket_id = ids.encode("Ticket", taken.ticket.id)
    await assignment.assign_ticket(rt, supervisor.principal, taken.ticket.id, agent.agent.id, team["group"].id, None)
    macro = await create_macro(
        supervisor.client,
        name="转财务 / over to finance",
        body=None,
        actions=[
            action(
                "NOTIFY_AGENTS",
                {"groupId": ids.encode("Group", team["group"].id), "message": "请看 #{{ticket.number}}"},
            ),
            action("EMAIL_CUSTOMER", {"template": "{{customer.name}}，您好：工单 #{{ticket.number}} 已转财务处理。"}),
        ],
    )

    payload = await apply(agent.client, ticket_id, macro["id"])

    assert payload["userErrors"] == []
    number = taken.ticket.number
    async with rt.engine.connect() as conn:
        told = (
            await conn.execute(
                select(tables.notifications.c.agent_id, tables.notifications.c.message).where(
                    tables.notifications.c.kind == "AUTOMATION"
                )
            )
        ).all()
        mailed = (
            await conn.execute(
                select(tables.email_deliveries).where(
                    tables.email_deliveries.c.ticket_id == taken.ticket.id,
                    tables.email_deliveries.c.kind == "REPLY",
                )
            )
        ).one()
    # The group's members who may see the ticket, the applying agent among them.
    assert {a for a, _ in told} >= {agent.agent.id, colleague.agent.id, supervisor.agent.id}
    assert {m for _, m in told} == {f"请看 #{number}"}
    assert mailed.status == "QUEUED" and mailed.comment_id is None
    assert mailed.body_text.startswith("李雷，您好：") and f"工单 #{number} 已转财务处理" in mailed.body_text
    assert mailed.in_reply_to == "<macro-0001@mail.example.cn>"
    assert mailed.subject.endswith(f"[#{number}]")

    # A ticket that came by no mailbox has nowhere to mail from: the whole macro is refused.
    phone_ticket = await new_ticket(rt, team)
    refused = await apply(agent.client, phone_ticket["id"], macro["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["PRECONDITION_FAILED"]
    assert "EMAIL_CUSTOMER" in refused["userErrors"][0]["message"]
