"""A websocket's credential while it is open: re-read before every operation and every few
seconds, and the socket closed with 4403 once the credential is revoked or expired or its
agent deactivated.

connection_init authenticates once; without this a socket kept the caller it started with (a
revoked token kept reading and writing, a demoted admin kept administering). The re-reads go
through the process's shared cache (app.services.live_access), so they cost one query per
credential per HELPDESK_CREDENTIAL_RECHECK_SECONDS however many sockets share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from strawberry.http.async_base_view import AsyncWebSocketAdapter

from schema.context import Context

log = logging.getLogger("helpdesk.ws")

# The close code and reason for a credential that is no longer good (graphql-transport-ws uses
# 4403 Forbidden for a refused connection; the legacy protocol gets the same).
CREDENTIAL_GONE = (4403, "Forbidden")


class ConnectionCredential:
    """The caller of one websocket connection, as they are now."""

    def __init__(self, context: Context, websocket: AsyncWebSocketAdapter) -> None:
        self._context = context
        self._websocket = websocket
        self._watcher: asyncio.Task[None] | None = None

    async def still_valid(self) -> bool:
        """Re-reads the caller into the context (role and groups included); False once the
        credential is gone. A connection opened without a credential has none to lose."""
        context = self._context
        if context.token is None or context.access is None:
            return True
        if context.customer is not None:
            customer = await context.access.customer(context.token)
            if customer is None:
                return False
            context.customer = customer
            return True
        fresh = await context.access.principal(context.token)
        if fresh is None:
            return False
        context.principal = fresh
        return True

    async def refuse_if_gone(self) -> bool:
        """Before an operation: closes the socket and returns True when the credential is gone."""
        if await self.still_valid():
            return False
        await self._close()
        return True

    def watch(self) -> None:
        """Starts re-checking every period (once the connection is acknowledged)."""
        if self._watcher is None and self._context.token is not None and self._context.access is not None:
            self._watcher = asyncio.create_task(self._watch(self._context.access.period))

    async def _watch(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                valid = await self.still_valid()
            except Exception:  # a database blip must not close every socket: look again next period
                log.warning("re-reading a websocket's credential failed", exc_info=True)
                continue
            if not valid:
                await self._close()
                return

    async def _close(self) -> None:
        code, reason = CREDENTIAL_GONE
        with contextlib.suppress(Exception):  # it may be closed already
            await self._websocket.close(code=code, reason=reason)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
