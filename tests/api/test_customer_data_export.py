"""customerDataExport through the real server: everything held about the customer, nobody
else's data, each export recorded with who asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.domain.enums import AgentRole
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient

MakeActor = Callable[..., Awaitable[Actor]]

EXPORT = "console/CustomerDataExport.graphql"
CREATE_TICKET = "partner/CreateTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"


async def ticket_from(client: GraphQLClient, email: str, subject: str) -> dict[str, Any]:
    variables = {
        "input": {
            "subject": subject,
            "description": "包裹没有到。",
            "channel": "API",
            "customer": {"email": email, "name": "韩梅梅"},
        }
    }
    ticket: dict[str, Any] = (await client.mutate(CREATE_TICKET, variables))["ticket"]
    return ticket


async def test_a_supervisor_exports_everything_held_about_a_customer_and_the_export_is_recorded(
    admin: Actor, make_actor: MakeActor
) -> None:
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    mine = await ticket_from(admin.client, "han.meimei@example.cn", "订单 SO-1 没到")
    await ticket_from(admin.client, "someone.else@example.cn", "Another person's order")
    await admin.client.mutate(
        ADD_COMMENT, {"ticketId": mine["id"], "body": "内部：可能是快递问题", "visibility": "INTERNAL"}
    )
    customer_id = mine["customer"]["id"]

    first = (await supervisor.client.run(EXPORT, {"id": customer_id}))["customerDataExport"]
    assert first["userErrors"] == []
    export = first["export"]
    assert export["customer"]["email"] == "han.meimei@example.cn"
    assert export["customer"]["name"] == "韩梅梅"
    assert [t["subject"] for t in export["tickets"]] == ["订单 SO-1 没到"]
    assert [c["body"] for c in export["comments"]] == ["内部：可能是快递问题"]
    assert {e["type"] for e in export["events"]} >= {"CREATED", "COMMENTED"}
    assert all(e["ticket_id"] == ids.decode(mine["id"])[1] for e in export["events"])
    assert "someone.else" not in str(export)
    assert export["exports"] == []
    assert export["exportedByAgentId"] == supervisor.agent.id

    second = (await admin.client.run(EXPORT, {"id": customer_id}))["customerDataExport"]["export"]
    assert [e["exported_by_agent_id"] for e in second["exports"]] == [supervisor.agent.id]


async def test_agents_may_not_export_and_a_missing_customer_is_not_found(admin: Actor, make_actor: MakeActor) -> None:
    agent = await make_actor(AgentRole.AGENT)
    customer_id = (await ticket_from(admin.client, "li.lei@example.cn", "Refund"))["customer"]["id"]
    refused = await agent.client.post("query($id: ID!) { customerDataExport(id: $id) { export } }", {"id": customer_id})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    missing = (await admin.client.run(EXPORT, {"id": ids.encode("Customer", 999999)}))["customerDataExport"]
    assert missing["export"] is None
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [("NOT_FOUND", ["id"])]
