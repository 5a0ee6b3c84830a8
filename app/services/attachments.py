"""Files on tickets and comments: bytes staged first, published with the rows and events in the
change's transaction, so a refused or failed request leaves no bytes behind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from app.db import tables
from app.db.repositories.rows import columns_for
from app.domain.enums import TicketEventType
from app.domain.records import AttachmentRecord, TicketRecord
from app.events.outbox import Outbox
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, record
from app.storage import BlobStore, IncomingFile, StagedFile, StoredFile

at = tables.attachments
ORPHAN_AGE = timedelta(hours=1)


class StagedUploads:
    """A request's uploads, received and measured, waiting for the transaction that keeps them."""

    def __init__(self, blobs: BlobStore, staged: list[StagedFile]) -> None:
        self.blobs = blobs
        self.staged = staged

    @property
    def files(self) -> list[StoredFile]:
        return [s.file for s in self.staged]

    async def publish(self) -> None:
        for staged in self.staged:
            await self.blobs.publish(staged)


@asynccontextmanager
async def staged_uploads(
    rt: Runtime, uploads: Sequence[IncomingFile], field: list[str]
) -> AsyncIterator[StagedUploads]:
    """Receives every upload before the transaction opens (a file over the limit refuses the
    request before anything is locked). Call it only after the caller's permission and the
    target were checked; whatever is not published when the block ends is discarded, so a
    request refused half-way, or whose second file is too large, stores nothing."""
    staged: list[StagedFile] = []
    try:
        for i, upload in enumerate(uploads):
            staged.append(await rt.blobs.stage(upload, rt.settings.max_attachment_bytes, [*field, str(i)]))
        yield StagedUploads(rt.blobs, staged)
    finally:
        for s in staged:
            await rt.blobs.discard(s)  # nothing to do for the published ones


async def attach_files(
    tx: Outbox,
    ticket: TicketRecord,
    uploads: StagedUploads | None,
    comment_id: int | None,
    actor: Actor,
    now: datetime,
    *,
    internal: bool = False,
) -> list[AttachmentRecord]:
    """Publishes the staged bytes, then writes their rows and ATTACHMENT_ADDED events, in the
    change's transaction. A file on an INTERNAL note keeps its name out of the event, which
    travels to callers who may not read internal notes."""
    if uploads is None or not uploads.staged:
        return []
    # Bytes before rows: a committed row always finds its file. A commit that fails after this
    # leaves unreferenced bytes, which sweep_unreferenced_blobs removes.
    await uploads.publish()
    rows = await tx.conn.execute(
        insert(at).returning(*columns_for(at, AttachmentRecord)),
        [
            {
                "ticket_id": ticket.id,
                "comment_id": comment_id,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "uploaded_by_agent_id": actor.agent_id,
                "created_at": now,
            }
            for f in uploads.files
        ],
    )
    records = [AttachmentRecord(*row) for row in rows]
    for a in records:
        data: dict[str, object] = {"attachmentId": a.id, "commentId": comment_id, "size": a.size}
        if not internal:
            data["filename"] = a.filename
        await record(tx, ticket, TicketEventType.ATTACHMENT_ADDED, actor, now, data)
    return records


async def sweep_unreferenced_blobs(rt: Runtime, older_than: timedelta = ORPHAN_AGE) -> int:
    """Removes stored bytes that no attachment or inbound message references and that were written before
    `older_than` ago (and staged uploads abandoned as long ago). Safe beside uploads of the
    same bytes and beside other sweeping processes. Returns how many blobs were removed."""
    cutoff = (rt.clock.now() - older_than).timestamp()
    candidates = await rt.blobs.stored_before(cutoff)
    if not candidates:
        return 0
    async with rt.reader.connect() as conn:
        referenced: set[str] = set()
        # Raw inbound mail (kept for every message taken, and for the quarantine) is stored here too.
        for column in (at.c.sha256, tables.inbound_messages.c.raw_sha256, tables.mail_quarantine.c.raw_sha256):
            referenced.update(await conn.scalars(select(column).where(column.in_(candidates)).distinct()))
    removed = 0
    for sha256 in candidates:
        if sha256 not in referenced and await rt.blobs.remove_if_before(sha256, cutoff):
            removed += 1
    return removed
