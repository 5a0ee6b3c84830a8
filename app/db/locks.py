"""Named advisory locks: serialising work that has no row of its own to lock."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def lock_for_transaction(conn: AsyncConnection, name: str) -> None:
    """Waits for, then holds until the end of `conn`'s transaction, the cluster-wide lock
    called `name`: one holder at a time across every process on the database."""
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))
