"""The IMAP fetcher against a private dovecot (no mock of IMAP): mail in the INBOX becomes
tickets exactly once, is flagged after it is taken, IDLE wakes the fetcher, failures show in
Mailbox.lastError and clear, STARTTLS and TLS against a private CA, and several `helpdesk`
processes on one mailbox take each message once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.domain.email.fetch_plan import TAKEN_KEYWORD
from app.domain.email.mailbox_settings import ImapInput, MailboxInput
from app.domain.enums import MailSecurity
from app.domain.records import MailboxRecord
from app.services import mailboxes
from app.services.mail_fetcher import MailFetcher
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import TEST_SECRET_KEY, Actor
from tests.dovecot import PrivateDovecot, private_dovecot
from tests.fixtures.inbound_mail import RECEIPT, customer_mail, gbk_mail_with_attachment
from tests.processes import running_servers

PASSWORD = "imap-Geheimnis-4711"
TAKEN = {"\\Seen", TAKEN_KEYWORD}
WAIT = 20.0  # seconds: a bound on waiting for the fetcher, never a speed requirement


@pytest.fixture(scope="module")
def dovecot() -> Iterator[PrivateDovecot]:
    with private_dovecot() as server:
        yield server


@pytest.fixture
def user(dovecot: PrivateDovecot) -> str:
    """A mail account (and Maildir) of this test alone."""
    name = f"support-{uuid.uuid4().hex[:8]}"
    dovecot.add_user(name, PASSWORD)
    return name


def mail_settings(settings: Settings, dovecot: PrivateDovecot, **changes: Any) -> Settings:
    return settings.model_copy(update={"mail_poll_seconds": 0.3, "mail_ca_file": dovecot.ca_file, **changes})


@asynccontextmanager
async def fetching(rt: Runtime, settings: Settings) -> AsyncIterator[Runtime]:
    """A MailFetcher running in this process with `settings`, stopped at the end."""
    fetcher_rt = Runtime(engine=rt.engine, settings=settings)
    task = asyncio.create_task(MailFetcher(fetcher_rt).run())
    try:
        yield fetcher_rt
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def imap_mailbox(
    rt: Runtime,
    admin: Actor,
    dovecot: PrivateDovecot,
    user: str,
    security: MailSecurity = MailSecurity.STARTTLS,
    password: str = PASSWORD,
) -> MailboxRecord:
    port = dovecot.imaps_port if security is MailSecurity.TLS else dovecot.imap_port
    imap = ImapInput("127.0.0.1", port, security, user, password)
    data = MailboxInput("Support", f"{user}@example.cn", imap=imap)
    return await mailboxes.create_mailbox(rt, admin.principal, data)


async def count(rt: Runtime, table: Any, *where: Any) -> int:
    async with rt.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def mailbox_row(rt: Runtime, mailbox_id: int) -> Any:
    async with rt.engine.connect() as conn:
        return (await conn.execute(select(tables.mailboxes).where(tables.mailboxes.c.id == mailbox_id))).one()


async def wait_until_count(rt: Runtime, table: Any, expected: int, within: float = WAIT) -> None:
    async def reached() -> bool:
        return await count(rt, table) >= expected

    await wait_for_async(reached, within)


async def wait_for_async(predicate: Any, within: float = WAIT, interval: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {within} s")
        await asyncio.sleep(interval)


def wait_for_sync(predicate: Any, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within} s")
        time.sleep(0.05)


def all_taken(dovecot: PrivateDovecot, user: str, expected: int) -> bool:
    flags = dovecot.flags(user)
    return len(flags) == expected and all(f >= TAKEN for f in flags)


async def test_a_gbk_mail_with_an_attachment_becomes_a_ticket_and_is_flagged(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    dovecot.deliver(user, [gbk_mail_with_attachment("<gbk-1@mail.example.cn>")])
    assert dovecot.flags(user) == [set()]
    mailbox = await imap_mailbox(rt, admin, dovecot, user)
    async with fetching(rt, mail_settings(settings, dovecot)):
        await wait_until_count(rt, tables.tickets, 1)
        await asyncio.to_thread(wait_for_sync, lambda: all_taken(dovecot, user, 1))
    async with rt.engine.connect() as conn:
        ticket = (await conn.execute(select(tables.tickets))).one()
        attachment = (await conn.execute(select(tables.attachments))).one()
    assert (ticket.channel, ticket.mailbox_id, ticket.subject) == ("EMAIL", mailbox.id, "退款没有到账")
    assert "退款还没有到账" in ticket.description
    assert (attachment.ticket_id, attachment.filename, attachment.size) == (ticket.id, "收据.pdf", len(RECEIPT))
    row = await mailbox_row(rt, mailbox.id)
    assert row.last_error is None and row.last_fetched_at is not None


async def test_a_message_unflagged_and_fetched_again_is_a_duplicate_and_makes_one_ticket(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    dovecot.deliver(user, [customer_mail("<again@mail.example.cn>")])
    mailbox = await imap_mailbox(rt, admin, dovecot, user)
    async with fetching(rt, mail_settings(settings, dovecot)):
        await asyncio.to_thread(wait_for_sync, lambda: all_taken(dovecot, user, 1))
        # As if the fetcher had died after ingesting and before flagging.
        dovecot.unflag_all(user)
        await asyncio.to_thread(wait_for_sync, lambda: all_taken(dovecot, user, 1))
    assert await count(rt, tables.tickets) == 1
    async with rt.engine.connect() as conn:
        outcomes = (await conn.execute(select(tables.inbound_messages.c.outcome))).scalars().all()
    assert outcomes == ["CREATED_TICKET"]
    assert (await mailbox_row(rt, mailbox.id)).last_error is None


async def test_replies_fetched_with_the_messages_they_answer_thread_onto_them_in_mailbox_order(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    """Several messages are ingested at once; a reply must still wait for what it answers."""

    def reply(message_id: str, *answered: str) -> bytes:
        references = " ".join(answered)
        return customer_mail(message_id, "Re: 订单", f"In-Reply-To: {answered[-1]}", f"References: {references}")

    new = [f"<thread-{i}@mail.example.cn>" for i in range(8)]
    replies = ["<reply-1@mail.example.cn>", "<reply-2@mail.example.cn>", "<reply-3@mail.example.cn>"]
    batch = [
        customer_mail(new[0]),
        customer_mail(new[1], "订单 2"),
        reply(replies[0], new[0]),
        customer_mail(new[2], "订单 3"),
        reply(replies[1], new[0], replies[0]),
        customer_mail(new[3], "订单 4"),
        reply(replies[2], new[0]),
        *(customer_mail(m, f"订单 {i}") for i, m in enumerate(new[4:], 5)),
    ]
    dovecot.deliver(user, batch)
    await imap_mailbox(rt, admin, dovecot, user)
    async with fetching(rt, mail_settings(settings, dovecot)):
        await asyncio.to_thread(wait_for_sync, lambda: all_taken(dovecot, user, len(batch)))
    im, cm = tables.inbound_messages, tables.comments
    async with rt.engine.connect() as conn:
        outcomes = dict((await conn.execute(select(im.c.message_id, im.c.outcome))).all())
        first = (await conn.execute(select(im.c.ticket_id).where(im.c.message_id == new[0]))).scalar_one()
        on_first = (await conn.execute(select(cm.c.message_id).where(cm.c.ticket_id == first).order_by(cm.c.id))).all()
    assert outcomes == {**dict.fromkeys(new, "CREATED_TICKET"), **dict.fromkeys(replies, "ADDED_REPLY")}
    assert [row.message_id for row in on_first] == replies
    assert await count(rt, tables.tickets) == len(new)


async def test_idle_takes_a_message_appended_while_idling_without_waiting_for_the_poll(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    dovecot.deliver(user, [customer_mail("<idle-1@mail.example.cn>")])
    mailbox = await imap_mailbox(rt, admin, dovecot, user)
    # The fetcher's mailbox list is read at start; a poll every 10 minutes would miss the test.
    async with fetching(rt, mail_settings(settings, dovecot, mail_poll_seconds=600)):
        await wait_until_count(rt, tables.tickets, 1)

        async def fetched() -> bool:
            return (await mailbox_row(rt, mailbox.id)).last_fetched_at is not None

        await wait_for_async(fetched)
        await asyncio.sleep(0.3)  # into IDLE (a message that arrives before it is found at its start anyway)
        dovecot.deliver(user, [customer_mail("<idle-2@mail.example.cn>", "第二封")])
        await wait_until_count(rt, tables.tickets, 2, within=WAIT)
    assert all_taken(dovecot, user, 2)


@pytest.mark.parametrize("security", [MailSecurity.STARTTLS, MailSecurity.TLS])
async def test_starttls_and_implicit_tls_against_the_private_ca(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str, security: MailSecurity
) -> None:
    dovecot.deliver(user, [customer_mail(f"<{security.value}@mail.example.cn>")])
    mailbox = await imap_mailbox(rt, admin, dovecot, user, security)
    async with fetching(rt, mail_settings(settings, dovecot)):
        await wait_until_count(rt, tables.tickets, 1)
    assert (await mailbox_row(rt, mailbox.id)).last_error is None


async def test_a_certificate_from_an_unknown_ca_is_refused_and_shown(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    dovecot.deliver(user, [customer_mail("<untrusted@mail.example.cn>")])
    mailbox = await imap_mailbox(rt, admin, dovecot, user, MailSecurity.TLS)
    async with fetching(rt, mail_settings(settings, dovecot, mail_ca_file=None)):

        async def refused() -> bool:
            return (await mailbox_row(rt, mailbox.id)).last_error is not None

        await wait_for_async(refused)
    error = (await mailbox_row(rt, mailbox.id)).last_error
    assert "TLS" in error and "certificate" in error
    assert await count(rt, tables.tickets) == 0
    assert dovecot.flags(user) == [set()]


async def test_a_wrong_password_shows_in_last_error_and_fixing_it_clears_it(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    dovecot.deliver(user, [customer_mail("<login@mail.example.cn>")])
    mailbox = await imap_mailbox(rt, admin, dovecot, user, password="not-the-password")
    listed = await admin.client.run("console/admin/Mailboxes.graphql")
    mailbox_id = next(m["id"] for m in listed["mailboxes"])

    async def shown() -> dict[str, Any]:
        listed = (await admin.client.run("console/admin/Mailboxes.graphql"))["mailboxes"]
        return next(m for m in listed if m["id"] == mailbox_id)

    async with fetching(rt, mail_settings(settings, dovecot)):

        async def failing() -> bool:
            return (await shown())["lastError"] is not None

        await wait_for_async(failing)
        error = (await shown())["lastError"]
        assert "refused the login" in error and user in error and "not-the-password" not in error
        assert (await shown())["lastFetchedAt"] is None and await count(rt, tables.tickets) == 0

        await admin.client.mutate(
            "console/admin/UpdateMailbox.graphql",
            {
                "id": mailbox_id,
                "input": {
                    "name": "Support",
                    "address": mailbox.address,
                    "imap": {
                        "host": "127.0.0.1",
                        "port": dovecot.imap_port,
                        "security": "STARTTLS",
                        "username": user,
                        "password": PASSWORD,
                    },
                },
            },
        )

        async def cleared() -> bool:
            now = await shown()
            return now["lastError"] is None and now["lastFetchedAt"] is not None

        await wait_for_async(cleared)
        await wait_until_count(rt, tables.tickets, 1)


async def test_a_message_over_the_size_limit_is_rejected_without_being_downloaded_whole(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    limit = 4000
    big = customer_mail("<big@mail.example.cn>", "附件太大").replace(b"\r\n\r\n", b"\r\n\r\n" + b"x" * 20_000, 1)
    dovecot.deliver(user, [big, customer_mail("<small@mail.example.cn>")])
    await imap_mailbox(rt, admin, dovecot, user)
    async with fetching(rt, mail_settings(settings, dovecot, max_email_bytes=limit)):
        await asyncio.to_thread(wait_for_sync, lambda: all_taken(dovecot, user, 2))
    assert await count(rt, tables.tickets) == 1
    async with rt.engine.connect() as conn:
        quarantined = (await conn.execute(select(tables.mail_quarantine))).one()
    # What was handed to ingest: the headers and the start, one byte over the limit.
    assert (quarantined.reason, quarantined.size) == ("TOO_LARGE", limit + 1)


async def test_a_mailbox_disabled_while_running_is_no_longer_fetched(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot, user: str
) -> None:
    dovecot.deliver(user, [customer_mail("<before@mail.example.cn>")])
    mailbox = await imap_mailbox(rt, admin, dovecot, user)
    async with fetching(rt, mail_settings(settings, dovecot)) as fetcher_rt:
        await wait_until_count(rt, tables.tickets, 1)
        await mailboxes.update_mailbox(
            rt,
            admin.principal,
            mailbox.id,
            MailboxInput(
                "Support",
                mailbox.address,
                enabled=False,
                imap=ImapInput("127.0.0.1", dovecot.imap_port, MailSecurity.STARTTLS, user, PASSWORD),
            ),
        )
        await asyncio.sleep(fetcher_rt.settings.mail_poll_seconds * 4)
        dovecot.deliver(user, [customer_mail("<after@mail.example.cn>")])
        # Re-enabled: the waiting message is taken, so the wait above was long enough to matter.
        await asyncio.sleep(fetcher_rt.settings.mail_poll_seconds * 4)
        assert await count(rt, tables.tickets) == 1
        assert dovecot.flags(user)[1] == set()
        await mailboxes.update_mailbox(
            rt,
            admin.principal,
            mailbox.id,
            MailboxInput(
                "Support",
                mailbox.address,
                imap=ImapInput("127.0.0.1", dovecot.imap_port, MailSecurity.STARTTLS, user, PASSWORD),
            ),
        )
        await wait_until_count(rt, tables.tickets, 2)


async def test_three_processes_on_one_mailbox_take_each_message_exactly_once(
    database_url: str, rt: Runtime, admin: Actor, dovecot: PrivateDovecot, user: str, tmp_path: Path
) -> None:
    total = 60
    dovecot.deliver(user, [customer_mail(f"<p{i}@mail.example.cn>", f"订单 {i}") for i in range(total)])
    env = {
        "HELPDESK_MAIL_POLL_SECONDS": "0.2",
        "HELPDESK_MAIL_CA_FILE": str(dovecot.ca_file),
        "HELPDESK_SECRET_KEY": TEST_SECRET_KEY,
        "HELPDESK_RUN_SCHEDULER": "false",
    }
    with running_servers(database_url, 3, env, data_dir=tmp_path):
        # Created once all three are fetching: they race for the mailbox from the start.
        await imap_mailbox(rt, admin, dovecot, user)
        await asyncio.to_thread(wait_for_sync, lambda: all_taken(dovecot, user, total), 60)
    created = tables.inbound_messages.c.outcome == "CREATED_TICKET"
    assert await count(rt, tables.tickets) == total
    assert await count(rt, tables.inbound_messages) == total
    assert await count(rt, tables.inbound_messages, created) == total
