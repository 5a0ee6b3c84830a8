"""The quarantine of inbound mail: messages that ingest REJECTED, kept so an operator can list
them, read their headers and run them through ingest again once the cause is fixed (a mailer's
defect worked around in a new release, a limit raised). `helpdesk mail quarantine` is its face.

A message is held until a retry takes it (any outcome but REJECTED); a retry that is rejected
again keeps it held with the new reason. Retries go through `ingest_email_file`, the code every
message takes, so a message retried twice at once, or taken meanwhile by the fetcher, still makes
one ticket (its Message-ID is claimed once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from app.db import tables
from app.domain.email.parsing import RejectReason
from app.domain.enums import EmailIngestOutcome
from app.domain.errors import InvalidInput, NotFound
from app.services.email_ingest import IngestResult, ingest_email_file
from app.services.runtime import Runtime
from app.storage import IncomingFile

mq, mb = tables.mail_quarantine, tables.mailboxes
# Enough for any real header block; a message whose headers run on past this is cut there.
MAX_HEADER_BYTES = 64 * 1024
_HELD = or_(mq.c.retry_outcome.is_(None), mq.c.retry_outcome == EmailIngestOutcome.REJECTED.value)


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    id: int
    mailbox_address: str
    received_at: datetime
    size: int
    reason: str
    detail: str
    retried_at: datetime | None


_COLUMNS = (mq.c.id, mb.c.address, mq.c.received_at, mq.c.size, mq.c.reason, mq.c.detail, mq.c.retried_at)


async def held_messages(rt: Runtime) -> list[QuarantinedMessage]:
    """The messages still held, oldest first."""
    query = select(*_COLUMNS).join(mb, mb.c.id == mq.c.mailbox_id).where(_HELD).order_by(mq.c.received_at, mq.c.id)
    async with rt.reader.connect() as conn:
        return [QuarantinedMessage(*row) for row in await conn.execute(query)]


async def raw_headers(rt: Runtime, quarantine_id: int) -> bytes:
    """The stored message's header block (up to the blank line that ends it, at most
    MAX_HEADER_BYTES), as it came. NotFound for an id that was never quarantined."""
    sha256, _, _ = await _stored(rt, quarantine_id)
    head = b""
    async for chunk in rt.blobs.read(sha256):
        head += chunk
        if b"\n\n" in head or b"\r\n\r\n" in head or len(head) >= MAX_HEADER_BYTES:
            break
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[: min(ends)] if ends else head[:MAX_HEADER_BYTES]


async def retry(rt: Runtime, quarantine_id: int) -> IngestResult:
    """Runs the held message through ingest again, as the system (like the mailgate), and records
    `retried_at` and the outcome; a message rejected again keeps its place with the new reason
    and detail. NotFound for an unknown id; InvalidInput for a message no longer held (a retry
    took it) or one kept only in part (TOO_LARGE: only its first bytes were read)."""
    sha256, mailbox_id, reason = await _stored(rt, quarantine_id, held=True)
    if reason == RejectReason.TOO_LARGE:
        raise InvalidInput(
            "only the first bytes of a message over the size limit were kept: it cannot be retried; "
            "raise HELPDESK_MAX_EMAIL_BYTES and have it sent again",
            ["id"],
        )
    result = await ingest_email_file(rt, None, mailbox_id, _blob_file(rt, sha256), quarantine=False)
    values: dict[str, object] = {"retried_at": rt.clock.now(), "retry_outcome": result.outcome.value}
    if result.rejected is not None:
        values.update(reason=str(result.rejected.reason), detail=result.rejected.detail[:1000])
    async with rt.transaction() as tx:
        await tx.conn.execute(update(mq).where(mq.c.id == quarantine_id).values(**values))
    return result


async def _stored(rt: Runtime, quarantine_id: int, held: bool = False) -> tuple[str, int, str]:
    async with rt.reader.connect() as conn:
        row = (
            await conn.execute(
                select(mq.c.raw_sha256, mq.c.mailbox_id, mq.c.reason, mq.c.retry_outcome).where(
                    mq.c.id == quarantine_id
                )
            )
        ).first()
    if row is None:
        raise NotFound(f"no quarantined message {quarantine_id}", ["id"])
    if held and row.retry_outcome not in (None, EmailIngestOutcome.REJECTED.value):
        raise InvalidInput(f"message {quarantine_id} is no longer held: a retry took it ({row.retry_outcome})", ["id"])
    return row.raw_sha256, row.mailbox_id, row.reason


def _blob_file(rt: Runtime, sha256: str) -> IncomingFile:
    chunks = rt.blobs.read(sha256)

    async def read(size: int) -> bytes:
        return await anext(chunks, b"")

    return IncomingFile(filename="message.eml", content_type="message/rfc822", read=read)
