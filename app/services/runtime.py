"""What every service needs: the database, settings, time and the event publisher."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import Clock, SystemClock
from app.events.outbox import EventObservers, Outbox
from app.events.publisher import EventPublisher, LogOnlyPublisher
from app.services.intake_config import IntakeConfigCache
from app.services.notification_triggers import NOTIFY_ON_EVENTS
from app.services.survey_invitations import SurveyOnResolution
from app.settings import Settings
from app.storage import BlobStore, LocalBlobStore

log = logging.getLogger("helpdesk.services")


async def _nothing_cached() -> None:
    """Without a server nothing caches principals, so there is nothing to tell."""


@dataclass
class Runtime:
    engine: AsyncEngine
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    publisher: EventPublisher = field(default_factory=LogOnlyPublisher)
    blobs: BlobStore = field(default=None)  # type: ignore[assignment]
    # Called after the commit of a change to who a credential stands for (a revocation, an
    # agent's role, groups or deactivation): the server sets it to announce the change to every
    # process's principal cache (app.events.credential_changes).
    credentials_changed: Callable[[], Awaitable[None]] = field(default=_nothing_cached)
    # Routing rules, field definitions, SLA policies and groups, checked per intake against
    # their version (app.services.intake_config).
    intake_config: IntakeConfigCache = field(default_factory=IntakeConfigCache)

    def __post_init__(self) -> None:
        if self.blobs is None:
            self.blobs = LocalBlobStore(self.settings.data_dir / "attachments")
        # Reads that need no transaction: the same pool, but no BEGIN and ROLLBACK around each
        # statement (two round trips saved per checkout; under READ COMMITTED every statement
        # has its own snapshot either way).
        self.reader: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # What every transaction's events set off in that same transaction.
        self.observers = EventObservers((NOTIFY_ON_EVENTS, SurveyOnResolution(self.settings)))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Outbox]:
        """One use case, one transaction. Events appended to the outbox are published
        only after the commit succeeded; an exception rolls everything back. The events that
        notify agents write their notifications in it (app.services.notification_triggers), and
        a resolution its satisfaction survey (app.services.survey_invitations)."""
        async with self.engine.begin() as conn:
            outbox = Outbox(conn, observer=self.observers, system_address=self.settings.mail_from)
            yield outbox
        if outbox.events:
            try:
                await self.publisher.publish_committed(outbox.events)
            except Exception:  # the change is committed; subscribers catch up from the log
                log.exception("publishing %d committed event(s) failed", len(outbox.events))
