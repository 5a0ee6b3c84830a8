"""Where committed events go after commit (realtime fan-out plugs in here)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from app.events.outbox import PendingEvent

log = logging.getLogger("helpdesk.events")


class EventPublisher(Protocol):
    async def publish_committed(self, events: Sequence[PendingEvent]) -> None:
        """Called after the transaction that wrote `events` committed; never for a rollback.

        Must not raise: the change is already committed, and readers catch up from the log.
        """


class LogOnlyPublisher:
    """For commands with no subscribers (CLI, seeding)."""

    async def publish_committed(self, events: Sequence[PendingEvent]) -> None:
        log.debug("committed %d event(s)", len(events))
