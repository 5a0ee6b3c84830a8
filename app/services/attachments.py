"""Files on tickets and comments: bytes stored first, rows and events in the change's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert

from app.db import tables
from app.db.repositories.rows import columns_for
from app.domain.enums import TicketEventType
from app.domain.records import AttachmentRecord, TicketRecord
from app.events.outbox import Outbox
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, record
from app.storage import IncomingFile, StoredFile

at = tables.attachments


async def store_uploads(rt: Runtime, uploads: Sequence[IncomingFile], field: list[str]) -> list[StoredFile]:
    """Stores the bytes before the transaction opens (content-addressed, so a rolled-back
    transaction leaves at most an unreferenced blob, never a row without its file)."""
    return [
        await rt.blobs.put(upload, rt.settings.max_attachment_bytes, [*field, str(i)])
        for i, upload in enumerate(uploads)
    ]


async def attach_files(
    tx: Outbox,
    ticket: TicketRecord,
    files: Sequence[StoredFile],
    comment_id: int | None,
    actor: Actor,
    now: datetime,
    *,
    internal: bool = False,
) -> list[AttachmentRecord]:
    """Rows and ATTACHMENT_ADDED events for stored files. A file on an INTERNAL note keeps its
    name out of the event, which travels to callers who may not read internal notes."""
    if not files:
        return []
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
            for f in files
        ],
    )
    records = [AttachmentRecord(*row) for row in rows]
    for a in records:
        data: dict[str, object] = {"attachmentId": a.id, "commentId": comment_id, "size": a.size}
        if not internal:
            data["filename"] = a.filename
        await record(tx, ticket, TicketEventType.ATTACHMENT_ADDED, actor, now, data)
    return records
