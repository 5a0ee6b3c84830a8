"""Idempotency keys: a retried request gets the result of the first, whatever the races."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Insert, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.domain.errors import Duplicate
from app.domain.principal import Principal

ik = tables.idempotency_keys


def request_fingerprint(request: Any) -> str:
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


async def claim(
    conn: AsyncConnection, principal: Principal | None, scope: str, key: str, fingerprint: str
) -> int | None:
    """Serialises callers of one key (a transaction-scoped advisory lock), then returns the
    resource the key already made, if any. The lock is released at commit, after the key row
    is visible, so a racing retry always sees it. Reusing a key for another request is DUPLICATE.
    `principal` None: an anonymous caller, whom the scope itself must name (the web form's
    scope holds the email address)."""
    agent_id = principal.agent_id if principal is not None else None
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": orjson.dumps([scope, agent_id, key]).decode()},
    )
    row = (
        await conn.execute(
            select(ik.c.resource_id, ik.c.request_hash).where(
                ik.c.scope == scope,
                ik.c.agent_id.is_(None) if agent_id is None else ik.c.agent_id == agent_id,
                ik.c.key == key,
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Duplicate("this idempotency key was already used for a different request", ["idempotencyKey"])
    return int(row.resource_id)


async def remember(
    conn: AsyncConnection,
    principal: Principal | None,
    scope: str,
    key: str,
    fingerprint: str,
    resource_id: int,
    now: datetime,
) -> None:
    await conn.execute(remembering(principal, scope, key, fingerprint, resource_id, now))


def remembering(
    principal: Principal | None, scope: str, key: str, fingerprint: str, resource_id: int, now: datetime
) -> Insert:
    """The write `remember` sends, for a caller that sends it with others in one statement."""
    return insert(ik).values(
        scope=scope,
        key=key,
        agent_id=principal.agent_id if principal is not None else None,
        resource_id=resource_id,
        request_hash=fingerprint,
        created_at=now,
    )
