"""Reads of webhooks (never their secrets) and of their delivery log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import among, by_id, columns_for, to_records
from app.domain.records import WebhookDeliveryRecord, WebhookRecord

wh, wd = tables.webhooks, tables.webhook_deliveries
WEBHOOK_COLUMNS = columns_for(wh, WebhookRecord)
DELIVERY_COLUMNS = columns_for(wd, WebhookDeliveryRecord)


async def all_webhooks(conn: AsyncConnection) -> list[WebhookRecord]:
    rows = await conn.execute(select(*WEBHOOK_COLUMNS).order_by(func.lower(wh.c.name), wh.c.id))
    return to_records(WebhookRecord, rows)


async def webhooks_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, WebhookRecord]:
    rows = await conn.execute(select(*WEBHOOK_COLUMNS).where(among(wh.c.id, ids)))
    return by_id(to_records(WebhookRecord, rows))


async def deliveries_page(
    conn: AsyncConnection, webhook_id: int, status: str | None, before_id: int | None, limit: int
) -> list[WebhookDeliveryRecord]:
    """A webhook's deliveries, newest first, after the cursor (a delivery id)."""
    query = select(*DELIVERY_COLUMNS).where(wd.c.webhook_id == webhook_id)
    if status is not None:
        query = query.where(wd.c.status == status)
    if before_id is not None:
        query = query.where(wd.c.id < before_id)
    rows = await conn.execute(query.order_by(wd.c.id.desc()).limit(limit))
    return to_records(WebhookDeliveryRecord, rows)


async def count_deliveries(conn: AsyncConnection, webhook_id: int, status: str | None) -> int:
    query = select(func.count()).select_from(wd).where(wd.c.webhook_id == webhook_id)
    if status is not None:
        query = query.where(wd.c.status == status)
    return int(await conn.scalar(query) or 0)


async def delivery_by_id(conn: AsyncConnection, delivery_id: int) -> WebhookDeliveryRecord | None:
    row = (await conn.execute(select(*DELIVERY_COLUMNS).where(wd.c.id == delivery_id))).first()
    return WebhookDeliveryRecord(*row) if row else None
