"""Reads of the mail outbox for the API: a comment's delivery."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import among, columns_for, to_records
from app.domain.records import EmailDeliveryRecord


async def deliveries_of_comments(conn: AsyncConnection, comment_ids: Sequence[int]) -> dict[int, EmailDeliveryRecord]:
    """Each comment's delivery (a unique index allows one per comment), in one statement."""
    d = tables.email_deliveries
    rows = await conn.execute(select(*columns_for(d, EmailDeliveryRecord)).where(among(d.c.comment_id, comment_ids)))
    return {record.comment_id: record for record in to_records(EmailDeliveryRecord, rows)}
