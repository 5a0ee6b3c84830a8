"""The agent console (frontend_examples/console/) in headless Chromium against a real server: an
agent signs in, sees their queue, gets a new ticket assigned live, opens it, replies in public
and in an internal note, moves it through its lifecycle to resolved (offered only the moves its
status allows), and reads the outcome on screen, through the API and in the database; the
filters narrow the queue, SLA due times show and turn overdue live, and labels speak Chinese."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from app.db import tables
from app.domain.enums import AgentRole, AssignmentStrategy
from app.domain.global_ids import decode_as, encode
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from tests.conftest import PASSWORD, Actor
from tests.e2e.conftest import ARTIFACTS, LIVE, SECURITY_HEADERS, BrowserPage
from tests.support import ServerThread

pytestmark = pytest.mark.slow

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


async def create_ticket(admin: Actor, subject: str, priority: str = "NORMAL") -> dict[str, Any]:
    variables = {
        "input": {
            "subject": subject,
            "description": "The watch keeps freezing after the firmware update; restarting does not help.",
            "channel": "CHAT",
            "priority": priority,
            "customer": {"email": "wang@example.cn", "name": "王小明"},
        }
    }
    ticket: dict[str, Any] = (await admin.client.mutate("console/CreateTicket.graphql", variables))["ticket"]
    return ticket


async def assign(admin: Actor, ticket: dict[str, Any], group: GroupRecord, agent: Actor | None) -> None:
    await admin.client.mutate(
        "console/AssignTicket.graphql",
        {
            "id": ticket["id"],
            "groupId": encode("Group", group.id),
            "agentId": encode("Agent", agent.agent.id) if agent else None,
        },
    )


async def sign_in(page: Any, server: ServerThread, actor: Actor) -> None:
    response = await page.goto(f"{server.url}/examples/console/")
    assert response.ok
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    await page.fill("input[name=email]", actor.agent.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#workspace")).to_be_visible(timeout=10_000)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)


def queued(page: Any, ticket: dict[str, Any]) -> Any:
    return page.locator(f'#queue li[data-number="{ticket["number"]}"]')


async def offered_moves(page: Any) -> list[str]:
    moves: list[str] = await page.locator("#actions button").evaluate_all("bs => bs.map(b => b.dataset.action)")
    return moves


async def shows_status(page: Any, status: str, label: str) -> None:
    await expect(page.locator("#ticket-badges .status")).to_have_attribute("data-status", status, timeout=10_000)
    await expect(page.locator("#ticket-badges .status")).to_have_text(label)


async def test_an_agent_takes_a_live_assignment_from_arrival_to_resolution(
    admin: Actor,
    make_actor: MakeActor,
    make_group: MakeGroup,
    rt: Runtime,
    server: ServerThread,
    browser_page: BrowserPage,
) -> None:
    page = browser_page.page
    group = await make_group("Wearables", assignment_strategy=AssignmentStrategy.MANUAL)
    agent = await make_actor(AgentRole.AGENT, groups=[group], name="Wei Lin")
    article = (
        await admin.client.mutate(
            "console/knowledge/CreateArticle.graphql",
            {
                "input": {
                    "title": "When the watch keeps freezing after a firmware update",
                    "body": "If the watch keeps freezing after the firmware update, hold the side button.",
                }
            },
        )
    )["article"]
    await admin.client.mutate("console/knowledge/PublishArticle.graphql", {"id": article["id"]})
    earlier = await create_ticket(admin, "Strap clasp broke", priority="LOW")
    await assign(admin, earlier, group, agent)

    await sign_in(page, server, agent)
    await expect(page.locator("#who")).to_have_text("Wei Lin")
    await expect(queued(page, earlier)).to_contain_text(f"#{earlier['number']} Strap clasp broke")
    await expect(queued(page, earlier)).to_contain_text("Low")
    session = json.loads(await page.evaluate("sessionStorage.getItem('helpdesk.console.session')"))
    assert session["token"] and session["agent"]["email"] == agent.agent.email

    # A supervisor hands the agent a new ticket: it arrives live, in the feed, the toast and the queue.
    ticket = await create_ticket(admin, "Watch keeps freezing", priority="HIGH")
    await assign(admin, ticket, group, agent)
    arrival = page.locator("#arrivals li.mine", has_text=f"#{ticket['number']} Watch keeps freezing")
    await expect(arrival).to_have_count(1, timeout=LIVE)
    await expect(arrival).to_contain_text("→ Wei Lin")
    await expect(arrival).to_contain_text("manual · Wearables")
    await expect(page.locator("#toast")).to_be_visible()
    await expect(page.locator("#toast-text")).to_have_text(
        f"New ticket for you: #{ticket['number']} Watch keeps freezing (High)"
    )
    await expect(queued(page, ticket)).to_contain_text("High", timeout=LIVE)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True, animations="disabled")

    await page.click("#toast-open")
    await expect(page.locator("#ticket-title")).to_have_text(f"#{ticket['number']} Watch keeps freezing")
    await shows_status(page, "NEW", "New")
    assert await offered_moves(page) == ["start"]
    await expect(page.locator('#ticket-facts [data-fact="customer"]')).to_contain_text("王小明")
    await expect(page.locator('#ticket-facts [data-fact="assignee"]')).to_have_text("Wei Lin")
    await expect(page.locator("#articles")).to_contain_text("When the watch keeps freezing after a firmware update")
    await expect(page.locator("#history li")).to_have_count(2)  # created, assigned
    await expect(page.locator('#history li[data-type="ASSIGNED"]')).to_contain_text("assigned (manual)")

    # A public reply starts the work (NEW -> OPEN); an internal note stays marked as one.
    await page.fill("#reply-form textarea", "Please hold the side button for ten seconds.")
    await page.click("#reply-form button[type=submit]")
    await shows_status(page, "OPEN", "Open")
    assert await offered_moves(page) == ["setPending", "hold", "resolve"]
    await page.check('#reply-form input[value="INTERNAL"]')
    await page.fill("#reply-form textarea", "Known firmware 2.1 bug, fix ships next week.")
    await page.click("#reply-form button[type=submit]")
    messages = page.locator("#conversation li")
    await expect(messages).to_have_count(2)
    await expect(messages.nth(0)).to_have_attribute("data-visibility", "PUBLIC")
    await expect(messages.nth(0)).to_contain_text("Please hold the side button for ten seconds.")
    await expect(messages.nth(1)).to_have_attribute("data-visibility", "INTERNAL")
    await expect(messages.nth(1)).to_contain_text("Internal note")
    await expect(page.locator("#reply-form textarea")).to_have_value("")

    await page.click('#actions button[data-action="hold"]')
    await shows_status(page, "ON_HOLD", "On hold")
    assert await offered_moves(page) == ["resume", "resolve"]
    await page.click('#actions button[data-action="resume"]')
    await shows_status(page, "OPEN", "Open")
    await page.click('#actions button[data-action="resolve"]')
    await expect(page.locator("#resolve-form")).to_be_visible()
    await page.fill("#resolution", "Restarted with the side button; firmware fix scheduled.")
    await page.click("#resolve-form button[type=submit]")
    await shows_status(page, "RESOLVED", "Resolved")
    assert await offered_moves(page) == ["reopen", "close"]
    await expect(page.locator("#resolve-form")).to_be_hidden()
    moves = page.locator('#history li[data-type="STATUS_CHANGED"]')
    await expect(moves).to_have_count(4)
    await expect(moves.last).to_contain_text("Open → Resolved")
    await expect(moves.last).to_contain_text("Wei Lin")
    # The queue shows active tickets: the resolved one has left it, the other stays.
    await expect(queued(page, ticket)).to_have_count(0, timeout=LIVE)
    await expect(queued(page, earlier)).to_have_count(1)
    await page.screenshot(path=str(ARTIFACTS / "console-ticket.png"), full_page=True, animations="disabled")

    await page.click('button[data-lang="zh"]')
    await shows_status(page, "RESOLVED", "已解决")
    await expect(page.locator("h1")).to_contain_text("客服工作台")
    await expect(page.locator('#actions button[data-action="reopen"]')).to_have_text("重新打开")
    await expect(moves.last).to_contain_text("处理中 → 已解决")
    await expect(messages.nth(1)).to_contain_text("内部备注")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await page.screenshot(path=str(ARTIFACTS / "console-zh.png"), full_page=True, animations="disabled")
    await page.click('button[data-lang="en"]')
    await expect(page.locator("h1")).to_contain_text("Agent console")

    # What the page showed is what the API and the database hold.
    detail = (await admin.client.run("console/TicketDetail.graphql", {"id": ticket["id"]}))["ticket"]
    assert detail["status"] == "RESOLVED" and detail["resolvedAt"] is not None
    assert [(c["node"]["visibility"], c["node"]["authorAgent"]["name"]) for c in detail["comments"]["edges"]] == [
        ("PUBLIC", "Wei Lin"),
        ("INTERNAL", "Wei Lin"),
    ]
    changes = [e["node"] for e in detail["history"]["edges"] if e["node"]["type"] == "STATUS_CHANGED"]
    assert [(e["data"]["from"], e["data"]["to"]) for e in changes] == [
        ("NEW", "OPEN"),
        ("OPEN", "ON_HOLD"),
        ("ON_HOLD", "OPEN"),
        ("OPEN", "RESOLVED"),
    ]
    assert {e["actorAgent"]["name"] for e in changes} == {"Wei Lin"}
    async with rt.engine.connect() as conn:
        status, resolution = (
            await conn.execute(
                select(tables.tickets.c.status, tables.tickets.c.resolution).where(
                    tables.tickets.c.id == decode_as(ticket["id"], "Ticket")
                )
            )
        ).one()
    assert (status, resolution) == ("RESOLVED", "Restarted with the side button; firmware fix scheduled.")
    assert browser_page.problems == []


async def test_a_chinese_agent_filters_the_queue_and_sees_sla_due_times_turn_overdue(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread, browser: Any
) -> None:
    group = await make_group("售后", assignment_strategy=AssignmentStrategy.MANUAL)
    agent = await make_actor(AgentRole.AGENT, groups=[group], name="王芳")
    await admin.client.mutate(
        "console/admin/CreateSlaPolicy.graphql",
        {
            "input": {
                "name": "Urgent: answer in three seconds",
                "matchPriorities": ["URGENT"],
                "firstResponseSeconds": 3,
                "resolutionSeconds": 86_400,
                "warningAtPercent": 50,
            }
        },
    )
    urgent = await create_ticket(admin, "订单被重复扣款", priority="URGENT")
    low = await create_ticket(admin, "发票抬头写错了", priority="LOW")
    waiting = await create_ticket(admin, "想改收货地址", priority="NORMAL")
    await assign(admin, urgent, group, agent)
    await assign(admin, low, group, agent)
    await assign(admin, waiting, group, None)  # in the group's queue, nobody's yet

    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    try:
        page = await context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(f"{server.url}/examples/console/")
        await page.fill("input[name=email]", agent.agent.email)
        await page.fill("input[name=password]", "not the password")
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#login-error")).not_to_be_empty()
        await expect(page.locator("#workspace")).to_be_hidden()
        await sign_in(page, server, agent)
        await expect(page.locator("h1")).to_contain_text("客服工作台")
        await expect(page.locator("#scope option:checked")).to_have_text("分配给我的")
        await expect(queued(page, urgent)).to_contain_text("紧急")
        await expect(queued(page, low)).to_contain_text("低")
        await expect(queued(page, waiting)).to_have_count(0)
        # The urgent ticket's first-response clock breaches within seconds: the queue shows it live.
        sla = queued(page, urgent).locator(".sla")
        await expect(sla).to_contain_text("首次响应截止")
        await expect(sla).to_have_attribute("data-state", "breached", timeout=LIVE)
        await expect(sla).to_contain_text("已超时")
        await expect(queued(page, low).locator(".sla")).to_have_count(0)  # no policy matches LOW

        await page.select_option("#priority", "URGENT")
        await expect(queued(page, low)).to_have_count(0)
        await expect(queued(page, urgent)).to_have_count(1)
        await page.select_option("#priority", "")
        await page.check("#at-risk")
        await expect(queued(page, low)).to_have_count(0)
        await expect(queued(page, urgent)).to_have_count(1)
        await page.uncheck("#at-risk")
        await page.select_option("#scope", f"group:{encode('Group', group.id)}")
        await expect(page.locator("#scope option:checked")).to_have_text("售后 待分配")
        await expect(queued(page, waiting)).to_have_count(1)
        await expect(page.locator("#queue li")).to_have_count(1)
        await page.select_option("#scope", "mine")
        await page.select_option("#status", "RESOLVED")
        await expect(page.locator("#queue li")).to_have_count(0)
        await expect(page.locator("#queue-summary")).to_have_text("这里没有工单。")
        await page.select_option("#status", "active")

        await queued(page, urgent).locator("a").click()
        await expect(page.locator("#ticket-title")).to_have_text(f"#{urgent['number']} 订单被重复扣款")
        await expect(page.locator('#ticket-facts [data-fact="firstResponse"] .sla')).to_have_attribute(
            "data-state", "breached"
        )
        await expect(page.locator('#actions button[data-action="start"]')).to_have_text("开始处理")
        await expect(page.locator('#ticket-facts [data-fact="channel"]')).to_have_text("在线聊天")
        await expect(page.locator("#queue li[aria-current=true]")).to_have_attribute(
            "data-number", str(urgent["number"])
        )
        assert re.search(r"#ticket=", page.url)
        # Someone else writes on the open ticket: it shows up without a reload.
        await admin.client.mutate(
            "console/AddComment.graphql",
            {"ticketId": urgent["id"], "body": "主管：先全额退款", "visibility": "INTERNAL"},
        )
        note = page.locator("#conversation li", has_text="主管：先全额退款")
        await expect(note).to_have_attribute("data-visibility", "INTERNAL", timeout=LIVE)
        await expect(note).to_contain_text("Ada Admin")
        await page.screenshot(path=str(ARTIFACTS / "console-filters-zh.png"), full_page=True, animations="disabled")

        # A reload keeps the session (sessionStorage) and the open ticket (the address); signing out ends both.
        await page.reload()
        await expect(page.locator("#ticket-title")).to_have_text(f"#{urgent['number']} 订单被重复扣款")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
        await page.click("#logout")
        await expect(page.locator("#login-form")).to_be_visible()
        await expect(page.locator("#workspace")).to_be_hidden()
        assert await page.evaluate("sessionStorage.getItem('helpdesk.console.session')") is None
        assert problems == []
    finally:
        await context.close()


async def test_an_agent_answers_with_a_macro_from_the_reply_box(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    group = await make_group("Wearables", assignment_strategy=AssignmentStrategy.MANUAL)
    agent = await make_actor(AgentRole.AGENT, groups=[group], name="Wei Lin")
    macro = {
        "name": "请提供订单号 / please send the order number",
        "body": "{{customer.name}} 您好，请提供订单号。\nHello {{customer.name}}, please send your order number.",
        "actions": [
            {"type": "ADD_TAGS", "value": {"tags": ["need-order-number"]}},
            {"type": "SET_STATUS", "value": {"status": "PENDING"}},
        ],
    }
    created = (await admin.client.mutate("console/CreateMacro.graphql", {"input": macro}))["macro"]
    ticket = await create_ticket(admin, "Watch keeps freezing")
    await assign(admin, ticket, group, agent)

    await sign_in(page, server, agent)
    await queued(page, ticket).locator("a").click()
    await shows_status(page, "NEW", "New")
    await page.select_option("#macro-picker", created["id"])
    # The preview is the reply as the customer will read it.
    await expect(page.locator("#macro-preview")).to_have_text(
        "王小明 您好，请提供订单号。\nHello 王小明, please send your order number."
    )
    await expect(page.locator("#macro-missing")).to_have_text("")
    await page.click("#macro-apply")

    # One step: the reply is in the conversation, the ticket waits for the customer, tagged.
    await shows_status(page, "PENDING", "Pending")
    await expect(page.locator("#conversation li.public")).to_contain_text(
        "Hello 王小明, please send your order number."
    )
    await expect(page.locator('#history li[data-type="MACRO_APPLIED"]')).to_have_count(1)
    await expect(page.locator("#macro-picker")).to_have_value("")


async def test_a_mention_by_another_agent_rings_the_bell_live_and_opening_it_marks_it_read(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    group = await make_group("Audio", assignment_strategy=AssignmentStrategy.MANUAL)
    li_na = await make_actor(AgentRole.AGENT, groups=[group], name="李娜")
    colleague = await make_actor(AgentRole.AGENT, groups=[group], name="Zhou Min")
    ticket = await create_ticket(admin, "Left earbud silent")
    await assign(admin, ticket, group, None)

    await sign_in(page, server, li_na)
    await expect(page.locator("#bell-count")).to_have_text("0")

    note = {"ticketId": ticket["id"], "body": "@李娜 请回电给客户", "visibility": "INTERNAL"}
    await colleague.client.mutate("console/AddComment.graphql", note)
    await expect(page.locator("#bell-count")).to_have_text("1", timeout=LIVE)

    await page.click("#bell")
    mention = page.locator('#bell-list li[data-kind="MENTION"]')
    await expect(mention).to_have_count(1)
    await expect(mention).to_contain_text("Mentioned")
    await expect(mention).to_contain_text(f"Zhou Min mentioned you in an internal note on #{ticket['number']}")
    await expect(page.locator("#bell-count")).to_have_text("0", timeout=LIVE)
    unread = await li_na.client.run("console/Notifications.graphql", {"unreadOnly": True})
    assert unread["unread"]["totalCount"] == 0

    await page.click('button[data-lang="zh"]')
    await expect(mention).to_contain_text("有人提到你")
    await mention.locator("a").click()
    await expect(page.locator("#ticket-title")).to_have_text(f"#{ticket['number']} Left earbud silent")
