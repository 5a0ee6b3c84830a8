"""Event data shows global ids, as the rest of the API does: a ticket life that writes every
kind of event with a reference in its data, read back through Ticket.history and through a
ticketEvents subscription replayed from the first cursor, and every reference decoded."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import websockets

from app.clock import ManualClock
from app.domain.enums import Channel, CommentVisibility, TicketLinkKind
from app.domain.event_data import ID_KEYS, ID_LISTS, NESTED, public_event_data
from app.domain.global_ids import decode
from app.domain.lifecycle import Action
from app.domain.records import GroupRecord
from app.services import assignment, conversation, escalation, lifecycle, relations, routing_rules, satisfaction, sla
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.sla_scheduler import run_due
from app.services.subtickets import create_sub_ticket
from app.storage import IncomingFile
from schema import ids
from tests.conftest import Actor
from tests.support import ServerThread

MakeGroup = Callable[..., Awaitable[GroupRecord]]
MakeActor = Callable[..., Awaitable[Actor]]
HISTORY = """
query($id: ID!) { ticket(id: $id) { history(first: 100) { edges { node { type data cursor } } } } }
"""
EVENTS = "subscription($t: ID, $after: String) { ticketEvents(ticketId: $t, after: $after) { type data } }"


def upload(content: bytes) -> IncomingFile:
    buffer = io.BytesIO(content)

    async def read(size: int) -> bytes:
        return buffer.read(size)

    return IncomingFile(filename="receipt.txt", content_type="text/plain", read=read)


async def new_ticket(rt: Runtime, admin: Actor, subject: str = "网络故障：办公室断网") -> int:
    record, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject=subject,
            description="整个办公室都断网了",
            channel=Channel.EMAIL,
            customer=CustomerRef(email="zhou@example.cn", name="周"),
            custom_fields={"orderId": 1066, "ownerId": 7},
        ),
    )
    return record.id


async def a_full_life(rt: Runtime, admin: Actor, make_group: MakeGroup, make_actor: MakeActor) -> tuple[int, int, int]:
    """Two tickets whose histories hold every event kind that names another row."""
    support, second_line = await make_group("技术支持"), await make_group("二线")
    rule = routing_rules.RuleInput(name="网络", match_keywords=["网络"], route_to_group_id=support.id)
    await routing_rules.create_rule(rt, admin.principal, rule)
    await sla.create_policy(rt, admin.principal, sla.PolicyInput(name="fast", first_response_seconds=60))
    ticket = await new_ticket(rt, admin)
    engineer = await make_actor(groups=[support])
    await assignment.assign_ticket(rt, admin.principal, ticket, engineer.agent.id, None, None)
    await conversation.add_comment(rt, admin.principal, ticket, "On it.", CommentVisibility.PUBLIC, [upload(b"x")])
    await relations.add_collaborator(rt, admin.principal, ticket, None, second_line.id)
    child = ticket_service.NewTicket(
        subject="换路由器", description="Replace the router.", channel=Channel.API, customer=CustomerRef(email="z@x.cn")
    )
    sub_ticket = await create_sub_ticket(rt, admin.principal, ticket, child, None)
    other = await new_ticket(rt, admin, "同一个问题")
    await relations.link_tickets(rt, admin.principal, ticket, other, TicketLinkKind.RELATED)
    await relations.merge_tickets(rt, admin.principal, await new_ticket(rt, admin, "重复的问题"), ticket)
    await escalation.escalate_ticket(rt, admin.principal, ticket, "客户投诉", second_line.id)
    await run_due(dataclasses.replace(rt, clock=ManualClock(rt.clock.now() + timedelta(hours=2))))
    for action in (Action.START, Action.RESOLVE):
        await lifecycle.transition(rt, admin.principal, other, action, resolution="换了路由器")
    await conversation.add_customer_reply(rt, admin.principal, other, "还是不行")
    await lifecycle.transition(rt, admin.principal, other, Action.RESOLVE, resolution="再试一次")
    await satisfaction.rate_ticket(rt, admin.principal, other, 5, None)
    return ticket, other, sub_ticket.id


def check_references(events: list[dict[str, Any]]) -> set[str]:
    """Asserts each reference is a global id of the right type; returns the keys seen."""
    seen: set[str] = set()
    for event in events:
        data = event["data"]
        for key in NESTED & set(data):
            seen |= check_references([{"type": event["type"], "data": data[key]}])
        for key, value in data.items():
            if key in ID_KEYS and value is not None:
                for one in value if isinstance(value, list) else [value]:
                    decoded = decode(one) if isinstance(one, str) else None
                    assert decoded is not None and decoded[0] == ID_KEYS[key], (event["type"], key, value)
                seen.add(key)
            elif key in ID_LISTS:
                for item in value:
                    decoded = decode(item["id"])
                    assert decoded is not None and decoded[0] == ID_LISTS[key], (event["type"], key, value)
                seen.add(key)
            elif key not in NESTED:
                assert not (key.endswith("Id") and isinstance(value, int)), (event["type"], key, value)
    return seen


async def history(admin: Actor, ticket: int) -> list[dict[str, Any]]:
    answer = await admin.client.post(HISTORY, {"id": ids.encode("Ticket", ticket)})
    assert not answer.get("errors"), answer
    return [edge["node"] for edge in answer["data"]["ticket"]["history"]["edges"]]


async def replayed(server: ServerThread, admin: Actor, ticket: int, first_cursor: str, count: int) -> list[Any]:
    url = server.url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {admin.token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        variables = {"t": ids.encode("Ticket", ticket), "after": first_cursor}
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS, "variables": variables}})
        )
        events = []
        while len(events) < count:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "next" and not message["payload"].get("errors"), message
            events.append(message["payload"]["data"]["ticketEvents"])
    return events


async def test_history_and_subscriptions_show_global_ids(
    rt: Runtime, admin: Actor, make_group: MakeGroup, make_actor: MakeActor, server: ServerThread
) -> None:
    seen: set[str] = set()
    for pk in await a_full_life(rt, admin, make_group, make_actor):
        events = await history(admin, pk)
        seen |= check_references(events)
        live = await replayed(server, admin, pk, events[0]["cursor"], len(events) - 1)
        assert [e["type"] for e in live] == [e["type"] for e in events[1:]]
        check_references(live)
        assert [e["data"] for e in live] == [e["data"] for e in events[1:]]
    # The life reached every kind of reference this test claims to check.
    assert seen >= {
        "assigneeId",
        "groupId",
        "customerId",
        "commentId",
        "attachmentId",
        "parentId",
        "subTicketId",
        "otherTicketId",
        "sourceId",
        "targetId",
        "fromGroupId",
        "toGroupId",
        "clockId",
        "policyId",
        "relayedByAgentId",
        "rules",
    }


def test_values_the_caller_gave_pass_through_unchanged() -> None:
    changes = {"customFields": {"from": {"orderId": 1066}, "to": {"ownerId": 7}}}
    data = {"changes": changes, "groupId": 3, "number": 1000, "version": 2}
    shown = public_event_data(data)
    assert shown["changes"] == changes and shown["number"] == 1000 and shown["version"] == 2
    assert shown["groupId"] == ids.encode("Group", 3)
