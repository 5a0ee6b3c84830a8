"""Reads of mailboxes (never their passwords)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import among, by_id, columns_for, to_records
from app.domain.records import MailboxRecord

mb = tables.mailboxes
MAILBOX_COLUMNS = columns_for(mb, MailboxRecord)


async def all_mailboxes(conn: AsyncConnection) -> list[MailboxRecord]:
    rows = await conn.execute(select(*MAILBOX_COLUMNS).order_by(func.lower(mb.c.address)))
    return to_records(MailboxRecord, rows)


async def mailboxes_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, MailboxRecord]:
    rows = await conn.execute(select(*MAILBOX_COLUMNS).where(among(mb.c.id, ids)))
    return by_id(to_records(MailboxRecord, rows))


async def mailbox_by_address(conn: AsyncConnection, address: str) -> MailboxRecord | None:
    row = (await conn.execute(select(*MAILBOX_COLUMNS).where(func.lower(mb.c.address) == address.lower()))).first()
    return MailboxRecord(*row) if row else None


async def message_taken(conn: AsyncConnection, message_id: str) -> bool:
    """Whether any mailbox took a message with this Message-ID."""
    im = tables.inbound_messages
    return bool(await conn.scalar(select(select(im.c.id).where(im.c.message_id == message_id).exists())))
