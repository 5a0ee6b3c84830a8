"""Named advisory locks: serialising work that has no row of its own to lock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def lock_for_transaction(conn: AsyncConnection, name: str) -> None:
    """Waits for, then holds until the end of `conn`'s transaction, the cluster-wide lock
    called `name`: one holder at a time across every process on the database."""
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))


@asynccontextmanager
async def session_lock(engine: AsyncEngine, name: str) -> AsyncIterator[AsyncConnection | None]:
    """Tries, without waiting, to take the cluster-wide lock called `name` on a connection of its
    own, held for the whole `with` (across transactions). Yields that connection (still working
    means still holding; if the process dies the lock dies with its connection), or None when
    another session holds the lock."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        key = func.hashtextextended(name, 0)
        if not await conn.scalar(select(func.pg_try_advisory_lock(key))):
            yield None
            return
        try:
            yield conn
        finally:
            try:
                await conn.execute(select(func.pg_advisory_unlock(key)))
            except BaseException as error:
                # Not unlocked: this connection must never go back to the pool holding the lock.
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                if not isinstance(error, Exception):
                    raise
