"""Keeping a ticket's full-text document current: subject, description and comments.

One write path: whatever changes a ticket's subject, description or conversation calls
`reindex_ticket` in its own transaction, so the document commits (or rolls back) with the
change. Weights say where a word came from: subject A, description B, public comments C,
internal notes D (so callers who may not read internal notes search without them).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import fulltext, tables
from app.db.repositories.ticket_search import document_literal

t, cm = tables.tickets, tables.comments


async def reindex_ticket(conn: AsyncConnection, ticket_id: int) -> None:
    """Rebuilds the ticket's search document from what is stored now, in the caller's transaction."""
    subject, description = (await conn.execute(select(t.c.subject, t.c.description).where(t.c.id == ticket_id))).one()
    comments = await conn.execute(
        select(cm.c.body, cm.c.visibility).where(cm.c.ticket_id == ticket_id).order_by(cm.c.id)
    )
    document = document_literal(subject, description, [(body, visibility) for body, visibility in comments])
    await conn.execute(update(t).where(t.c.id == ticket_id).values(search_vector=fulltext.vector(document)))
