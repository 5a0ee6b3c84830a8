"""`helpdesk mail quarantine` as an operator runs it: a process against the test database,
listing the held messages, showing one's headers, retrying (once, whatever the races)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from app.db import tables
from app.domain.email.mailbox_settings import MailboxInput
from app.domain.enums import EmailIngestOutcome
from app.domain.records import GroupRecord, MailboxRecord
from app.services import mailboxes
from app.services.email_ingest import ingest_email
from app.services.runtime import Runtime
from app.storage import IncomingFile
from tests.conftest import TEST_SECRET_KEY, Actor
from tests.fixtures.inbound_mail import MALFORMED, SUPPORT, customer_mail

mq = tables.mail_quarantine


@pytest.fixture
async def mailbox(rt: Runtime, admin: Actor, make_group: Callable[..., Awaitable[GroupRecord]]) -> MailboxRecord:
    group = await make_group("邮件客服")
    return await mailboxes.create_mailbox(rt, admin.principal, MailboxInput("Support", SUPPORT, group.id))


def quarantine(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "helpdesk"
    # HELPDESK_DATA_DIR is inherited: the command reads the blobs this test process stored.
    env = {**os.environ, "DATABASE_URL": database_url, "HELPDESK_SECRET_KEY": TEST_SECRET_KEY}
    return subprocess.run(
        [str(script), "mail", "quarantine", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def held_as_if_rejected(rt: Runtime, mailbox: MailboxRecord, raw: bytes, reason: str = "MALFORMED") -> int:
    """A message an earlier release rejected (a parser defect since fixed): stored and held."""
    buffer = io.BytesIO(raw)

    async def read(size: int) -> bytes:
        return buffer.read(size)

    staged = await rt.blobs.stage(IncomingFile("message.eml", "message/rfc822", read), len(raw), ["message"])
    async with rt.transaction() as tx:
        await rt.blobs.publish(staged)
        row = {"mailbox_id": mailbox.id, "raw_sha256": staged.file.sha256, "size": len(raw), "reason": reason}
        return int(await tx.conn.scalar(insert(mq).values(**row, detail="unreadable MIME message").returning(mq.c.id)))


async def count(rt: Runtime, table: object) -> int:
    async with rt.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def test_held_messages_are_listed_and_a_retry_takes_one_and_keeps_the_other(
    rt: Runtime, mailbox: MailboxRecord, database_url: str
) -> None:
    assert (await ingest_email(rt, None, mailbox.id, MALFORMED)).outcome is EmailIngestOutcome.REJECTED
    async with rt.engine.connect() as conn:
        bad = int(await conn.scalar(select(mq.c.id)) or 0)
    good = await held_as_if_rejected(rt, mailbox, customer_mail("<held@mail.example.cn>"))

    listed = await asyncio.to_thread(quarantine, database_url)
    assert listed.returncode == 0, listed.stderr
    header, *rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert header == ["id", "mailbox", "received", "size", "reason", "detail", "retried"]
    assert [(r[0], r[1], r[3], r[4], r[6]) for r in rows] == [
        (str(bad), SUPPORT, str(len(MALFORMED)), "NO_SENDER", "-"),
        (str(good), SUPPORT, str(len(customer_mail("<held@mail.example.cn>"))), "MALFORMED", "-"),
    ]
    assert rows[0][5] == "no usable From address"

    shown = await asyncio.to_thread(quarantine, database_url, "--show", str(good))
    assert shown.returncode == 0 and "Message-ID: <held@mail.example.cn>" in shown.stdout
    assert "一直没有到" not in shown.stdout  # headers only

    taken = await asyncio.to_thread(quarantine, database_url, "--retry", str(good))
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.startswith(f"quarantine {good}: CREATED_TICKET ticket #")
    again = await asyncio.to_thread(quarantine, database_url, "--retry", str(bad))
    assert again.returncode == 1 and f"quarantine {bad}: REJECTED NO_SENDER" in again.stdout

    async with rt.engine.connect() as conn:
        rows_now = {r.id: r for r in await conn.execute(select(mq))}
        channel = await conn.scalar(select(tables.tickets.c.channel))
    assert channel == "EMAIL" and await count(rt, tables.tickets) == 1
    assert rows_now[good].retry_outcome == "CREATED_TICKET" and rows_now[good].retried_at is not None
    assert rows_now[bad].retry_outcome == "REJECTED" and rows_now[bad].retried_at is not None

    # Still held: the rejected one, with the reason of its last try; the taken one is gone.
    listed = await asyncio.to_thread(quarantine, database_url)
    (row,) = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert (row[0], row[4]) == (str(bad), "NO_SENDER") and row[6] != "-"


async def test_a_retry_after_a_retry_took_the_message_and_an_unknown_id_exit_1(
    rt: Runtime, mailbox: MailboxRecord, database_url: str
) -> None:
    held = await held_as_if_rejected(rt, mailbox, customer_mail("<once@mail.example.cn>"))
    assert (await asyncio.to_thread(quarantine, database_url, "--retry", str(held))).returncode == 0
    second = await asyncio.to_thread(quarantine, database_url, "--retry", str(held))
    assert second.returncode == 1 and "no longer held" in second.stderr
    unknown = await asyncio.to_thread(quarantine, database_url, "--retry", str(held + 1000))
    assert unknown.returncode == 1 and f"no quarantined message {held + 1000}" in unknown.stderr
    shown = await asyncio.to_thread(quarantine, database_url, "--show", str(held + 1000))
    assert shown.returncode == 1
    assert await count(rt, tables.tickets) == 1


async def test_a_message_kept_only_in_part_is_not_retried(
    rt: Runtime, mailbox: MailboxRecord, database_url: str
) -> None:
    small = Runtime(engine=rt.engine, settings=rt.settings.model_copy(update={"max_email_bytes": 300}))
    raw = customer_mail("<huge@mail.example.cn>") + b"x" * 5000
    result = await ingest_email(small, None, mailbox.id, raw)
    assert result.outcome is EmailIngestOutcome.REJECTED
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(mq))).one()
    assert (row.reason, row.size) == ("TOO_LARGE", 301)  # the limit + 1 bytes, not the whole
    refused = await asyncio.to_thread(quarantine, database_url, "--retry", str(row.id))
    assert refused.returncode == 1 and "cannot be retried" in refused.stderr
    assert await count(rt, tables.tickets) == 0


async def test_retries_raced_from_four_processes_take_the_message_once(
    rt: Runtime, mailbox: MailboxRecord, database_url: str
) -> None:
    held = await held_as_if_rejected(rt, mailbox, customer_mail("<raced@mail.example.cn>"))
    done = await asyncio.gather(*(asyncio.to_thread(quarantine, database_url, "--retry", str(held)) for _ in range(4)))
    outcomes = sorted(p.stdout.split(": ")[1].split()[0] if p.returncode == 0 else "not held" for p in done)
    assert outcomes.count("CREATED_TICKET") == 1, [(p.returncode, p.stdout, p.stderr) for p in done]
    assert set(outcomes) <= {"CREATED_TICKET", "DUPLICATE", "not held"}
    assert await count(rt, tables.tickets) == 1 and await count(rt, tables.inbound_messages) == 1
    async with rt.engine.connect() as conn:
        assert await conn.scalar(select(mq.c.retry_outcome)) in ("CREATED_TICKET", "DUPLICATE")
