"""Webhooks: partner URLs that receive ticket events (admins only). The signing secret is
generated here, returned only at creation and rotation, and stored encrypted (app.auth.secrets):
the deliverer must read it back to sign."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, require
from app.auth.secrets import SecretKeyMissing, secret_box
from app.db import tables
from app.db.repositories import webhooks as reads
from app.db.repositories.rows import among
from app.domain.enums import WebhookDeliveryStatus
from app.domain.errors import InvalidInput, NotFound, PreconditionFailed
from app.domain.principal import Principal
from app.domain.records import WebhookDeliveryRecord, WebhookRecord
from app.domain.webhooks.settings import CleanWebhook, WebhookInput, clean_webhook
from app.services.runtime import Runtime
from app.services.webhook_targets import TargetRefused, checked_target

wh, wd, g = tables.webhooks, tables.webhook_deliveries, tables.groups
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True, slots=True)
class WebhookWithSecret:
    webhook: WebhookRecord
    # Only at creation and rotation.
    secret: str | None = None


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _encrypted(rt: Runtime, secret: str) -> str:
    try:
        return secret_box(rt.settings).encrypt(secret)
    except SecretKeyMissing as missing:
        raise PreconditionFailed(str(missing), ["input"]) from None


async def _checked(rt: Runtime, data: WebhookInput) -> CleanWebhook:
    """Settings that are well formed and a URL whose host resolves to public addresses only."""
    clean = clean_webhook(data)
    try:
        await checked_target(clean.endpoint, rt.settings.webhook_allow_private)
    except TargetRefused as refused:
        raise InvalidInput(f"is refused: {refused}", ["input", "url"]) from None
    return clean


async def _require_groups(conn: AsyncConnection, group_ids: list[int]) -> None:
    if not group_ids:
        return
    found = set((await conn.execute(select(g.c.id).where(among(g.c.id, group_ids)))).scalars())
    for index, group_id in enumerate(group_ids):
        if group_id not in found:
            raise NotFound("no such group", ["input", "groupIds", str(index)])


def _columns(clean: CleanWebhook) -> dict[str, Any]:
    return {
        "name": clean.name,
        "url": clean.endpoint.url,
        "enabled": clean.enabled,
        "event_types": clean.event_types,
        "group_ids": clean.group_ids,
    }


async def create_webhook(rt: Runtime, principal: Principal, data: WebhookInput) -> WebhookWithSecret:
    require(principal, Action.MANAGE_WEBHOOKS)
    clean = await _checked(rt, data)
    secret = _new_secret()
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await _require_groups(tx.conn, clean.group_ids)
        row = (
            await tx.conn.execute(
                insert(wh)
                .values(**_columns(clean), secret_encrypted=_encrypted(rt, secret), created_at=now, updated_at=now)
                .returning(*reads.WEBHOOK_COLUMNS)
            )
        ).one()
    return WebhookWithSecret(WebhookRecord(*row), secret)


async def update_webhook(rt: Runtime, principal: Principal, webhook_id: int, data: WebhookInput) -> WebhookRecord:
    """Replaces the settings. Enabling a webhook that failures disabled starts its count afresh;
    its queued deliveries go out again."""
    require(principal, Action.MANAGE_WEBHOOKS)
    clean = await _checked(rt, data)
    values = _columns(clean)
    if clean.enabled:
        values.update(disabled_at=None, consecutive_failures=0)
    async with rt.transaction() as tx:
        await _require_groups(tx.conn, clean.group_ids)
        row = (
            await tx.conn.execute(
                update(wh)
                .where(wh.c.id == webhook_id)
                .values(**values, updated_at=rt.clock.now())
                .returning(*reads.WEBHOOK_COLUMNS)
            )
        ).first()
    if row is None:
        raise NotFound("no such webhook", ["id"])
    return WebhookRecord(*row)


async def delete_webhook(rt: Runtime, principal: Principal, webhook_id: int) -> None:
    """Its delivery log goes with it; nothing more is sent."""
    require(principal, Action.MANAGE_WEBHOOKS)
    async with rt.transaction() as tx:
        deleted = await tx.conn.scalar(delete(wh).where(wh.c.id == webhook_id).returning(wh.c.id))
    if deleted is None:
        raise NotFound("no such webhook", ["id"])


async def rotate_webhook_secret(rt: Runtime, principal: Principal, webhook_id: int) -> WebhookWithSecret:
    """A new secret signs every attempt from now on, queued retries included."""
    require(principal, Action.MANAGE_WEBHOOKS)
    secret = _new_secret()
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(wh)
                .where(wh.c.id == webhook_id)
                .values(secret_encrypted=_encrypted(rt, secret), updated_at=rt.clock.now())
                .returning(*reads.WEBHOOK_COLUMNS)
            )
        ).first()
    if row is None:
        raise NotFound("no such webhook", ["id"])
    return WebhookWithSecret(WebhookRecord(*row), secret)


async def redeliver(rt: Runtime, principal: Principal, delivery_id: int) -> WebhookDeliveryRecord:
    """Queues the delivery again, due now, with the same body and event id (receivers dedupe).
    It keeps its place in its ticket's order: later deliveries of the ticket wait for it."""
    require(principal, Action.MANAGE_WEBHOOKS)
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(wd)
                .where(wd.c.id == delivery_id)
                .values(
                    status=WebhookDeliveryStatus.PENDING.value,
                    next_attempt_at=rt.clock.now(),
                    updated_at=rt.clock.now(),
                )
                .returning(*reads.DELIVERY_COLUMNS)
            )
        ).first()
    if row is None:
        raise NotFound("no such webhook delivery", ["id"])
    return WebhookDeliveryRecord(*row)


async def list_webhooks(rt: Runtime, principal: Principal) -> list[WebhookRecord]:
    require(principal, Action.MANAGE_WEBHOOKS)
    async with rt.reader.connect() as conn:
        return await reads.all_webhooks(conn)


async def webhooks_for(rt: Runtime, ids: list[int]) -> dict[int, WebhookRecord]:
    async with rt.reader.connect() as conn:
        return await reads.webhooks_by_ids(conn, ids)


async def deliveries(
    rt: Runtime, webhook_id: int, status: WebhookDeliveryStatus | None, before_id: int | None, limit: int
) -> tuple[list[WebhookDeliveryRecord], int]:
    """A page of the delivery log, newest first, and how many deliveries match in all."""
    value = status.value if status is not None else None
    async with rt.reader.connect() as conn:
        page = await reads.deliveries_page(conn, webhook_id, value, before_id, limit)
        total = await reads.count_deliveries(conn, webhook_id, value)
    return page, total


async def delivery(rt: Runtime, delivery_id: int) -> WebhookDeliveryRecord | None:
    async with rt.reader.connect() as conn:
        return await reads.delivery_by_id(conn, delivery_id)
