"""Outbound mail through the real server: a customer's GBK mail piped in by ingestEmail, the
agent's reply by addComment arriving at the recording SMTP sink threaded, Comment.emailDelivery
from QUEUED to SENT, the customer's answer reopening the ticket, a bounce stopping later mail,
what a partner token reads, and the sender running inside `helpdesk serve` by itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.demo.mail_sink import CapturedMail, MailSink
from app.domain.records import GroupRecord
from app.services import auth
from app.services.mail_sender import MailSender
from app.services.runtime import Runtime
from app.settings import Settings
from schema import ids
from tests.conftest import Actor
from tests.fixtures.inbound_mail import SUPPORT, gbk_mail_with_attachment, reply_to
from tests.support import GraphQLClient, ServerThread, load_document
from tests.unit.email.mime import fixture

MakeGroup = Callable[..., Awaitable[GroupRecord]]

CREATE_MAILBOX = "console/admin/CreateMailbox.graphql"
INGEST = "partner/IngestEmail.graphql"
ADD_COMMENT = "console/AddComment.graphql"
COMMENTS = "console/TicketComments.graphql"
PENDING = "console/SetTicketPending.graphql"
START = "console/StartTicket.graphql"
CUSTOMER = "wang.fang@example.cn"


# The quiet server's clock, far ahead of the wall clock: its deliveries are due for the senders
# these tests run with that clock, never for the session server's own sender (system clock).
AHEAD = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AHEAD)


@pytest.fixture
def rt(engine: AsyncEngine, settings: Settings, clock: ManualClock) -> Runtime:
    return Runtime(engine=engine, settings=settings, clock=clock)


@pytest.fixture
def quiet_server(settings: Settings, clock: ManualClock) -> Iterator[ServerThread]:
    """A server without the background sender: the test sends, so QUEUED is seen before SENT."""
    thread = ServerThread(settings.model_copy(update={"run_mail": False, "run_scheduler": False}), clock=clock)
    thread.start()
    yield thread
    thread.stop()


async def post(
    http: httpx.AsyncClient,
    url: str,
    token: str | None,
    document: str,
    variables: dict[str, Any],
    files: dict[str, Any],
) -> dict[str, Any]:
    operations = {"query": load_document(document), "variables": variables}
    response = await http.post(
        f"{url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({str(i): [p] for i, p in enumerate(files)})},
        files={str(i): f for i, f in enumerate(files.values())},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload  # type: ignore[no-any-return]


async def ingest(http: httpx.AsyncClient, url: str, token: str, mailbox_id: str, raw: bytes) -> dict[str, Any]:
    variables = {"mailboxId": mailbox_id, "message": None}
    return await post(http, url, token, INGEST, variables, {"variables.message": ("m.eml", raw, "message/rfc822")})


async def make_mailbox(client: GraphQLClient, group: GroupRecord, sink: MailSink) -> str:
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "NONE", "fromName": "客服中心"}
    data = {"name": "售后", "address": SUPPORT, "groupId": ids.encode("Group", group.id), "smtp": smtp}
    mailbox_id: str = (await client.mutate(CREATE_MAILBOX, {"input": data}))["mailbox"]["id"]
    return mailbox_id


async def arrived(sink: MailSink, count: int) -> list[CapturedMail]:
    async with asyncio.timeout(30):
        return await sink.wait_for(count)


def comments_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in data["ticket"]["comments"]["edges"]]


async def test_the_agents_reply_reaches_the_customer_threaded_and_the_answer_reopens_the_ticket(
    quiet_server: ServerThread,
    http: httpx.AsyncClient,
    admin: Actor,
    make_group: MakeGroup,
    rt: Runtime,
    sink: MailSink,
) -> None:
    agent = GraphQLClient(quiet_server.url, http, admin.token)
    mailbox_id = await make_mailbox(agent, await make_group("邮件客服"), sink)
    opened = await ingest(http, quiet_server.url, admin.token, mailbox_id, gbk_mail_with_attachment("<gbk@qq.example>"))
    assert opened["outcome"] == "CREATED_TICKET"
    ticket_id, number = opened["ticket"]["id"], opened["ticket"]["number"]

    files = {"variables.attachments.0": ("运单.pdf", b"%PDF-1.4 waybill", "application/pdf")}
    variables = {"ticketId": ticket_id, "body": "您好，退款已经原路退回。", "attachments": [None]}
    answered = await post(http, quiet_server.url, admin.token, ADD_COMMENT, variables, files)
    assert answered["userErrors"] == []
    delivery = answered["comment"]["emailDelivery"]
    assert (delivery["status"], delivery["to"], delivery["attempts"], delivery["sentAt"]) == (
        "QUEUED",
        [CUSTOMER],
        0,
        None,
    )
    note = await agent.mutate(ADD_COMMENT, {"ticketId": ticket_id, "body": "内部：已核对", "visibility": "INTERNAL"})
    assert note["comment"]["emailDelivery"] is None

    await MailSender(rt).send_due()
    [mail] = await arrived(sink, 1)
    assert mail.message_id == delivery["messageId"]
    assert mail.in_reply_to == "<gbk@qq.example>" and mail.references == ("<gbk@qq.example>",)
    assert mail.subject == f"Re: 退款没有到账 [#{number}]"
    assert mail.from_ == f"客服中心 <{SUPPORT}>" and mail.recipients == (CUSTOMER,)
    assert mail.text.strip() == "您好，退款已经原路退回。" and mail.html is not None
    assert mail.attachments == [("运单.pdf", "application/pdf", b"%PDF-1.4 waybill")]

    shown = comments_of(await agent.run(COMMENTS, {"id": ticket_id}))
    reply = next(c for c in shown if c["emailDelivery"] is not None)
    assert reply["messageId"] == mail.message_id
    assert reply["emailDelivery"]["status"] == "SENT" and reply["emailDelivery"]["attempts"] == 1
    assert reply["emailDelivery"]["sentAt"] is not None

    # The customer answers our message while the ticket waits on them: same ticket, OPEN again.
    await agent.mutate(PENDING, {"id": ticket_id})
    answer = reply_to(mail.message_id or "", "<gbk-2@qq.example>", subject=mail.subject, sender=CUSTOMER)
    back = await ingest(http, quiet_server.url, admin.token, mailbox_id, answer)
    assert back["outcome"] == "ADDED_REPLY"
    assert (back["ticket"]["id"], back["ticket"]["status"]) == (ticket_id, "OPEN")

    # An out-of-office answer changes nothing; a permanent bounce fails the delivery and stops mail.
    bounce = (
        fixture("bounce_permanent.eml")
        .replace(b"<171.99.1@example.cn>", (mail.message_id or "").encode())
        .replace(b"Nobody@Example.com", CUSTOMER.encode())
        .replace(b"nobody@example.com", CUSTOMER.encode())
    )
    assert (await ingest(http, quiet_server.url, admin.token, mailbox_id, bounce))["outcome"] == "IGNORED_BOUNCE"
    shown = comments_of(await agent.run(COMMENTS, {"id": ticket_id}))
    failed = next(c for c in shown if c["id"] == reply["id"])["emailDelivery"]
    assert failed["status"] == "FAILED" and "5.1.1" in failed["lastError"]
    later = await agent.mutate(ADD_COMMENT, {"ticketId": ticket_id, "body": "还在吗？"})
    assert later["comment"]["emailDelivery"]["status"] == "SUPPRESSED"
    await MailSender(rt).send_due()
    await asyncio.sleep(0.2)
    assert len(sink.messages) == 1


async def test_a_partner_token_reads_deliveries_of_public_replies_only(
    quiet_server: ServerThread,
    http: httpx.AsyncClient,
    admin: Actor,
    make_actor: Callable[..., Awaitable[Actor]],
    make_group: MakeGroup,
    rt: Runtime,
    sink: MailSink,
) -> None:
    group = await make_group("邮件客服")
    agent = GraphQLClient(quiet_server.url, http, admin.token)
    mailbox_id = await make_mailbox(agent, group, sink)
    opened = await ingest(http, quiet_server.url, admin.token, mailbox_id, gbk_mail_with_attachment("<p@qq.example>"))
    ticket_id = opened["ticket"]["id"]
    await agent.mutate(ADD_COMMENT, {"ticketId": ticket_id, "body": "公开回复"})
    await agent.mutate(ADD_COMMENT, {"ticketId": ticket_id, "body": "内部备注", "visibility": "INTERNAL"})

    member = await make_actor(groups=[group])
    token = await auth.create_api_token(rt, member.principal, "shop", None, None)
    partner = GraphQLClient(quiet_server.url, http, token.secret)
    seen = comments_of(await partner.run(COMMENTS, {"id": ticket_id}))
    assert [c["body"] for c in seen if c["emailDelivery"] is not None] == ["公开回复"]
    assert "内部备注" not in [c["body"] for c in seen]
    [delivery] = [c["emailDelivery"] for c in seen if c["emailDelivery"] is not None]
    assert delivery["status"] == "QUEUED" and delivery["to"] == [CUSTOMER]


@pytest.fixture
def mailing_server(settings: Settings) -> Iterator[ServerThread]:
    """A server as deployed: its own sender loop runs (HELPDESK_RUN_MAIL; the shared test server
    runs none, so the IMAP tests' fetchers have their mailboxes to themselves)."""
    thread = ServerThread(settings.model_copy(update={"run_mail": True}))
    thread.start()
    yield thread
    thread.stop()


async def test_the_server_sends_by_itself_within_moments(
    mailing_server: ServerThread, http: httpx.AsyncClient, admin: Actor, make_group: MakeGroup, sink: MailSink
) -> None:
    """Nobody calls the sender here: the server's own loop sends."""
    server = mailing_server
    mailbox_id = await make_mailbox(admin.client, await make_group(), sink)
    opened = await ingest(http, server.url, admin.token, mailbox_id, gbk_mail_with_attachment("<loop@qq.example>"))
    comment = await admin.client.mutate(ADD_COMMENT, {"ticketId": opened["ticket"]["id"], "body": "自动发出"})
    [mail] = await arrived(sink, 1)
    assert mail.message_id == comment["comment"]["emailDelivery"]["messageId"]
    assert mail.text.strip() == "自动发出"
