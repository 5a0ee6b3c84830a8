"""The wallboard page (frontend_examples/wallboard/) in headless Chromium against a real server:
it signs in, shows the live snapshot, follows assignments, speaks the browser's language (and
switches), shows agents only their own groups, and resumes its event feed after a dropped
connection without missing or repeating an event."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from app.domain.enums import AgentPresence, AgentRole, AssignmentStrategy
from app.domain.global_ids import encode
from app.domain.records import GroupRecord
from app.services import agents as agent_service
from app.services.runtime import Runtime
from tests.conftest import PASSWORD, Actor
from tests.e2e.conftest import ARTIFACTS, LIVE, SECURITY_HEADERS, BrowserPage
from tests.support import ServerThread

pytestmark = pytest.mark.slow

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


def new_ticket(subject: str) -> dict[str, Any]:
    return {
        "input": {
            "subject": subject,
            "description": "The watch keeps freezing after the update.",
            "channel": "CHAT",
            "customer": {"email": "wang@example.cn"},
        }
    }


async def sign_in(page: Any, server: ServerThread, actor: Actor) -> None:
    response = await page.goto(f"{server.url}/examples/wallboard/")
    assert response.ok
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    await page.fill("input[name=email]", actor.agent.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    await expect(value(page, "createdToday")).to_have_text(re.compile(r"^\d+$"), timeout=10_000)


def value(page: Any, metric: str) -> Any:
    return page.locator(f'[data-metric="{metric}"] .value')


async def number(page: Any, metric: str) -> int:
    return int(await value(page, metric).inner_text())


async def route_to_least_loaded_group(admin: Actor, ticket_id: str, group: GroupRecord) -> None:
    await admin.client.mutate("console/AssignTicket.graphql", {"id": ticket_id, "groupId": encode("Group", group.id)})
    await admin.client.mutate("console/AutoAssignTicket.graphql", {"id": ticket_id})


async def online_agent_in_least_loaded_group(
    rt: Runtime, make_group: MakeGroup, make_actor: MakeActor, name: str
) -> GroupRecord:
    group = await make_group("front line", assignment_strategy=AssignmentStrategy.LEAST_LOADED)
    agent = await make_actor(AgentRole.AGENT, groups=[group], name=name)
    await agent_service.set_presence(rt, agent.principal, AgentPresence.ONLINE)
    return group


async def test_wallboard_shows_live_numbers_assignments_and_two_languages(
    admin: Actor,
    make_actor: MakeActor,
    make_group: MakeGroup,
    rt: Runtime,
    server: ServerThread,
    browser_page: BrowserPage,
) -> None:
    page = browser_page.page
    group = await online_agent_in_least_loaded_group(rt, make_group, make_actor, "Wei Lin")
    await sign_in(page, server, admin)
    created, unassigned = await number(page, "createdToday"), await number(page, "unassigned")
    await expect(value(page, "agentsOnline")).to_have_text("1", timeout=LIVE)

    ticket = (await admin.client.mutate("console/CreateTicket.graphql", new_ticket("手表一直死机")))["ticket"]
    await expect(value(page, "createdToday")).to_have_text(str(created + 1), timeout=LIVE)
    await expect(value(page, "unassigned")).to_have_text(str(unassigned + 1), timeout=LIVE)
    await expect(page.locator('[data-status="NEW"] .value')).to_have_text(re.compile(r"^[1-9]\d*$"))

    await route_to_least_loaded_group(admin, ticket["id"], group)
    assignment = page.locator('#feed li[data-kind="assignment"]', has_text="Wei Lin")
    await expect(assignment).to_have_count(1, timeout=LIVE)
    await expect(assignment).to_contain_text(f"#{ticket['number']} 手表一直死机")
    await expect(assignment).to_contain_text("least loaded")
    await expect(value(page, "unassigned")).to_have_text(str(unassigned), timeout=LIVE)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True, animations="disabled")

    await page.click('button[data-lang="zh"]')
    await expect(page.locator('[data-metric="createdToday"] .label')).to_have_text("今日新建")
    await expect(page.locator('[data-metric="unassigned"] .label')).to_have_text("未分配")
    await expect(assignment).to_contain_text("最少负载")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await page.screenshot(path=str(ARTIFACTS / "wallboard-zh.png"), full_page=True, animations="disabled")
    await page.click('button[data-lang="en"]')
    await expect(page.locator('[data-metric="createdToday"] .label')).to_have_text("Created today")
    assert browser_page.problems == []


async def test_wallboard_resumes_its_feed_after_a_dropped_connection(
    admin: Actor,
    make_actor: MakeActor,
    make_group: MakeGroup,
    rt: Runtime,
    server: ServerThread,
    browser_page: BrowserPage,
) -> None:
    page = browser_page.page
    group = await online_agent_in_least_loaded_group(rt, make_group, make_actor, "Wei Lin")
    connections: list[Any] = []
    sent: list[list[dict[str, Any]]] = []  # per connection, what the page sent
    delivered: list[str] = []  # cursors of assignment events the server sent, over all connections
    refusing, tried_again = asyncio.Event(), asyncio.Event()

    async def route(ws: Any) -> None:
        # While `refusing`, the page's reconnect attempts fail at once, as on a dead network.
        if refusing.is_set():
            tried_again.set()
            await ws.close(code=4000, reason="network down")
            return
        to_server = ws.connect_to_server()
        outgoing: list[dict[str, Any]] = []
        sent.append(outgoing)
        connections.append(ws)

        def from_page(message: str | bytes) -> None:
            outgoing.append(json.loads(message))
            to_server.send(message)

        def from_server(message: str | bytes) -> None:
            ws.send(message)
            payload = json.loads(message).get("payload")
            data = (payload.get("data") if isinstance(payload, dict) else None) or {}
            if "assignmentEvents" in data:
                delivered.append(data["assignmentEvents"]["cursor"])

        ws.on_message(from_page)
        to_server.on_message(from_server)

    await page.route_web_socket(re.compile(r"/graphql$"), route)
    await sign_in(page, server, admin)
    feed = page.locator('#feed li[data-kind="assignment"]')

    first = (await admin.client.mutate("console/CreateTicket.graphql", new_ticket("first")))["ticket"]
    await route_to_least_loaded_group(admin, first["id"], group)
    assigned_first = feed.filter(has_text=f"#{first['number']} first").filter(has_text="Wei Lin")
    await expect(assigned_first).to_have_count(1, timeout=LIVE)
    shown_before_drop = await feed.count()
    last_cursor = delivered[-1]

    refusing.set()
    await connections[-1].close(code=4000, reason="network blip")
    await expect(page.locator("#connection")).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
    second = (await admin.client.mutate("console/CreateTicket.graphql", new_ticket("second")))["ticket"]
    await route_to_least_loaded_group(admin, second["id"], group)
    await asyncio.wait_for(tried_again.wait(), 10)  # the page tried again, and failed, after the events
    assert await feed.filter(has_text=f"#{second['number']} second").count() == 0
    refusing.clear()

    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=LIVE)
    assigned_second = feed.filter(has_text=f"#{second['number']} second").filter(has_text="Wei Lin")
    await expect(assigned_second).to_have_count(1, timeout=LIVE)
    # The page resumed its assignment feed from the last cursor it had shown ...
    resubscribed = [
        m["payload"]["variables"]
        for m in sent[-1]
        if m["type"] == "subscribe" and "assignmentEvents" in m["payload"]["query"]
    ]
    assert resubscribed == [{"groupId": None, "after": last_cursor}]
    # ... so the events it missed were replayed once, and nothing it had already shown came again.
    await asyncio.sleep(1.0)
    assert len(delivered) == len(set(delivered)) == 2 * shown_before_drop
    assert await feed.filter(has_text=f"#{first['number']} first").count() == shown_before_drop
    assert await feed.filter(has_text=f"#{second['number']} second").count() == shown_before_drop
    assert len(connections) == 2


async def test_an_agent_with_a_chinese_browser_watches_their_own_group_in_chinese(
    make_actor: MakeActor, make_group: MakeGroup, server: ServerThread, browser: Any
) -> None:
    mine = await make_group("售后")
    await make_group("财务组")
    agent = await make_actor(AgentRole.AGENT, groups=[mine], name="王芳")
    context = await browser.new_context(locale="zh-CN")
    try:
        page = await context.new_page()
        await sign_in(page, server, agent)
        await expect(page.locator('[data-metric="createdToday"] .label')).to_have_text("今日新建")
        await expect(page.locator("#who")).to_have_text("王芳")
        # Agents may watch only their own groups' boards: no whole-helpdesk choice, no other group.
        options = await page.locator("#group option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
        assert options == [[encode("Group", mine.id), "售后"]]
        await expect(page.locator("#board-error")).to_have_text("")
    finally:
        await context.close()
