"""The demo's "sent mail" page: what `serve --demo` caught in its local SMTP sink, read in a real
browser. A customer's GBK mail opens a ticket; the acknowledgement and then the agent's reply
arrive at the sink (real SMTP from the sender loop) and show on the page with their threading
headers. GET /demo/mail, behind it, is for signed-in agents only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect
from pydantic import SecretStr

from app.demo.sent_mail import start_sink_thread
from app.domain.email.mailbox_settings import MailboxInput
from app.domain.enums import CommentVisibility
from app.services import auth, conversation, email_ingest, mailboxes
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import PASSWORD, Actor
from tests.e2e.conftest import BrowserPage
from tests.fixtures.inbound_mail import SUPPORT, gbk_mail_with_attachment
from tests.support import ServerThread

MakeActor = Callable[..., Awaitable[Actor]]
CUSTOMER_MESSAGE_ID = "<gbk-0001@mail.example.cn>"
SENT = 30_000  # ms: the sender looks for due mail about every second


@pytest.fixture
def demo_server(settings: Settings, tmp_path: Path) -> Iterator[ServerThread]:
    spool = tmp_path / "demo-mail"
    port = start_sink_thread(spool)
    demo = settings.model_copy(
        update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{port}"), "demo_mail_dir": spool, "run_mail": True}
    )
    server = ServerThread(demo)
    server.start()
    yield server
    server.stop()


async def test_the_page_shows_what_the_customer_received(
    demo_server: ServerThread, rt: Runtime, admin: Actor, make_actor: MakeActor, browser_page: BrowserPage
) -> None:
    mailbox = await mailboxes.create_mailbox(
        rt,
        admin.principal,
        MailboxInput(
            name="售后邮箱",
            address=SUPPORT,
            acknowledgement_template="{{customer.name}}，您好：工单 #{{ticket.number}} 已收到。",
        ),
    )
    taken = await email_ingest.ingest_email(rt, None, mailbox.id, gbk_mail_with_attachment(CUSTOMER_MESSAGE_ID))
    assert taken.ticket is not None
    number = taken.ticket.number

    page = browser_page.page
    response = await page.goto(f"{demo_server.url}/examples/mail/")
    assert response.ok
    await page.fill("input[name=email]", admin.agent.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")

    acknowledgement = page.locator("article").filter(has_text=f"[#{number}]")
    await expect(acknowledgement).to_have_count(1, timeout=SENT)
    await expect(acknowledgement.locator("h2")).to_contain_text(f"Re: 退款没有到账 [#{number}]")
    await expect(acknowledgement.locator(".badge")).to_have_text("automatic")
    await expect(acknowledgement).to_contain_text(f"In-Reply-To{CUSTOMER_MESSAGE_ID}")
    await expect(acknowledgement.locator("pre")).to_contain_text(f"工单 #{number} 已收到")

    await conversation.add_comment(
        rt, admin.principal, taken.ticket.id, "您好，退款已重新提交，预计 3 个工作日内到账。", CommentVisibility.PUBLIC
    )
    # Newest first: the reply above the acknowledgement, on the next refresh.
    await expect(page.locator("article")).to_have_count(2, timeout=SENT)
    reply = page.locator("article").first
    await expect(reply.locator("pre")).to_contain_text("退款已重新提交")
    await expect(reply.locator(".badge")).to_have_count(0)
    await expect(reply).to_contain_text(f"In-Reply-To{CUSTOMER_MESSAGE_ID}")
    assert browser_page.problems == []

    # Behind the page: mail to customers is for signed-in agents, never anonymous or an API token.
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(f"{demo_server.url}/demo/mail")
        assert anonymous.status_code == 401
        issued = await auth.create_api_token(rt, admin.principal, "partner", None, None)
        by_token = await http.get(f"{demo_server.url}/demo/mail", headers={"Authorization": f"Bearer {issued.secret}"})
        assert by_token.status_code == 401
        agent = await make_actor()
        by_agent = await http.get(f"{demo_server.url}/demo/mail", headers={"Authorization": f"Bearer {agent.token}"})
        assert by_agent.status_code == 200
        assert [m["subject"] for m in by_agent.json()["messages"]][1] == f"Re: 退款没有到账 [#{number}]"


async def test_without_demo_there_is_no_sent_mail_endpoint(server: ServerThread, admin: Actor) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{server.url}/demo/mail", headers={"Authorization": f"Bearer {admin.token}"})
    assert answer.status_code == 404
