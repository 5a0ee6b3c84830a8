"""How tickets relate, through the real server: sub-tickets across departments, links, merges,
collaborators, escalation and satisfaction ratings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select, update

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread, load_document

CREATE = "console/CreateTicket.graphql"
CREATE_SUB = "console/CreateSubTicket.graphql"
DETAIL = "console/TicketDetail.graphql"
HISTORY = "console/TicketHistory.graphql"
START = "console/StartTicket.graphql"
RESOLVE = "console/ResolveTicket.graphql"
REOPEN = "console/ReopenTicket.graphql"
CLOSE = "console/CloseTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"
CUSTOMER_REPLY = "partner/AddCustomerReply.graphql"
LINK = "console/LinkTickets.graphql"
MERGE = "console/MergeTickets.graphql"
ADD_COLLABORATOR = "console/AddCollaborator.graphql"
ESCALATE = "console/EscalateTicket.graphql"
RATE = "partner/RateTicket.graphql"
CREATE_API_TOKEN = "console/admin/CreateApiToken.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


def ticket_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "申请退款：订单 SO-5512",
        "description": "空气净化器开箱就有异响，要求退货退款。",
        "channel": "APP",
        "customer": {"email": "sun.mei@example.cn", "name": "孙梅"},
    }
    data.update(overrides)
    return data


async def create_ticket(client: GraphQLClient, **overrides: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = (await client.mutate(CREATE, {"input": ticket_input(**overrides)}))["ticket"]
    return ticket


async def payload_of(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The single mutation payload of a document, userErrors not asserted."""
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload


def errors(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def set_ticket(rt: Runtime, ticket_id: str, **values: Any) -> None:
    async with rt.engine.begin() as conn:
        await conn.execute(
            update(tables.tickets).where(tables.tickets.c.id == ids.decode_as(ticket_id, "Ticket")).values(**values)
        )


async def detail(client: GraphQLClient, ticket_id: str) -> dict[str, Any] | None:
    ticket: dict[str, Any] | None = (await client.run(DETAIL, {"id": ticket_id}))["ticket"]
    return ticket


async def seen(client: GraphQLClient, ticket_id: str) -> dict[str, Any]:
    ticket = await detail(client, ticket_id)
    assert ticket is not None
    return ticket


async def history(client: GraphQLClient, ticket_id: str) -> list[dict[str, Any]]:
    ticket = (await client.run(HISTORY, {"id": ticket_id, "first": 100}))["ticket"]
    return [edge["node"] for edge in ticket["history"]["edges"]]


async def counts(rt: Runtime) -> dict[str, int]:
    result = {}
    async with rt.engine.connect() as conn:
        for table in (
            tables.tickets,
            tables.ticket_events,
            tables.comments,
            tables.attachments,
            tables.ticket_links,
            tables.ticket_collaborators,
            tables.ticket_collaborating_groups,
            tables.satisfaction_ratings,
        ):
            result[table.name] = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    return result


def gid(kind: str, pk: int) -> str:
    return ids.encode(kind, pk)


def pk_of(global_id: str, kind: str = "Ticket") -> int:
    pk = ids.decode_as(global_id, kind)
    assert pk is not None
    return pk


async def start_and_resolve(client: GraphQLClient, ticket_id: str, resolution: str) -> dict[str, Any]:
    await client.mutate(START, {"id": ticket_id})
    ticket: dict[str, Any] = (await client.mutate(RESOLVE, {"id": ticket_id, "resolution": resolution}))["ticket"]
    return ticket


# ---------------------------------------------------------------- sub-tickets: the refund scenario


async def test_refund_split_across_after_sales_logistics_and_finance(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    after_sales = await make_group("售后")
    logistics = await make_group("物流部")
    finance = await make_group("财务组")
    xiao_li = await make_actor(AgentRole.AGENT, groups=[after_sales], name="小李")
    lao_wang = await make_actor(AgentRole.AGENT, groups=[logistics], name="老王")
    zhao = await make_actor(AgentRole.AGENT, groups=[finance], name="赵会计")

    parent = await create_ticket(admin.client, category="refund", externalRef="SO-5512")
    await set_ticket(rt, parent["id"], group_id=after_sales.id, assignee_id=xiao_li.agent.id)
    await xiao_li.client.mutate(START, {"id": parent["id"]})
    customer = {"id": parent["customer"]["id"]}

    # The after-sales agent splits the work, one sub-ticket per department.
    plan = [
        ("check", after_sales, "核实退货原因", "请核实异响是否属于质量问题。"),
        ("pickup", logistics, "上门取件", "请安排快递上门取回商品。"),
        ("refund", finance, "退款 1299 元", "取件完成后原路退款。"),
    ]
    subs: dict[str, dict[str, Any]] = {}
    for step, (name, group, subject, description) in enumerate(plan, start=1):
        payload = await xiao_li.client.mutate(
            CREATE_SUB,
            {
                "parentId": parent["id"],
                "groupId": gid("Group", group.id),
                "input": {"subject": subject, "description": description, "channel": "APP", "customer": customer},
            },
        )
        child = payload["ticket"]
        assert child["subject"] == subject
        assert child["status"] == "NEW"
        assert child["group"] == {"id": gid("Group", group.id), "name": group.name}
        assert child["parent"]["id"] == parent["id"]
        assert child["parent"]["subTicketProgress"] == {"total": step, "resolved": 0, "open": step}
        subs[name] = child

    view = await seen(xiao_li.client, parent["id"])
    assert view["subTicketProgress"] == {"total": 3, "resolved": 0, "open": 3}
    assert [(s["id"], s["group"]["name"]) for s in view["subTickets"]] == [
        (subs["check"]["id"], "售后"),
        (subs["pickup"]["id"], "物流部"),
        (subs["refund"]["id"], "财务组"),
    ]
    created = [e for e in await history(admin.client, parent["id"]) if e["type"] == "SUB_TICKET_CREATED"]
    assert [e["data"]["number"] for e in created] == [subs[n]["number"] for n in ("check", "pickup", "refund")]
    assert [e["data"]["groupId"] for e in created] == [gid("Group", g.id) for g in (after_sales, logistics, finance)]
    assert {e["actorAgent"]["id"] for e in created} == {gid("Agent", xiao_li.agent.id)}

    # The parent's group follows every sub-ticket; other departments see only their own.
    for name in ("pickup", "refund"):
        child = await seen(xiao_li.client, subs[name]["id"])
        assert [g["name"] for g in child["collaboratingGroups"]] == ["售后"]
        assert child["parent"]["id"] == parent["id"]
    assert (await seen(xiao_li.client, subs["check"]["id"]))["collaboratingGroups"] == []
    assert await detail(zhao.client, subs["pickup"]["id"]) is None
    assert await detail(zhao.client, parent["id"]) is None
    assert await detail(lao_wang.client, subs["refund"]["id"]) is None
    assert (await seen(lao_wang.client, subs["pickup"]["id"]))["group"]["name"] == "物流部"

    # A sub-ticket does not get sub-tickets of its own.
    before = await counts(rt)
    nested = await payload_of(
        admin.client,
        CREATE_SUB,
        {"parentId": subs["pickup"]["id"], "input": ticket_input(subject="再拆一层", customer=customer)},
    )
    assert nested["ticket"] is None
    assert errors(nested) == [(["parentId"], "PRECONDITION_FAILED")]
    assert await counts(rt) == before

    # The parent cannot be resolved while its sub-tickets are open, and nothing changes.
    parent_before = await seen(admin.client, parent["id"])
    refused = await payload_of(xiao_li.client, RESOLVE, {"id": parent["id"], "resolution": "已退款"})
    assert refused["ticket"] is None
    assert errors(refused) == [(["id"], "PRECONDITION_FAILED")]
    for name in ("check", "pickup", "refund"):
        assert f"#{subs[name]['number']}" in refused["userErrors"][0]["message"]
    assert await counts(rt) == before
    parent_after = await seen(admin.client, parent["id"])
    assert (parent_after["status"], parent_after["version"], parent_after["resolvedAt"]) == (
        "OPEN",
        parent_before["version"],
        None,
    )

    # Each department resolves its part; every resolution lands on the parent's history.
    workers = [("pickup", lao_wang, "已上门取件，运单 SF1234567890。"), ("refund", zhao, "已原路退款 1299 元。")]
    workers.append(("check", xiao_li, "确认为质量问题。"))
    for done, (name, worker, resolution) in enumerate(workers, start=1):
        resolved = await start_and_resolve(worker.client, subs[name]["id"], resolution)
        assert resolved["status"] == "RESOLVED"
        events = await history(admin.client, parent["id"])
        last = events[-1]
        assert last["type"] == "SUB_TICKET_RESOLVED"
        assert last["data"]["number"] == subs[name]["number"]
        assert last["data"]["resolution"] == resolution
        assert last["actorAgent"]["id"] == gid("Agent", worker.agent.id)
        assert sum(1 for e in events if e["type"] == "SUB_TICKET_RESOLVED") == done
        progress = (await seen(xiao_li.client, parent["id"]))["subTicketProgress"]
        assert progress == {"total": 3, "resolved": done, "open": 3 - done}
        if done < 3:
            still = await payload_of(xiao_li.client, RESOLVE, {"id": parent["id"], "resolution": "已退款"})
            assert errors(still) == [(["id"], "PRECONDITION_FAILED")]
            assert f"#{subs[name]['number']}" not in still["userErrors"][0]["message"]

    finished = (await xiao_li.client.mutate(RESOLVE, {"id": parent["id"], "resolution": "已退款，客户确认。"}))[
        "ticket"
    ]
    assert finished["status"] == "RESOLVED"
    assert finished["resolvedAt"] is not None
    assert finished["subTicketProgress"] == {"total": 3, "resolved": 3, "open": 0}

    # With the parent RESOLVED: no new sub-tickets, and no sub-ticket reopens behind its back.
    before = await counts(rt)
    late = await payload_of(
        xiao_li.client,
        CREATE_SUB,
        {"parentId": parent["id"], "input": ticket_input(subject="补发赠品", customer=customer)},
    )
    assert late["ticket"] is None
    assert errors(late) == [(["parentId"], "PRECONDITION_FAILED")]
    reopen = await payload_of(lao_wang.client, REOPEN, {"id": subs["pickup"]["id"], "reason": "取件失败"})
    assert reopen["ticket"] is None
    assert errors(reopen) == [(["id"], "PRECONDITION_FAILED")]
    assert f"#{parent['number']}" in reopen["userErrors"][0]["message"]
    assert await counts(rt) == before
    assert (await seen(lao_wang.client, subs["pickup"]["id"]))["status"] == "RESOLVED"

    # Once the parent is reopened, so can its sub-tickets be.
    await xiao_li.client.mutate(REOPEN, {"id": parent["id"], "reason": "客户未收到退款"})
    again = await lao_wang.client.mutate(REOPEN, {"id": subs["pickup"]["id"], "reason": "取件失败"})
    assert again["ticket"]["status"] == "OPEN"
    assert (await seen(xiao_li.client, parent["id"]))["subTicketProgress"] == {"total": 3, "resolved": 2, "open": 1}


async def test_sub_ticket_without_a_group_takes_the_parents_group(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    after_sales = await make_group("售后")
    agent = await make_actor(AgentRole.AGENT, groups=[after_sales])
    parent = await create_ticket(admin.client)
    await set_ticket(rt, parent["id"], group_id=after_sales.id)
    child = (
        await agent.client.mutate(
            CREATE_SUB,
            {
                "parentId": parent["id"],
                "input": ticket_input(subject="补开发票", customer={"id": parent["customer"]["id"]}),
            },
        )
    )["ticket"]
    assert child["group"]["name"] == "售后"
    assert (await seen(agent.client, child["id"]))["collaboratingGroups"] == []


async def test_sub_ticket_for_a_parent_the_caller_cannot_see_is_not_found(
    admin: Actor, make_actor: MakeActor, rt: Runtime
) -> None:
    outsider = await make_actor(AgentRole.AGENT)
    parent = await create_ticket(admin.client)
    before = await counts(rt)
    payload = await payload_of(outsider.client, CREATE_SUB, {"parentId": parent["id"], "input": ticket_input()})
    assert errors(payload) == [(["parentId"], "NOT_FOUND")]
    assert await counts(rt) == before


# ---------------------------------------------------------------- links


async def test_links_show_on_both_tickets_with_linked_events_and_refuse_duplicates(admin: Actor, rt: Runtime) -> None:
    outage = await create_ticket(admin.client, subject="支付页面打不开")
    report = await create_ticket(admin.client, subject="付款失败", customer={"email": "a@example.cn"})
    other = await create_ticket(admin.client, subject="订单重复扣款", customer={"email": "b@example.cn"})

    linked = (await admin.client.mutate(LINK, {"id": report["id"], "otherId": outage["id"], "kind": "RELATED"}))[
        "ticket"
    ]
    assert linked["id"] == report["id"]
    assert [(link["kind"], link["ticket"]["id"]) for link in linked["links"]] == [("RELATED", outage["id"])]
    caused = (await admin.client.mutate(LINK, {"id": other["id"], "otherId": outage["id"], "kind": "CAUSED_BY"}))[
        "ticket"
    ]
    assert [(link["kind"], link["ticket"]["id"]) for link in caused["links"]] == [("CAUSED_BY", outage["id"])]

    outage_view = await seen(admin.client, outage["id"])
    assert [(link["kind"], link["ticket"]["id"]) for link in outage_view["links"]] == [
        ("RELATED", report["id"]),
        ("CAUSED_BY", other["id"]),
    ]
    assert [(link["kind"], link["ticket"]["id"]) for link in (await seen(admin.client, report["id"]))["links"]] == [
        ("RELATED", outage["id"])
    ]

    outage_linked = [e for e in await history(admin.client, outage["id"]) if e["type"] == "LINKED"]
    assert [(e["data"]["otherTicketId"], e["data"]["kind"]) for e in outage_linked] == [
        (report["id"], "RELATED"),
        (other["id"], "CAUSED_BY"),
    ]
    report_linked = [e for e in await history(admin.client, report["id"]) if e["type"] == "LINKED"]
    assert [(e["data"]["otherTicketId"], e["data"]["kind"]) for e in report_linked] == [(outage["id"], "RELATED")]
    assert report_linked[0]["actorAgent"]["id"] == gid("Agent", admin.agent.id)

    before = await counts(rt)
    again = await payload_of(admin.client, LINK, {"id": report["id"], "otherId": outage["id"], "kind": "RELATED"})
    assert again["ticket"] is None
    assert errors(again) == [(["kind"], "DUPLICATE")]
    # RELATED has no direction: linking from the other end is the same link.
    reverse = await payload_of(admin.client, LINK, {"id": outage["id"], "otherId": report["id"], "kind": "RELATED"})
    assert errors(reverse) == [(["kind"], "DUPLICATE")]
    itself = await payload_of(admin.client, LINK, {"id": report["id"], "otherId": report["id"], "kind": "RELATED"})
    assert errors(itself) == [(["otherId"], "INVALID_INPUT")]
    assert await counts(rt) == before
    assert len((await seen(admin.client, report["id"]))["links"]) == 1


async def test_linking_to_a_ticket_the_caller_cannot_see_is_not_found(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    group = await make_group("售后")
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    mine = await create_ticket(admin.client)
    hidden = await create_ticket(admin.client, subject="Someone else's")
    await set_ticket(rt, mine["id"], group_id=group.id)
    before = await counts(rt)
    payload = await payload_of(agent.client, LINK, {"id": mine["id"], "otherId": hidden["id"], "kind": "RELATED"})
    assert errors(payload) == [(["otherId"], "NOT_FOUND")]
    assert await counts(rt) == before


# ---------------------------------------------------------------- merges


async def upload_comment(
    http: httpx.AsyncClient, server: ServerThread, token: str, ticket_id: str, filename: str, content: bytes
) -> dict[str, Any]:
    """addComment with one file, as a GraphQL multipart request."""
    operations = {
        "query": load_document(ADD_COMMENT),
        "variables": {"ticketId": ticket_id, "body": "截图见附件", "attachments": [None]},
    }
    response = await http.post(
        f"{server.url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.attachments.0"]})},
        files={"0": (filename, content, "image/png")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["addComment"]
    assert payload["userErrors"] == []
    return payload


async def test_merge_moves_the_conversation_and_closes_the_source_as_a_duplicate(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient, rt: Runtime
) -> None:
    target = await create_ticket(admin.client, subject="扫地机器人无法充电")
    source = await create_ticket(admin.client, subject="机器人充不上电（重复提交）")
    await admin.client.mutate(ADD_COMMENT, {"ticketId": target["id"], "body": "请提供购买凭证。"})
    await admin.client.mutate(ADD_COMMENT, {"ticketId": source["id"], "body": "已收到，稍后回复。"})
    await admin.client.mutate(
        ADD_COMMENT, {"ticketId": source["id"], "body": "与 #target 重复", "visibility": "INTERNAL"}
    )
    await admin.client.mutate(CUSTOMER_REPLY, {"ticketId": source["id"], "body": "充电座指示灯不亮。"})
    photo = b"\x89PNG\r\n" + hashlib.sha256(b"dock").digest() * 10
    uploaded = await upload_comment(http, server, admin.token, source["id"], "dock.png", photo)
    (source_file,) = uploaded["comment"]["attachments"]

    merged = (await admin.client.mutate(MERGE, {"sourceId": source["id"], "targetId": target["id"]}))["ticket"]
    assert merged["id"] == target["id"]
    assert merged["comments"]["totalCount"] == 5
    assert [a["id"] for a in merged["attachments"]] == [source_file["id"]]
    assert [(link["kind"], link["ticket"]["id"], link["ticket"]["status"]) for link in merged["links"]] == [
        ("DUPLICATE_OF", source["id"], "CLOSED")
    ]

    target_view = await seen(admin.client, target["id"])
    assert [e["node"]["body"] for e in target_view["comments"]["edges"]] == [
        "请提供购买凭证。",
        "已收到，稍后回复。",
        "与 #target 重复",
        "充电座指示灯不亮。",
        "截图见附件",
    ]
    moved = target_view["comments"]["edges"][-1]["node"]
    assert [a["id"] for a in moved["attachments"]] == [source_file["id"]]
    download = await http.get(f"{server.url}{source_file['url']}", headers={"Authorization": f"Bearer {admin.token}"})
    assert (download.status_code, download.content) == (200, photo)

    source_view = await seen(admin.client, source["id"])
    assert source_view["status"] == "CLOSED"
    assert source_view["closedAt"] is not None
    assert source_view["comments"]["totalCount"] == 0
    assert source_view["attachments"] == []
    assert [(link["kind"], link["ticket"]["id"]) for link in source_view["links"]] == [("DUPLICATE_OF", target["id"])]

    source_events = await history(admin.client, source["id"])
    closing = [e for e in source_events if e["type"] == "STATUS_CHANGED"][-1]
    assert (closing["data"]["to"], closing["data"]["reason"]) == ("CLOSED", "MERGED")
    for events in (source_events, await history(admin.client, target["id"])):
        (merge_event,) = [e for e in events if e["type"] == "MERGED"]
        assert merge_event["data"]["sourceId"] == source["id"]
        assert merge_event["data"]["targetId"] == target["id"]
        assert merge_event["data"]["movedComments"] == 4
        assert merge_event["data"]["movedAttachments"] == 1
        assert merge_event["actorAgent"]["id"] == gid("Agent", admin.agent.id)


async def test_merge_refuses_a_closed_target_or_a_closed_source_and_moves_nothing(admin: Actor, rt: Runtime) -> None:
    open_ticket = await create_ticket(admin.client, subject="Open one")
    await admin.client.mutate(ADD_COMMENT, {"ticketId": open_ticket["id"], "body": "still here"})
    closed = await create_ticket(admin.client, subject="Closed one", customer={"email": "closed@example.cn"})
    await admin.client.mutate(ADD_COMMENT, {"ticketId": closed["id"], "body": "from the closed ticket"})
    await admin.client.mutate(RESOLVE, {"id": closed["id"], "resolution": "done"})  # the reply started it
    await admin.client.mutate(CLOSE, {"id": closed["id"]})

    before = await counts(rt)
    into_closed = await payload_of(admin.client, MERGE, {"sourceId": open_ticket["id"], "targetId": closed["id"]})
    assert into_closed["ticket"] is None
    assert errors(into_closed) == [(["targetId"], "PRECONDITION_FAILED")]
    from_closed = await payload_of(admin.client, MERGE, {"sourceId": closed["id"], "targetId": open_ticket["id"]})
    assert from_closed["ticket"] is None
    assert [e["code"] for e in from_closed["userErrors"]] == ["INVALID_TRANSITION"]
    into_itself = await payload_of(admin.client, MERGE, {"sourceId": open_ticket["id"], "targetId": open_ticket["id"]})
    assert errors(into_itself) == [(["targetId"], "INVALID_INPUT")]
    assert await counts(rt) == before

    open_view = await seen(admin.client, open_ticket["id"])
    closed_view = await seen(admin.client, closed["id"])
    assert (open_view["status"], open_view["comments"]["totalCount"], open_view["links"]) == ("OPEN", 1, [])
    assert [e["node"]["body"] for e in closed_view["comments"]["edges"]] == ["from the closed ticket"]
    assert closed_view["links"] == []


async def test_merge_refuses_a_source_with_open_sub_tickets(admin: Actor, rt: Runtime) -> None:
    source = await create_ticket(admin.client)
    target = await create_ticket(admin.client, subject="Target")
    await admin.client.mutate(
        CREATE_SUB, {"parentId": source["id"], "input": ticket_input(customer={"id": source["customer"]["id"]})}
    )
    before = await counts(rt)
    payload = await payload_of(admin.client, MERGE, {"sourceId": source["id"], "targetId": target["id"]})
    assert errors(payload) == [(["sourceId"], "PRECONDITION_FAILED")]
    assert await counts(rt) == before


# ---------------------------------------------------------------- collaborators


async def test_collaborators_can_see_and_comment(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    after_sales, logistics, finance = await make_group("售后"), await make_group("物流部"), await make_group("财务组")
    owner = await make_actor(AgentRole.AGENT, groups=[after_sales])
    courier_desk = await make_actor(AgentRole.AGENT, groups=[logistics], name="老王")
    accountant = await make_actor(AgentRole.AGENT, groups=[finance])
    ticket = await create_ticket(admin.client)
    await set_ticket(rt, ticket["id"], group_id=after_sales.id, assignee_id=owner.agent.id)

    assert await detail(courier_desk.client, ticket["id"]) is None
    hidden = await payload_of(courier_desk.client, ADD_COMMENT, {"ticketId": ticket["id"], "body": "hi"})
    assert errors(hidden) == [(["ticketId"], "NOT_FOUND")]

    added = (
        await owner.client.mutate(
            ADD_COLLABORATOR, {"id": ticket["id"], "agentId": gid("Agent", courier_desk.agent.id)}
        )
    )["ticket"]
    assert added["collaborators"] == [{"id": gid("Agent", courier_desk.agent.id), "name": "老王"}]
    assert added["collaboratingGroups"] == []
    assert (await seen(courier_desk.client, ticket["id"]))["group"]["name"] == "售后"
    note = await courier_desk.client.mutate(
        ADD_COMMENT, {"ticketId": ticket["id"], "body": "快递已揽收。", "visibility": "INTERNAL"}
    )
    assert note["comment"]["authorAgent"]["id"] == gid("Agent", courier_desk.agent.id)

    assert await detail(accountant.client, ticket["id"]) is None
    by_group = (await owner.client.mutate(ADD_COLLABORATOR, {"id": ticket["id"], "groupId": gid("Group", finance.id)}))[
        "ticket"
    ]
    assert [g["name"] for g in by_group["collaboratingGroups"]] == ["财务组"]
    assert (await seen(accountant.client, ticket["id"]))["id"] == ticket["id"]
    await accountant.client.mutate(ADD_COMMENT, {"ticketId": ticket["id"], "body": "退款已提交。"})

    events = [e for e in await history(owner.client, ticket["id"]) if e["type"] == "COLLABORATOR_ADDED"]
    assert [(e["data"]["agentId"], e["data"]["groupId"]) for e in events] == [
        (gid("Agent", courier_desk.agent.id), None),
        (None, gid("Group", finance.id)),
    ]
    assert {e["actorAgent"]["id"] for e in events} == {gid("Agent", owner.agent.id)}

    before = await counts(rt)
    neither = await payload_of(owner.client, ADD_COLLABORATOR, {"id": ticket["id"]})
    assert [e["code"] for e in neither["userErrors"]] == ["INVALID_INPUT"]
    both = await payload_of(
        owner.client,
        ADD_COLLABORATOR,
        {"id": ticket["id"], "agentId": gid("Agent", accountant.agent.id), "groupId": gid("Group", logistics.id)},
    )
    assert [e["code"] for e in both["userErrors"]] == ["INVALID_INPUT"]
    twice = await payload_of(
        owner.client, ADD_COLLABORATOR, {"id": ticket["id"], "agentId": gid("Agent", courier_desk.agent.id)}
    )
    assert errors(twice) == [(["agentId"], "DUPLICATE")]
    unknown = await payload_of(owner.client, ADD_COLLABORATOR, {"id": ticket["id"], "groupId": gid("Group", 987654)})
    assert errors(unknown) == [(["groupId"], "NOT_FOUND")]
    assert await counts(rt) == before


# ---------------------------------------------------------------- escalation


async def test_escalation_raises_the_level_and_moves_the_ticket_off_a_non_member(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    tier1, tier2 = await make_group("一线客服"), await make_group("二线技术支持")
    first_line = await make_actor(AgentRole.AGENT, groups=[tier1])
    both_lines = await make_actor(AgentRole.AGENT, groups=[tier1, tier2])
    supervisor = await make_actor(AgentRole.SUPERVISOR, name="Supervisor Sue")

    ticket = await create_ticket(admin.client)
    await set_ticket(rt, ticket["id"], group_id=tier1.id, assignee_id=first_line.agent.id)
    escalated = (
        await supervisor.client.mutate(
            ESCALATE, {"id": ticket["id"], "reason": "客户多次投诉，需要二线处理", "toGroupId": gid("Group", tier2.id)}
        )
    )["ticket"]
    assert escalated["escalationLevel"] == 1
    assert escalated["group"]["id"] == gid("Group", tier2.id)
    assert escalated["assignee"] is None
    assert await detail(first_line.client, ticket["id"]) is None  # no longer theirs

    events = await history(admin.client, ticket["id"])
    (escalation,) = [e for e in events if e["type"] == "ESCALATED"]
    assert escalation["data"]["reason"] == "客户多次投诉，需要二线处理"
    assert escalation["data"]["level"] == 1
    assert (escalation["data"]["fromGroupId"], escalation["data"]["toGroupId"]) == (
        gid("Group", tier1.id),
        gid("Group", tier2.id),
    )
    assert escalation["actorAgent"]["id"] == gid("Agent", supervisor.agent.id)
    (unassigned,) = [e for e in events if e["type"] == "UNASSIGNED"]
    assert unassigned["data"]["reason"] == "ESCALATION"
    assert unassigned["data"]["previousAssigneeId"] == gid("Agent", first_line.agent.id)

    again = (await supervisor.client.mutate(ESCALATE, {"id": ticket["id"], "reason": "仍未解决"}))["ticket"]
    assert again["escalationLevel"] == 2
    assert again["group"]["id"] == gid("Group", tier2.id)
    events = await history(admin.client, ticket["id"])
    assert [e["data"]["level"] for e in events if e["type"] == "ESCALATED"] == [1, 2]
    assert sum(1 for e in events if e["type"] == "UNASSIGNED") == 1

    # An assignee who is a member of the new group keeps the ticket.
    kept = await create_ticket(admin.client, subject="Kept")
    await set_ticket(rt, kept["id"], group_id=tier1.id, assignee_id=both_lines.agent.id)
    moved = (
        await supervisor.client.mutate(
            ESCALATE, {"id": kept["id"], "reason": "needs tier 2", "toGroupId": gid("Group", tier2.id)}
        )
    )["ticket"]
    assert moved["assignee"]["id"] == gid("Agent", both_lines.agent.id)
    assert moved["group"]["id"] == gid("Group", tier2.id)
    assert [e["type"] for e in await history(admin.client, kept["id"]) if e["type"] in ("UNASSIGNED", "ASSIGNED")] == []

    before = await counts(rt)
    blank = await payload_of(supervisor.client, ESCALATE, {"id": kept["id"], "reason": "  "})
    assert errors(blank) == [(["reason"], "INVALID_INPUT")]
    assert await counts(rt) == before
    assert (await seen(admin.client, kept["id"]))["escalationLevel"] == 1


# ---------------------------------------------------------------- satisfaction


async def test_rating_only_on_resolved_or_closed_tickets_once_and_from_the_customer(admin: Actor, rt: Runtime) -> None:
    created = await admin.client.mutate(CREATE_API_TOKEN, {"name": "survey"})
    portal = admin.client.as_(created["token"])
    ticket = await create_ticket(admin.client)
    customer_id = ticket["customer"]["id"]

    before = await counts(rt)
    early = await payload_of(portal, RATE, {"id": ticket["id"], "score": 5})
    assert early["ticket"] is None
    assert errors(early) == [(["id"], "INVALID_TRANSITION")]
    await start_and_resolve(admin.client, ticket["id"], "已更换配件")
    for score in (0, 6, -1):
        bad = await payload_of(portal, RATE, {"id": ticket["id"], "score": score})
        assert errors(bad) == [(["score"], "INVALID_INPUT")]
    assert (await counts(rt))["satisfaction_ratings"] == before["satisfaction_ratings"]

    rated = (await portal.mutate(RATE, {"id": ticket["id"], "score": 4, "comment": "处理很快，谢谢！"}))["ticket"]
    assert rated["satisfaction"]["score"] == 4
    assert rated["satisfaction"]["comment"] == "处理很快，谢谢！"
    assert rated["satisfaction"]["ratedAt"] is not None
    assert rated["status"] == "RESOLVED"

    after_first = await counts(rt)
    second = await payload_of(portal, RATE, {"id": ticket["id"], "score": 1})
    assert errors(second) == [(["id"], "DUPLICATE")]
    assert await counts(rt) == after_first
    assert (await seen(admin.client, ticket["id"]))["satisfaction"]["score"] == 4

    (event,) = [e for e in await history(admin.client, ticket["id"]) if e["type"] == "RATED"]
    assert event["actorCustomer"]["id"] == customer_id
    assert event["actorAgent"] is None
    assert (event["data"]["score"], event["data"]["comment"]) == (4, "处理很快，谢谢！")

    closed = await create_ticket(admin.client, subject="Closed then rated")
    await start_and_resolve(admin.client, closed["id"], "done")
    await admin.client.mutate(CLOSE, {"id": closed["id"]})
    rated_closed = (await portal.mutate(RATE, {"id": closed["id"], "score": 2}))["ticket"]
    assert (rated_closed["status"], rated_closed["satisfaction"]["score"]) == ("CLOSED", 2)
