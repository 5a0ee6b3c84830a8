"""The mail sender across processes: several `helpdesk worker` processes on one outbox send every
delivery exactly once and in order per ticket; a worker killed while the server holds its
message leaves nothing lost (that one message is sent again, with its Message-ID).

The workers run against a database of their own, so no other test's server joins in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.db.engine import create_engine
from app.demo.mail_sink import CapturedMail, MailSink
from app.domain.email.mailbox_settings import MailboxInput, SmtpInput
from app.domain.enums import AgentRole, CommentVisibility, MailSecurity
from app.domain.principal import Principal
from app.services import agents as agent_service
from app.services import auth as auth_service
from app.services import conversation, mailboxes
from app.services.email_ingest import ingest_email
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.faults.harness import helpdesk_command
from tests.fixtures.inbound_mail import SUPPORT, customer_mail
from tests.support import ROOT, own_test_database

PASSWORD = "sender-race-password-1"
BOUND = 120.0  # seconds for every delivery to be settled on a loaded machine


@pytest.fixture
def own_database() -> Iterator[str]:
    yield from own_test_database()


@asynccontextmanager
async def runtime(url: str) -> AsyncIterator[Runtime]:
    engine = create_engine(url, pool_size=4, max_overflow=4)
    try:
        yield Runtime(engine=engine, settings=Settings(database_url=url, log_json=False, secret_key=TEST_SECRET_KEY))
    finally:
        await engine.dispose()


async def admin(rt: Runtime) -> Principal:
    email = "sender.admin@example.com"
    await agent_service.create_agent(
        rt, None, agent_service.NewAgent(name="Ada", email=email, password=PASSWORD, role=AgentRole.ADMIN)
    )
    principal = await auth_service.authenticate(rt, (await auth_service.login(rt, email, PASSWORD, None)).token)
    assert principal is not None
    return principal


async def queue_replies(rt: Runtime, who: Principal, port: int, tickets: int, per_ticket: int) -> dict[int, list[str]]:
    """`tickets` mail tickets with `per_ticket` PUBLIC replies each; the replies' texts by ticket."""
    smtp = SmtpInput("127.0.0.1", port, MailSecurity.NONE)
    box = await mailboxes.create_mailbox(rt, who, MailboxInput("Support", SUPPORT, smtp=smtp))
    texts: dict[int, list[str]] = {}
    for t in range(tickets):
        raw = customer_mail(f"<race-{t}@mail.example.cn>", f"问题 {t}", sender=f"customer{t}@example.cn")
        ticket = (await ingest_email(rt, None, box.id, raw)).ticket
        assert ticket is not None
        texts[ticket.number] = [f"ticket {ticket.number} reply {r}" for r in range(per_ticket)]
        for body in texts[ticket.number]:
            await conversation.add_comment(rt, who, ticket.id, body, CommentVisibility.PUBLIC)
    return texts


@contextmanager
def workers(url: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `helpdesk worker` processes (stopped, or killed, at the end)."""
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-senders-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HELPDESK_DATA_DIR": str(folder),
        "HELPDESK_SECRET_KEY": TEST_SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    command = helpdesk_command()
    processes = []
    for i in range(count):
        with (folder / f"worker-{i}.log").open("wb") as out:
            processes.append(subprocess.Popen([*command, "worker"], cwd=ROOT, env=env, stdout=out, stderr=out))
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def all_settled(rt: Runtime) -> None:
    d = tables.email_deliveries
    async with asyncio.timeout(BOUND):
        while True:
            async with rt.engine.connect() as conn:
                queued = await conn.scalar(select(func.count()).select_from(d).where(d.c.status != "SENT"))
            if queued == 0:
                return
            await asyncio.sleep(0.1)


async def sent_ids(rt: Runtime) -> set[str]:
    d = tables.email_deliveries
    async with rt.engine.connect() as conn:
        return set((await conn.execute(select(d.c.message_id).where(d.c.status == "SENT"))).scalars())


def by_ticket(mails: list[CapturedMail]) -> dict[int, list[str]]:
    received: dict[int, list[str]] = defaultdict(list)
    for mail in mails:
        number = int(mail.subject.rsplit("[#", 1)[1].rstrip("]"))
        received[number].append(mail.text.strip())
    return dict(received)


async def test_three_workers_send_fifty_deliveries_each_exactly_once_in_order_per_ticket(own_database: str) -> None:
    async with runtime(own_database) as rt, MailSink() as sink:
        texts = await queue_replies(rt, await admin(rt), sink.port, tickets=10, per_ticket=5)
        with workers(own_database, 3):
            await all_settled(rt)
        ids = [m.message_id for m in sink.messages]
        assert len(ids) == 50 and set(ids) == await sent_ids(rt)
        assert Counter(ids).most_common(1)[0][1] == 1
        assert by_ticket(sink.messages) == texts


async def test_a_worker_killed_while_the_server_holds_its_message_loses_nothing(own_database: str) -> None:
    async with runtime(own_database) as rt, MailSink() as sink:
        texts = await queue_replies(rt, await admin(rt), sink.port, tickets=4, per_ticket=5)
        sink.pause()
        with workers(own_database, 1) as [first]:
            async with asyncio.timeout(BOUND):
                [in_flight] = await sink.wait_for(1)
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 30)
        sink.resume()
        with workers(own_database, 1):
            await all_settled(rt)
        counts = Counter(m.message_id for m in sink.messages)
        assert set(counts) == await sent_ids(rt) and len(counts) == 20
        # The server had it, the killed worker never heard back: sent again, the same message.
        assert counts[in_flight.message_id] == 2
        assert sum(counts.values()) == 21
        received = by_ticket(sink.messages)
        assert {n: list(dict.fromkeys(r)) for n, r in received.items()} == texts
