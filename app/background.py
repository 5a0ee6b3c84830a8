"""Periodic housekeeping inside `helpdesk serve`: safe with any number of processes."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app.services.lifecycle import close_resolved_tickets
from app.services.runtime import Runtime

log = logging.getLogger("helpdesk.background")


async def auto_close_loop(rt: Runtime, every: float = 60.0) -> None:
    """Closes RESOLVED tickets older than HELPDESK_AUTO_CLOSE_AFTER; rows are claimed with
    SKIP LOCKED, so several processes running this loop never close a ticket twice."""
    older_than = timedelta(hours=rt.settings.auto_close_after_hours)
    while True:
        try:
            closed = await close_resolved_tickets(rt, older_than)
            if closed:
                log.info("auto-closed %d resolved ticket(s)", closed)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep sweeping: a database blip must not end housekeeping
            log.exception("auto-close sweep failed")
        await asyncio.sleep(every)
