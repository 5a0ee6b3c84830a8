"""Tickets found by something other than their id (by id, the loaders apply visibility)."""

from __future__ import annotations

from app.db.repositories import tickets
from app.services.runtime import Runtime


async def ticket_id_by_number(rt: Runtime, number: int) -> int | None:
    """The ticket with this human-facing number, seen or not: the caller loads it through the loaders."""
    async with rt.engine.connect() as conn:
        return await tickets.ticket_id_by_number(conn, number)
