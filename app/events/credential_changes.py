"""Credential changes across processes. Each process caches the principal behind a bearer
secret for a few seconds (app.services.live_access), so a request costs no authentication
query; a process that revokes a credential, or changes an agent's role, groups or
deactivation, announces it here after its commit, and every process (itself included) forgets
what it cached. The change then holds everywhere within the broadcast's latency, not at the end
of the cache period. A lost announcement (the broadcast down) costs at most that period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from broadcaster import Broadcast

log = logging.getLogger("helpdesk.credentials")

CHANNEL = "helpdesk_credentials"
PUBLISH_TIMEOUT = 2.0


class CredentialChanges:
    """Announces changes and follows other processes' announcements; `forget` drops the
    process's cached principals."""

    def __init__(self, broadcast: Broadcast, forget: Callable[[], None]) -> None:
        self._broadcast = broadcast
        self._forget = forget
        self._follower: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._follower = asyncio.create_task(self._follow())
        # Subscribed before the process serves: an announcement from then on is not missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), PUBLISH_TIMEOUT)

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower

    async def announce(self) -> None:
        """After the commit of a change: this process forgets at once, the others on the message."""
        self._forget()
        try:
            await asyncio.wait_for(self._broadcast.publish(CHANNEL, "changed"), PUBLISH_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception:  # committed all the same; the others' caches expire within their period
            log.warning("announcing a credential change failed", exc_info=True)

    async def _follow(self) -> None:
        while True:
            try:
                async with self._broadcast.subscribe(CHANNEL) as subscriber:
                    self._listening.set()
                    # A (re)subscription may have missed announcements: start from nothing cached.
                    self._forget()
                    async for _ in subscriber:  # type: ignore[union-attr]
                        self._forget()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following credential changes failed; resubscribing")
                await asyncio.sleep(1)
