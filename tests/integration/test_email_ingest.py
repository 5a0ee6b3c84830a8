"""Inbound mail through app.services.email_ingest on a real database: what each kind of message
becomes, threading, duplicates under concurrency, and the mailgate command as a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.db import tables
from app.domain.email.mailbox_settings import MailboxInput
from app.domain.enums import EmailIngestOutcome, TicketStatus
from app.domain.lifecycle import Action
from app.domain.principal import Principal
from app.domain.records import GroupRecord, MailboxRecord
from app.services import lifecycle, mailboxes
from app.services.attachments import sweep_unreferenced_blobs
from app.services.email_ingest import ingest_email
from app.services.runtime import Runtime
from app.storage import LocalBlobStore
from tests.conftest import TEST_SECRET_KEY, Actor
from tests.fixtures.inbound_mail import (
    CUSTOMER,
    MALFORMED,
    RECEIPT,
    SUPPORT,
    customer_mail,
    gbk_mail_with_attachment,
    out_of_office,
    permanent_bounce,
    reply_to,
)

Outcome = EmailIngestOutcome


@pytest.fixture
async def mailbox(rt: Runtime, admin: Actor, make_group: Callable[..., Awaitable[GroupRecord]]) -> MailboxRecord:
    group = await make_group("邮件客服")
    return await mailboxes.create_mailbox(rt, admin.principal, MailboxInput("Support", SUPPORT, group.id))


async def count(rt: Runtime, table: Any) -> int:
    async with rt.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def move(rt: Runtime, who: Principal, ticket_id: int, *actions: Action) -> None:
    for action in actions:
        await lifecycle.transition(rt, who, ticket_id, action, resolution="Refunded.")


async def test_a_new_message_opens_an_email_ticket_in_the_mailboxs_group(rt: Runtime, mailbox: MailboxRecord) -> None:
    result = await ingest_email(rt, None, mailbox.id, customer_mail("<first@mail.example.cn>"))
    assert result.outcome is Outcome.CREATED_TICKET and result.ticket is not None
    ticket = result.ticket
    assert (ticket.channel, ticket.group_id, ticket.mailbox_id) == ("EMAIL", mailbox.group_id, mailbox.id)
    assert ticket.subject == "订单 SO-1001 没有收到" and "一直没有到" in ticket.description
    async with rt.engine.connect() as conn:
        email, name = (await conn.execute(select(tables.customers.c.email, tables.customers.c.name))).one()
        taken = (await conn.execute(select(tables.inbound_messages))).one()
    assert (email, name) == (CUSTOMER.lower(), "李雷")
    assert (taken.message_id, taken.outcome, taken.ticket_id) == (
        "<first@mail.example.cn>",
        "CREATED_TICKET",
        ticket.id,
    )


async def test_ten_concurrent_copies_of_one_message_make_one_ticket(rt: Runtime, mailbox: MailboxRecord) -> None:
    raw = customer_mail("<race@mail.example.cn>")
    results = await asyncio.gather(*(ingest_email(rt, None, mailbox.id, raw) for _ in range(10)))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["CREATED_TICKET"] + ["DUPLICATE"] * 9
    created = next(r.ticket for r in results if r.outcome is Outcome.CREATED_TICKET)
    assert created is not None
    # Every duplicate names the ticket the first copy made.
    assert {r.ticket.id for r in results if r.ticket} == {created.id}
    assert await count(rt, tables.tickets) == 1
    assert await count(rt, tables.inbound_messages) == 1
    assert await count(rt, tables.customers) == 1


async def test_a_message_without_message_id_is_deduplicated_by_its_bytes(rt: Runtime, mailbox: MailboxRecord) -> None:
    raw = customer_mail("").replace(b"Message-ID: \r\n", b"")
    assert b"Message-ID" not in raw
    first = await ingest_email(rt, None, mailbox.id, raw)
    second = await ingest_email(rt, None, mailbox.id, raw)
    assert (first.outcome, second.outcome) == (Outcome.CREATED_TICKET, Outcome.DUPLICATE)
    assert await count(rt, tables.tickets) == 1


async def test_a_reply_lands_on_its_ticket_and_moves_pending_to_open(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord
) -> None:
    first = await ingest_email(rt, None, mailbox.id, customer_mail("<q1@mail.example.cn>"))
    assert first.ticket is not None
    await move(rt, admin.principal, first.ticket.id, Action.START, Action.SET_PENDING)

    reply = await ingest_email(rt, None, mailbox.id, reply_to("<q1@mail.example.cn>", "<q2@mail.example.cn>"))
    assert reply.outcome is Outcome.ADDED_REPLY
    assert reply.ticket is not None and reply.comment is not None
    assert reply.ticket.id == first.ticket.id and reply.ticket.status == TicketStatus.OPEN.value
    assert reply.comment.message_id == "<q2@mail.example.cn>"
    assert reply.comment.author_customer_id == first.ticket.customer_id
    assert reply.comment.body == "还是没有收到。"  # the quoted history trimmed

    # A reply to that reply is threaded through the comment's Message-ID.
    again = await ingest_email(rt, None, mailbox.id, reply_to("<q2@mail.example.cn>", "<q3@mail.example.cn>"))
    assert again.outcome is Outcome.ADDED_REPLY and again.ticket is not None
    assert again.ticket.id == first.ticket.id
    assert await count(rt, tables.tickets) == 1


async def test_a_resolved_ticket_is_reopened_by_a_reply(rt: Runtime, admin: Actor, mailbox: MailboxRecord) -> None:
    first = await ingest_email(rt, None, mailbox.id, customer_mail("<r1@mail.example.cn>"))
    assert first.ticket is not None
    await move(rt, admin.principal, first.ticket.id, Action.START, Action.RESOLVE)
    reply = await ingest_email(rt, None, mailbox.id, reply_to("<r1@mail.example.cn>", "<r2@mail.example.cn>"))
    assert reply.outcome is Outcome.ADDED_REPLY and reply.ticket is not None
    assert reply.ticket.status == TicketStatus.OPEN.value


async def test_a_reply_to_a_closed_ticket_opens_a_new_one_linked_related(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord
) -> None:
    first = await ingest_email(rt, None, mailbox.id, customer_mail("<c1@mail.example.cn>"))
    assert first.ticket is not None
    await move(rt, admin.principal, first.ticket.id, Action.START, Action.RESOLVE, Action.CLOSE)
    reply = await ingest_email(rt, None, mailbox.id, reply_to("<c1@mail.example.cn>", "<c2@mail.example.cn>"))
    assert reply.outcome is Outcome.CREATED_TICKET and reply.ticket is not None
    assert reply.ticket.id != first.ticket.id
    async with rt.engine.connect() as conn:
        links = (
            await conn.execute(
                select(
                    tables.ticket_links.c.ticket_id, tables.ticket_links.c.other_ticket_id, tables.ticket_links.c.kind
                )
            )
        ).all()
    assert links == [(reply.ticket.id, first.ticket.id, "RELATED")]


async def test_a_ticket_tag_counts_only_from_the_tickets_own_customer(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord
) -> None:
    first = await ingest_email(rt, None, mailbox.id, customer_mail("<t1@mail.example.cn>"))
    assert first.ticket is not None
    tag = f"Re: [#{first.ticket.number}] 订单"

    stranger = await ingest_email(
        rt, None, mailbox.id, customer_mail("<t2@mail.example.cn>", tag, sender="Mallory <mallory@example.net>")
    )
    assert stranger.outcome is Outcome.CREATED_TICKET and stranger.ticket is not None
    assert stranger.ticket.id != first.ticket.id

    own = await ingest_email(rt, None, mailbox.id, customer_mail("<t3@mail.example.cn>", tag))
    assert own.outcome is Outcome.ADDED_REPLY and own.ticket is not None and own.ticket.id == first.ticket.id
    async with rt.engine.connect() as conn:
        on_first = await conn.scalar(
            select(func.count()).select_from(tables.comments).where(tables.comments.c.ticket_id == first.ticket.id)
        )
    assert on_first == 1


async def test_an_out_of_office_is_recorded_and_changes_nothing(
    rt: Runtime, admin: Actor, mailbox: MailboxRecord
) -> None:
    first = await ingest_email(rt, None, mailbox.id, customer_mail("<o1@mail.example.cn>"))
    assert first.ticket is not None
    await move(rt, admin.principal, first.ticket.id, Action.START, Action.SET_PENDING)
    auto = await ingest_email(rt, None, mailbox.id, out_of_office("<o2@mail.example.cn>"))
    assert auto == type(auto)(Outcome.IGNORED_AUTO_REPLY)
    assert await count(rt, tables.tickets) == 1 and await count(rt, tables.comments) == 0
    async with rt.engine.connect() as conn:
        status = await conn.scalar(select(tables.tickets.c.status))
        outcomes = set(await conn.scalars(select(tables.inbound_messages.c.outcome)))
    assert status == "PENDING"
    assert outcomes == {"CREATED_TICKET", "IGNORED_AUTO_REPLY"}


async def test_a_permanent_bounce_marks_the_customer_and_opens_nothing(rt: Runtime, mailbox: MailboxRecord) -> None:
    await ingest_email(
        rt, None, mailbox.id, customer_mail("<n1@mail.example.cn>", sender="Nobody <Nobody@Example.com>")
    )
    await ingest_email(rt, None, mailbox.id, customer_mail("<n2@mail.example.cn>"))
    result = await ingest_email(rt, None, mailbox.id, permanent_bounce())
    assert result.outcome is Outcome.IGNORED_BOUNCE and result.ticket is None
    async with rt.engine.connect() as conn:
        marks = dict((await conn.execute(select(tables.customers.c.email, tables.customers.c.email_bounced_at))).all())
    assert marks["nobody@example.com"] is not None
    assert marks[CUSTOMER.lower()] is None
    assert await count(rt, tables.tickets) == 2 and await count(rt, tables.comments) == 0


async def test_a_malformed_message_is_quarantined_and_nothing_else(rt: Runtime, mailbox: MailboxRecord) -> None:
    result = await ingest_email(rt, None, mailbox.id, MALFORMED)
    assert result.outcome is Outcome.REJECTED
    async with rt.engine.connect() as conn:
        held = (await conn.execute(select(tables.mail_quarantine))).one()
    assert (held.mailbox_id, held.size, held.reason) == (mailbox.id, len(MALFORMED), "NO_SENDER")
    chunks = [chunk async for chunk in rt.blobs.read(held.raw_sha256)]
    assert b"".join(chunks) == MALFORMED
    for table in (tables.tickets, tables.customers, tables.inbound_messages):
        assert await count(rt, table) == 0


async def test_a_message_over_the_size_limit_is_rejected_unparsed(rt: Runtime, mailbox: MailboxRecord) -> None:
    small = Runtime(engine=rt.engine, settings=rt.settings.model_copy(update={"max_email_bytes": 200}))
    result = await ingest_email(small, None, mailbox.id, customer_mail("<big@mail.example.cn>") + b"x" * 500)
    assert result.outcome is Outcome.REJECTED
    async with rt.engine.connect() as conn:
        assert await conn.scalar(select(tables.mail_quarantine.c.reason)) == "TOO_LARGE"
    assert await count(rt, tables.tickets) == 0


# ---------------------------------------------------------------- mailgate, the CLI


def mailgate(
    database_url: str, raw: bytes, data_dir: Path, address: str = SUPPORT
) -> subprocess.CompletedProcess[bytes]:
    script = Path(sys.executable).parent / "helpdesk"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HELPDESK_SECRET_KEY": TEST_SECRET_KEY,
        "HELPDESK_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [str(script), "mailgate", "--mailbox", address], input=raw, env=env, capture_output=True, timeout=60
    )


async def test_mailgate_piped_twice_makes_one_ticket(
    rt: Runtime, mailbox: MailboxRecord, database_url: str, tmp_path: Path
) -> None:
    raw = customer_mail("<piped@mail.example.cn>")
    first = await asyncio.to_thread(mailgate, database_url, raw, tmp_path, SUPPORT.upper())
    second = await asyncio.to_thread(mailgate, database_url, raw, tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    assert second.returncode == 0, second.stderr.decode()
    assert b"CREATED_TICKET" in first.stdout and b"DUPLICATE" in second.stdout
    async with rt.engine.connect() as conn:
        channels = list(await conn.scalars(select(tables.tickets.c.channel)))
    assert channels == ["EMAIL"]
    rejected = await asyncio.to_thread(mailgate, database_url, MALFORMED, tmp_path)
    assert rejected.returncode == 0 and b"REJECTED" in rejected.stdout
    assert await count(rt, tables.mail_quarantine) == 1


async def test_mailgate_says_tempfail_when_the_database_is_unreachable(tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        mailgate, "postgresql://postgres@127.0.0.1:1/nowhere", customer_mail("<x@mail.example.cn>"), tmp_path
    )
    assert result.returncode == 75, result.stderr.decode()


async def test_mailgate_refuses_an_unknown_mailbox(database_url: str, tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        mailgate, database_url, customer_mail("<y@mail.example.cn>"), tmp_path, "nobody@example.cn"
    )
    assert result.returncode == 67


async def test_raw_mail_blobs_survive_the_sweep(rt: Runtime, mailbox: MailboxRecord, tmp_path: Path) -> None:
    own = Runtime(engine=rt.engine, settings=rt.settings, blobs=LocalBlobStore(tmp_path))
    await ingest_email(own, None, mailbox.id, customer_mail("<kept@mail.example.cn>"))
    await ingest_email(own, None, mailbox.id, MALFORMED)
    # Everything written before a minute from now is old enough: only references keep a blob.
    assert await sweep_unreferenced_blobs(own, older_than=timedelta(seconds=-60)) == 0
    async with rt.engine.connect() as conn:
        digests = set(
            await conn.scalars(
                text("SELECT raw_sha256 FROM inbound_messages UNION SELECT raw_sha256 FROM mail_quarantine")
            )
        )
    assert len(digests) == 2
    for digest in digests:
        assert [chunk async for chunk in own.blobs.read(digest)]


async def test_an_attachment_over_the_limit_is_left_out_and_named_in_the_text(
    rt: Runtime, mailbox: MailboxRecord
) -> None:
    small = Runtime(engine=rt.engine, settings=rt.settings.model_copy(update={"max_attachment_bytes": 10}))
    result = await ingest_email(small, None, mailbox.id, gbk_mail_with_attachment("<att@mail.example.cn>"))
    assert result.outcome is Outcome.CREATED_TICKET and result.ticket is not None
    assert f"[attachment 收据.pdf ({len(RECEIPT)} bytes) exceeded the size limit]" in result.ticket.description
    assert await count(rt, tables.attachments) == 0
