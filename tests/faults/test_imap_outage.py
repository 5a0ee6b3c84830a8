"""dovecot stopped in the middle of a fetch of many messages, then started again: every message
is taken exactly once, Mailbox.lastError says what happened while the server was down and is
cleared when it is back, and the fetcher recovers by itself."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.domain.email.mailbox_settings import ImapInput, MailboxInput
from app.domain.enums import MailSecurity
from app.services import mailboxes
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import Actor
from tests.dovecot import PrivateDovecot, private_dovecot
from tests.fixtures.inbound_mail import customer_mail
from tests.integration.test_imap_fetch import TAKEN, fetching, wait_for_async

pytestmark = pytest.mark.slow

TOTAL = 200
PASSWORD = "imap-outage"
BOUND = 90.0  # seconds: waiting bounds, never speed requirements


@pytest.fixture
def dovecot() -> Iterator[PrivateDovecot]:
    with private_dovecot({"support": PASSWORD}) as server:
        yield server


async def test_dovecot_stopped_mid_fetch_then_started_again_every_message_is_taken_once(
    rt: Runtime, admin: Actor, settings: Settings, dovecot: PrivateDovecot
) -> None:
    dovecot.deliver("support", [customer_mail(f"<outage-{i}@mail.example.cn>", f"订单 {i}") for i in range(TOTAL)])
    imap = ImapInput("127.0.0.1", dovecot.imap_port, MailSecurity.STARTTLS, "support", PASSWORD)
    mailbox = await mailboxes.create_mailbox(
        rt, admin.principal, MailboxInput("Support", f"outage-{uuid.uuid4().hex[:6]}@example.cn", imap=imap)
    )
    mb, im, t = tables.mailboxes, tables.inbound_messages, tables.tickets

    async def state() -> tuple[int, int, str | None]:
        async with rt.engine.connect() as conn:
            tickets = await conn.scalar(select(func.count()).select_from(t).where(t.c.mailbox_id == mailbox.id))
            taken = await conn.scalar(select(func.count()).select_from(im).where(im.c.mailbox_id == mailbox.id))
            error = await conn.scalar(select(mb.c.last_error).where(mb.c.id == mailbox.id))
            return int(tickets or 0), int(taken or 0), error

    fetcher_settings = settings.model_copy(update={"mail_poll_seconds": 0.3, "mail_ca_file": dovecot.ca_file})
    async with fetching(rt, fetcher_settings):

        async def under_way() -> bool:
            return (await state())[0] >= TOTAL // 10

        await wait_for_async(under_way, BOUND, interval=0.01)
        await asyncio.to_thread(dovecot.stop)

        async def shown() -> bool:
            return (await state())[2] is not None

        await wait_for_async(shown, BOUND)
        during, _, error = await state()
        assert error is not None and f"127.0.0.1:{dovecot.imap_port}" in error
        assert during < TOTAL, "the fetch finished before dovecot stopped: nothing was interrupted"

        await asyncio.to_thread(dovecot.start)

        async def recovered() -> bool:
            tickets, _, error = await state()
            return tickets == TOTAL and error is None

        await wait_for_async(recovered, BOUND)
        flags = await asyncio.to_thread(dovecot.flags, "support")
    assert len(flags) == TOTAL and all(f >= TAKEN for f in flags)
    assert await state() == (TOTAL, TOTAL, None)
    async with rt.engine.connect() as conn:
        outcomes = set((await conn.execute(select(im.c.outcome).where(im.c.mailbox_id == mailbox.id))).scalars())
    assert outcomes == {"CREATED_TICKET"}
