"""GET /exports/tickets.csv through the real server: a UTF-8 file with a BOM and the pinned header,
Chinese and awkward text quoted properly, formulas defused, the caller's visibility and filter
applied, and bad requests refused with 400 or 401."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.domain.enums import AgentRole, Channel
from app.domain.lifecycle import Action
from app.domain.records import GroupRecord
from app.services import assignment, lifecycle
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import ServerThread

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

HEADER = "number,subject,status,priority,channel,category,group,assignee,customer,createdAt,updatedAt,resolvedAt"


async def export(
    http: httpx.AsyncClient, server: ServerThread, token: str | None, filter: object = None
) -> httpx.Response:
    params = {"filter": filter if isinstance(filter, str) else json.dumps(filter)} if filter is not None else {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.get(f"{server.url}/exports/tickets.csv", params=params, headers=headers)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert text.split("\r\n", 1)[0] == HEADER
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def ticket(
    rt: Runtime,
    admin: Actor,
    group: GroupRecord,
    subject: str,
    customer: str,
    *,
    custom_fields: dict[str, Any] | None = None,
    resolve: bool = False,
) -> int:
    record, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject=subject,
            description="详情见附件。",
            channel=Channel.EMAIL,
            customer=CustomerRef(email=f"c{uuid.uuid4().hex[:10]}@example.cn", name=customer),
            category="refund",
            custom_fields=custom_fields or {},
        ),
    )
    await assignment.assign_ticket(rt, admin.principal, record.id, None, group.id, None)
    if resolve:
        for action in (Action.START, Action.RESOLVE):
            await lifecycle.transition(rt, admin.principal, record.id, action, resolution="已退款")
    return record.number


@pytest.fixture
async def world(rt: Runtime, admin: Actor, make_group: MakeGroup, make_actor: MakeActor) -> dict[str, Any]:
    after_sales, logistics = await make_group("售后"), await make_group("物流")
    numbers = [
        await ticket(
            rt, admin, after_sales, "退款：订单 SO-1001 未收到货", "王芳", custom_fields={"orderId": "SO-1001"}
        ),
        await ticket(rt, admin, after_sales, 'Broken "mug", cracked\nand leaking', "Li Lei", resolve=True),
        await ticket(rt, admin, after_sales, '=HYPERLINK("http://evil.example","click")', "@attacker"),
        await ticket(rt, admin, logistics, "快递丢件", "Zhang Wei"),
    ]
    return {
        "numbers": numbers,
        "after_sales_agent": await make_actor(AgentRole.AGENT, [after_sales]),
        "after_sales": after_sales,
    }


async def test_the_file_has_a_bom_the_pinned_header_and_every_visible_ticket_quoted_and_defused(
    admin: Actor, world: dict[str, Any], http: httpx.AsyncClient, server: ServerThread
) -> None:
    response = await export(http, server, admin.token)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="tickets.csv"'
    found = rows(response)
    assert [int(r["number"]) for r in found] == world["numbers"]
    chinese, quoted, formula, other = found
    assert (chinese["subject"], chinese["group"], chinese["customer"]) == (
        "退款：订单 SO-1001 未收到货",
        "售后",
        "王芳",
    )
    assert (chinese["status"], chinese["channel"], chinese["category"]) == ("NEW", "EMAIL", "refund")
    assert quoted["subject"] == 'Broken "mug", cracked\nand leaking'
    assert quoted["status"] == "RESOLVED" and quoted["resolvedAt"].endswith("Z")
    assert chinese["resolvedAt"] == "" and chinese["createdAt"].endswith("Z")
    # Cells a spreadsheet would run as formulas start with an apostrophe.
    assert formula["subject"] == '\'=HYPERLINK("http://evil.example","click")'
    assert formula["customer"] == "'@attacker"
    assert other["group"] == "物流"


async def test_an_agent_gets_only_the_tickets_the_list_shows_them_and_the_filter_applies(
    admin: Actor, world: dict[str, Any], http: httpx.AsyncClient, server: ServerThread
) -> None:
    agent = world["after_sales_agent"]
    numbers = world["numbers"]
    assert [int(r["number"]) for r in rows(await export(http, server, agent.token))] == numbers[:3]
    by_status = rows(await export(http, server, agent.token, {"status": ["RESOLVED"]}))
    assert [int(r["number"]) for r in by_status] == [numbers[1]]
    by_field = rows(await export(http, server, admin.token, {"customFields": {"orderId": "SO-1001"}}))
    assert [int(r["number"]) for r in by_field] == [numbers[0]]
    by_group = rows(
        await export(
            http, server, admin.token, {"groupId": ids.encode("Group", world["after_sales"].id), "search": "快递"}
        )
    )
    assert by_group == []
    assert rows(await export(http, server, admin.token, {"search": "快递丢件"}))[0]["number"] == str(numbers[3])


async def test_bad_filters_are_400_and_missing_or_foreign_credentials_401(
    admin: Actor, world: dict[str, Any], http: httpx.AsyncClient, server: ServerThread
) -> None:
    for bad in ("{not json", json.dumps({"status": ["LOST"]}), json.dumps({"colour": "red"}), "[1]", '"OPEN"'):
        response = await export(http, server, admin.token, bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text.startswith("filter:") and len(response.text) < 300
    assert (await export(http, server, admin.token, {"customFields": [1]})).status_code == 400
    assert (await export(http, server, admin.token, {"createdAfter": "yesterday"})).status_code == 400
    for token in (None, "hds_forged", "not-a-token"):
        response = await export(http, server, token)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    # A customer's session (prefix hdc_, customer sign-in) is no agent: never an export. Until
    # customer sessions exist such a token is unknown (401); afterwards it must stay refused.
    assert (await export(http, server, "hdc_" + "0" * 40)).status_code in (401, 403)
