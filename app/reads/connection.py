"""One pooled connection shared, in turn, by an operation's reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class SharedConnection:
    """One connection for an operation's reads, used in turn; checked out while anyone wants it
    and returned to the pool as soon as nobody does (a long-lived subscription holds none)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._wanted = 0
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncConnection]:
        self._wanted += 1
        try:
            async with self._turn:
                if self._connection is None:
                    self._connection = await self._engine.connect()
                try:
                    yield self._connection
                except BaseException:
                    # A failed statement may have left the connection unusable: start afresh.
                    connection, self._connection = self._connection, None
                    await connection.close()
                    raise
        finally:
            self._wanted -= 1
            if self._wanted == 0 and self._connection is not None:
                connection, self._connection = self._connection, None
                await connection.close()
