"""Large mail handed over as a stream (the upload, the mailgate's pipe): staged, parsed a piece at
a time, attachments decoded into their blobs whole and exact; a message over the limit is read
only up to it. (The memory it takes is measured by the email_ingest benchmark.)"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import tables
from app.domain.email.mailbox_settings import MailboxInput
from app.domain.enums import EmailIngestOutcome
from app.domain.records import GroupRecord, MailboxRecord
from app.services import mailboxes
from app.services.email_ingest import ingest_email_file
from app.services.runtime import Runtime
from app.storage import IncomingFile
from tests.conftest import Actor
from tests.fixtures.inbound_mail import SUPPORT
from tests.integration.test_email_ingest import mailgate
from tests.unit.email.mime import leaf, mail, multipart

Outcome = EmailIngestOutcome


@pytest.fixture
async def mailbox(rt: Runtime, admin: Actor, make_group: Callable[..., Awaitable[GroupRecord]]) -> MailboxRecord:
    group = await make_group("邮件客服")
    return await mailboxes.create_mailbox(rt, admin.principal, MailboxInput("Support", SUPPORT, group.id))


def stream(raw: bytes, piece: int = 64 * 1024) -> tuple[IncomingFile, list[int]]:
    """The message as a reader handing out at most `piece` bytes a call; the list records how much
    was read."""
    read_so_far = [0]

    async def read(size: int) -> bytes:
        chunk = raw[read_so_far[0] : read_so_far[0] + min(size, piece)]
        read_so_far[0] += len(chunk)
        return chunk

    return IncomingFile("message.eml", "message/rfc822", read), read_so_far


def with_files(message_id: str, *files: tuple[str, bytes, str]) -> bytes:
    body = leaf('text/plain; charset="utf-8"', "Scans attached / 扫描件见附件".encode(), cte="quoted-printable")
    parts = [
        leaf(
            f'application/octet-stream; name="{name}"',
            data,
            cte=cte,
            headers=[f'Content-Disposition: attachment; filename="{name}"'],
        )
        for name, data, cte in files
    ]
    return mail(multipart("mixed", [body, *parts]), f"To: {SUPPORT}", "Subject: scans", f"Message-ID: {message_id}")


async def test_a_large_streamed_message_keeps_every_attachment_exact(rt: Runtime, mailbox: MailboxRecord) -> None:
    big, small = os.urandom(6 * 1024 * 1024 + 17), "收据 receipt\r\n".encode() * 500
    raw = with_files("<scan@mail.example.cn>", ("scan.bin", big, "base64"), ("note.txt", small, "quoted-printable"))
    upload, read = stream(raw)
    result = await ingest_email_file(rt, None, mailbox.id, upload)
    assert result.outcome is Outcome.CREATED_TICKET and result.ticket is not None
    assert read[0] == len(raw)
    async with rt.engine.connect() as conn:
        stored = (await conn.execute(select(tables.attachments.c.filename, tables.attachments.c.sha256))).all()
        raw_sha = await conn.scalar(select(tables.inbound_messages.c.raw_sha256))
    assert sorted(stored) == [
        ("note.txt", hashlib.sha256(small).hexdigest()),
        ("scan.bin", hashlib.sha256(big).hexdigest()),
    ]
    assert raw_sha == hashlib.sha256(raw).hexdigest()
    kept = hashlib.sha256()
    async for chunk in rt.blobs.read(hashlib.sha256(big).hexdigest()):
        kept.update(chunk)
    assert kept.hexdigest() == hashlib.sha256(big).hexdigest()


async def test_a_streamed_message_over_the_limit_is_read_only_up_to_it(rt: Runtime, mailbox: MailboxRecord) -> None:
    small = Runtime(engine=rt.engine, settings=rt.settings.model_copy(update={"max_email_bytes": 100_000}))
    raw = with_files("<big@mail.example.cn>", ("big.bin", os.urandom(1_000_000), "base64"))
    upload, read = stream(raw)
    result = await ingest_email_file(small, None, mailbox.id, upload)
    assert result.outcome is Outcome.REJECTED and result.rejected is not None
    assert str(result.rejected.reason) == "TOO_LARGE"
    assert read[0] == 100_001  # one byte past the limit, and not one more
    async with rt.engine.connect() as conn:
        held = (await conn.execute(select(tables.mail_quarantine))).one()
    assert (held.reason, held.size) == ("TOO_LARGE", 100_001)


async def test_the_mailgate_takes_a_large_message_and_rejects_one_over_the_limit(
    rt: Runtime, mailbox: MailboxRecord, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment = os.urandom(3 * 1024 * 1024)
    raw = with_files("<piped-big@mail.example.cn>", ("photo.jpg", attachment, "base64"))
    taken = await asyncio.to_thread(mailgate, database_url, raw, tmp_path)
    assert taken.returncode == 0 and b"CREATED_TICKET" in taken.stdout, taken.stderr.decode()

    monkeypatch.setenv("HELPDESK_MAX_EMAIL_BYTES", "200000")
    over = await asyncio.to_thread(mailgate, database_url, raw.replace(b"piped-big", b"piped-over"), tmp_path)
    assert over.returncode == 0 and b"REJECTED" in over.stdout, over.stderr.decode()
    async with rt.engine.connect() as conn:
        sizes = (await conn.execute(select(tables.attachments.c.size))).scalars().all()
        held = (await conn.execute(select(tables.mail_quarantine.c.reason, tables.mail_quarantine.c.size))).all()
    assert sizes == [len(attachment)] and held == [("TOO_LARGE", 200_001)]
