"""Outbound mail through the services and the sender on a real database, over real SMTP to the
recording sink: queueing in the reply's transaction, threading, retries with a moved clock,
permanent refusals, bounces, suppression, acknowledgements and their limit, STARTTLS, header
injection."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.demo.mail_sink import CapturedMail, MailSink
from app.domain.email.delivery import RETRY_DELAYS
from app.domain.email.mailbox_settings import MailboxInput, SmtpInput
from app.domain.enums import CommentVisibility, EmailIngestOutcome, MailSecurity, TicketStatus
from app.domain.lifecycle import Action
from app.domain.records import GroupRecord, MailboxRecord, TicketRecord
from app.services import conversation, lifecycle, mailboxes
from app.services.email_ingest import ingest_email
from app.services.mail_sender import MailSender
from app.services.runtime import Runtime
from app.settings import Settings
from app.storage import IncomingFile
from tests.conftest import Actor
from tests.fixtures.certificates import make_certificate
from tests.fixtures.inbound_mail import SUPPORT, customer_mail, gbk_mail_with_attachment, out_of_office, reply_to
from tests.unit.email.mime import fixture

# Far ahead of the wall clock: the session's API server runs a sender on the system clock, and
# must not take the deliveries these tests drive with their own clock.
START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
d = tables.email_deliveries


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def rt(engine: AsyncEngine, settings: Settings, clock: ManualClock) -> Runtime:
    return Runtime(engine=engine, settings=settings, clock=clock)


async def make_mailbox(
    rt: Runtime, admin: Actor, group: GroupRecord, port: int, security: MailSecurity = MailSecurity.NONE, **kw: Any
) -> MailboxRecord:
    smtp = SmtpInput("127.0.0.1", port, security, from_name="客服中心")
    return await mailboxes.create_mailbox(
        rt, admin.principal, MailboxInput("Support", SUPPORT, group.id, smtp=smtp, **kw)
    )


@pytest.fixture
async def mailbox(
    rt: Runtime, admin: Actor, make_group: Callable[..., Awaitable[GroupRecord]], sink: MailSink
) -> MailboxRecord:
    return await make_mailbox(rt, admin, await make_group("邮件客服"), sink.port)


async def arrived(sink: MailSink, count: int) -> list[CapturedMail]:
    async with asyncio.timeout(30):
        return await sink.wait_for(count)


async def mail_ticket(rt: Runtime, mailbox: MailboxRecord, message_id: str, raw: bytes | None = None) -> TicketRecord:
    result = await ingest_email(rt, None, mailbox.id, raw or customer_mail(message_id))
    assert result.outcome is EmailIngestOutcome.CREATED_TICKET and result.ticket is not None
    return result.ticket


def upload(name: str, content: bytes) -> IncomingFile:
    buffer = io.BytesIO(content)

    async def read(size: int) -> bytes:
        return buffer.read(size)

    return IncomingFile(name, "application/pdf", read)


async def reply(rt: Runtime, who: Actor, ticket: TicketRecord, body: str, *files: tuple[str, bytes]) -> int:
    uploads = [upload(name, content) for name, content in files]
    comment, _ = await conversation.add_comment(rt, who.principal, ticket.id, body, CommentVisibility.PUBLIC, uploads)
    return comment.id


async def deliveries(rt: Runtime) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(select(d).order_by(d.c.id))).all())


async def events_of(rt: Runtime, type_: str) -> list[Any]:
    te = tables.ticket_events
    async with rt.engine.connect() as conn:
        return list((await conn.execute(select(te).where(te.c.type == type_).order_by(te.c.id))).all())


async def test_a_public_reply_is_mailed_threaded_with_its_attachment_and_the_answer_reopens_the_ticket(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    ticket = await mail_ticket(
        rt, mailbox, "<gbk-1@mail.example.cn>", gbk_mail_with_attachment("<gbk-1@mail.example.cn>")
    )
    comment_id = await reply(rt, admin, ticket, "您好，退款已经处理。\n请查收。", ("回执.pdf", b"%PDF-1.4 our receipt"))
    await conversation.add_comment(rt, admin.principal, ticket.id, "internal: checked", CommentVisibility.INTERNAL)
    [queued] = await deliveries(rt)
    assert (queued.status, queued.comment_id, queued.to_addresses, queued.attempts) == (
        "QUEUED",
        comment_id,
        ["wang.fang@example.cn"],
        0,
    )

    assert await MailSender(rt).send_due() == 1
    [mail] = await arrived(sink, 1)
    async with rt.engine.connect() as conn:
        stored_id = await conn.scalar(select(tables.comments.c.message_id).where(tables.comments.c.id == comment_id))
    assert mail.message_id == stored_id == queued.message_id and stored_id.endswith("@example.cn>")
    assert mail.recipients == ("wang.fang@example.cn",) and mail.mail_from == SUPPORT
    assert mail.in_reply_to == "<gbk-1@mail.example.cn>"
    assert mail.references == ("<gbk-1@mail.example.cn>",)
    assert mail.subject == f"Re: 退款没有到账 [#{ticket.number}]"
    assert mail.from_ == f"客服中心 <{SUPPORT}>"
    assert mail.to == ("王芳 <wang.fang@example.cn>",)
    assert mail.text.strip() == "您好，退款已经处理。\n请查收。"
    assert mail.html is not None and "您好，退款已经处理。<br>" in mail.html
    assert mail.attachments == [("回执.pdf", "application/pdf", b"%PDF-1.4 our receipt")]
    assert mail.header("Auto-Submitted") is None
    [sent] = await deliveries(rt)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == ("SENT", 1, START, None)

    # The customer answers our message: same ticket, PENDING back to OPEN; the next reply threads on it.
    await lifecycle.transition(rt, admin.principal, ticket.id, Action.SET_PENDING)
    answer = await ingest_email(
        rt, None, mailbox.id, reply_to(stored_id, "<gbk-2@mail.example.cn>", sender="wang.fang@example.cn")
    )
    assert answer.outcome is EmailIngestOutcome.ADDED_REPLY and answer.ticket is not None
    assert (answer.ticket.id, answer.ticket.status) == (ticket.id, TicketStatus.OPEN.value)
    await reply(rt, admin, ticket, "收到，谢谢。")
    await MailSender(rt).send_due()
    [_, second] = await arrived(sink, 2)
    assert second.in_reply_to == "<gbk-2@mail.example.cn>"
    assert second.references == ("<gbk-1@mail.example.cn>", stored_id, "<gbk-2@mail.example.cn>")
    assert len(sink.messages) == 2  # the internal note was never mailed


async def test_451_is_retried_on_the_backoff_schedule_and_delivered_in_order_per_ticket(
    rt: Runtime, clock: ManualClock, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    first = await mail_ticket(rt, mailbox, "<a@mail.example.cn>")
    other = await mail_ticket(
        rt, mailbox, "<b@mail.example.cn>", customer_mail("<b@mail.example.cn>", sender="b@example.cn")
    )
    await reply(rt, admin, first, "one")
    await reply(rt, admin, first, "two")
    await reply(rt, admin, other, "other ticket")
    sender = MailSender(rt)
    sink.refuse(451)

    # "one" is refused; "two" waits behind it, the other ticket does not wait.
    assert await sender.send_due() == 2
    assert [m.text.strip() for m in sink.messages] == ["other ticket"]
    one, two, _ = await deliveries(rt)
    assert (one.status, one.attempts, one.next_attempt_at) == ("QUEUED", 1, START + RETRY_DELAYS[0])
    assert one.last_error.startswith("a@example.cn: 451") or "451" in one.last_error
    assert (two.status, two.attempts) == ("QUEUED", 0)

    assert await sender.send_due() == 0  # nothing due before the first retry time
    for delay in RETRY_DELAYS[:2]:
        clock.advance(delay)
        sink.refuse(451)
        assert await sender.send_due() == 1  # refused again; "two" still waits
    async with rt.engine.connect() as conn:
        assert "451" in (await conn.scalar(select(tables.mailboxes.c.last_error)) or "")
    clock.advance(RETRY_DELAYS[2])
    await sender.send_due()
    texts = [m.text.strip() for m in await arrived(sink, 3)]
    assert texts == ["other ticket", "one", "two"]
    one, two, _ = await deliveries(rt)
    assert (one.status, one.attempts, two.status, two.attempts) == ("SENT", 4, "SENT", 1)
    async with rt.engine.connect() as conn:
        assert await conn.scalar(select(tables.mailboxes.c.last_error)) is None  # cleared by the success


async def test_550_fails_at_once_with_an_email_failed_event(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    ticket = await mail_ticket(rt, mailbox, "<c@mail.example.cn>")
    comment_id = await reply(rt, admin, ticket, "hello")
    sink.refuse(550)
    await MailSender(rt).send_due()
    [failed] = await deliveries(rt)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("FAILED", 1, None)
    assert "550" in failed.last_error
    [event] = await events_of(rt, "EMAIL_FAILED")
    assert event.ticket_id == ticket.id
    assert (event.data["commentId"], event.data["recipients"]) == (comment_id, ["li.lei@example.cn"])
    assert "550" in event.data["reason"]
    assert sink.messages == []


async def test_exhausted_retries_end_failed(
    rt: Runtime, clock: ManualClock, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    ticket = await mail_ticket(rt, mailbox, "<e@mail.example.cn>")
    await reply(rt, admin, ticket, "hello")
    sink.refuse(451, times=len(RETRY_DELAYS) + 1)
    sender = MailSender(rt)
    await sender.send_due()
    for delay in RETRY_DELAYS:
        clock.advance(delay)
        assert await sender.send_due() == 1
    [failed] = await deliveries(rt)
    assert (failed.status, failed.attempts) == ("FAILED", len(RETRY_DELAYS) + 1)
    assert len(await events_of(rt, "EMAIL_FAILED")) == 1
    clock.advance(timedelta(days=2))
    assert await sender.send_due() == 0 and sink.messages == []


async def test_no_smtp_server_is_a_temporary_failure(
    rt: Runtime, admin: Actor, make_group: Callable[..., Awaitable[GroupRecord]]
) -> None:
    box = await mailboxes.create_mailbox(rt, admin.principal, MailboxInput("Plain", "plain@example.cn"))
    ticket = await mail_ticket(rt, box, "<n@mail.example.cn>")
    await reply(rt, admin, ticket, "hello")
    await MailSender(rt).send_due()
    [row] = await deliveries(rt)
    assert (row.status, row.attempts) == ("QUEUED", 1)
    assert "HELPDESK_SMTP_URL" in row.last_error


async def test_helpdesk_smtp_url_is_used_for_a_mailbox_without_smtp_settings(
    engine: AsyncEngine, settings: Settings, clock: ManualClock, admin: Actor, sink: MailSink
) -> None:
    rt = Runtime(engine=engine, settings=settings.model_copy(update={"smtp_url": SecretStr(sink.url)}), clock=clock)
    box = await mailboxes.create_mailbox(rt, admin.principal, MailboxInput("Plain", "plain@example.cn"))
    ticket = await mail_ticket(rt, box, "<u@mail.example.cn>")
    await reply(rt, admin, ticket, "via the URL")
    await MailSender(rt).send_due()
    [mail] = await arrived(sink, 1)
    assert mail.mail_from == "plain@example.cn" and mail.text.strip() == "via the URL"


def bounce_of(message_id: str, recipient: str) -> bytes:
    raw = fixture("bounce_permanent.eml")
    return (
        raw.replace(b"<171.99.1@example.cn>", message_id.encode())
        .replace(b"Nobody@Example.com", recipient.encode())
        .replace(b"nobody@example.com", recipient.encode())
    )


@pytest.mark.parametrize("matched_by", ["message-id", "final-recipient"])
async def test_a_permanent_bounce_fails_the_delivery_and_suppresses_later_mail(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord, sink: MailSink, matched_by: str
) -> None:
    ticket = await mail_ticket(rt, mailbox, "<f@mail.example.cn>")
    comment_id = await reply(rt, admin, ticket, "first")
    await MailSender(rt).send_due()
    [mail] = await arrived(sink, 1)
    assert mail.message_id is not None
    returned = mail.message_id if matched_by == "message-id" else "<unknown@elsewhere.example>"
    outcome = await ingest_email(rt, None, mailbox.id, bounce_of(returned, "Li.Lei@example.cn"))
    assert outcome.outcome is EmailIngestOutcome.IGNORED_BOUNCE
    [bounced] = await deliveries(rt)
    assert bounced.status == "FAILED" and "5.1.1 User unknown" in bounced.last_error
    [event] = await events_of(rt, "EMAIL_FAILED")
    assert event.data["commentId"] == comment_id and event.data["reason"] == bounced.last_error

    await reply(rt, admin, ticket, "second")
    await MailSender(rt).send_due()
    _, suppressed = await deliveries(rt)
    assert suppressed.status == "SUPPRESSED" and "bounced" in suppressed.last_error
    assert len(sink.messages) == 1


async def test_an_out_of_office_answer_changes_nothing(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    ticket = await mail_ticket(rt, mailbox, "<g@mail.example.cn>")
    await reply(rt, admin, ticket, "first")
    await MailSender(rt).send_due()
    result = await ingest_email(rt, None, mailbox.id, out_of_office("<ooo@mail.example.cn>"))
    assert result.outcome is EmailIngestOutcome.IGNORED_AUTO_REPLY
    [row] = await deliveries(rt)
    assert row.status == "SENT"
    async with rt.engine.connect() as conn:
        assert await conn.scalar(select(tables.customers.c.email_bounced_at)) is None


async def test_a_customer_without_address_gets_a_suppressed_delivery(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    ticket = await mail_ticket(rt, mailbox, "<h@mail.example.cn>")
    async with rt.engine.begin() as conn:
        await conn.execute(update(tables.customers).values(email=None))
    await reply(rt, admin, ticket, "to nobody")
    [row] = await deliveries(rt)
    assert (row.status, row.last_error, row.to_addresses) == ("SUPPRESSED", "the customer has no email address", [])
    assert await MailSender(rt).send_due() == 0


async def test_a_header_value_with_cr_lf_never_produces_mail(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord, sink: MailSink
) -> None:
    ticket = await mail_ticket(rt, mailbox, "<i@mail.example.cn>")
    # The customer's name goes into To; a subject edited with a line break into Subject.
    async with rt.engine.begin() as conn:
        await conn.execute(update(tables.customers).values(name="Li\r\nBcc: victim@example.org"))
    comment_id = await reply(rt, admin, ticket, "hello")
    await MailSender(rt).send_due()
    async with rt.engine.begin() as conn:
        await conn.execute(update(tables.tickets).values(subject="Refund\r\nBcc: victim@example.org"))
    await reply(rt, admin, ticket, "again")
    first, second = await deliveries(rt)
    assert first.status == "FAILED" and "CR, LF" in first.last_error and first.comment_id == comment_id
    assert second.status == "FAILED" and "CR, LF" in second.last_error
    assert len(await events_of(rt, "EMAIL_FAILED")) == 2
    await asyncio.sleep(0.2)
    assert sink.messages == []


async def test_acknowledgement_is_auto_submitted_threaded_and_limited_to_three_an_hour(
    rt: Runtime, clock: ManualClock, admin: Actor, make_group: Callable[..., Awaitable[GroupRecord]], sink: MailSink
) -> None:
    template = (
        "{{customer.name}}，您好：我们已收到您的邮件（工单 #{{ticket.number}}：{{ticket.subject}}）。{{ticket.eta}}"
    )
    box = await make_mailbox(rt, admin, await make_group(), sink.port, acknowledgement_template=template)
    tickets = [
        await mail_ticket(
            rt, box, f"<ack-{i}@mail.example.cn>", customer_mail(f"<ack-{i}@mail.example.cn>", f"问题 {i}")
        )
        for i in range(4)
    ]
    rows = await deliveries(rt)
    assert [r.status for r in rows] == ["QUEUED", "QUEUED", "QUEUED", "SUPPRESSED"]
    assert "rate limit" in rows[3].last_error
    await MailSender(rt).send_due()
    mails = await arrived(sink, 3)
    first = mails[0]
    assert first.header("Auto-Submitted") == "auto-replied"
    assert first.in_reply_to == "<ack-0@mail.example.cn>"
    assert first.subject == f"Re: 问题 0 [#{tickets[0].number}]"
    assert (
        first.text.strip() == f"李雷，您好：我们已收到您的邮件（工单 #{tickets[0].number}：问题 0）。{{{{ticket.eta}}}}"
    )
    assert len(sink.messages) == 3

    clock.advance(timedelta(hours=1, seconds=1))
    await mail_ticket(rt, box, "<ack-5@mail.example.cn>")
    assert (await deliveries(rt))[-1].status == "QUEUED"


async def test_starttls_with_a_trusted_test_ca_and_refusal_of_an_untrusted_certificate(
    engine: AsyncEngine,
    settings: Settings,
    clock: ManualClock,
    admin: Actor,
    make_group: Callable[..., Awaitable[GroupRecord]],
    tmp_path: Path,
) -> None:
    certificate = make_certificate(tmp_path)
    trusting = Runtime(
        engine=engine, settings=settings.model_copy(update={"mail_ca_file": certificate.ca_file}), clock=clock
    )
    async with MailSink(tls=certificate.server_context()) as tls_sink:
        box = await make_mailbox(trusting, admin, await make_group(), tls_sink.port, MailSecurity.STARTTLS)
        ticket = await mail_ticket(trusting, box, "<tls@mail.example.cn>")
        await reply(trusting, admin, ticket, "over TLS")

        # Without the CA the certificate is refused: nothing sent, the error shown, retried later.
        await MailSender(Runtime(engine=engine, settings=settings, clock=clock)).send_due()
        [row] = await deliveries(trusting)
        assert (row.status, row.attempts) == ("QUEUED", 1)
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error or "certificate verify failed" in row.last_error
        assert tls_sink.messages == []

        clock.advance(RETRY_DELAYS[0])
        await MailSender(trusting).send_due()
        [mail] = await arrived(tls_sink, 1)
        assert mail.text.strip() == "over TLS"
        [row] = await deliveries(trusting)
        assert row.status == "SENT"
