"""The tickets a caller may see, as CSV text in batches (GET /exports/tickets.csv)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.db.repositories.tickets import export_batch
from app.domain.principal import Principal
from app.domain.ticket_csv import BOM, HEADER, csv_text
from app.domain.ticket_query import TicketFilter
from app.services.runtime import Runtime

BATCH = 5000


async def ticket_csv(rt: Runtime, principal: Principal, f: TicketFilter, batch: int = BATCH) -> AsyncIterator[str]:
    """The BOM and header, then one chunk of rows per batch, oldest ticket first: the tickets
    the ticket list would show this caller for `f`. Memory stays that of one batch however
    many rows follow; each batch is its own short read (no transaction held open for the
    whole export), so a ticket changed meanwhile shows as it was when its batch was read."""
    yield BOM + csv_text([HEADER])
    after: int | None = 0
    while after is not None:
        async with rt.reader.connect() as conn:
            rows, after = await export_batch(conn, principal, f, after, batch)
        if rows:
            yield csv_text(rows)
