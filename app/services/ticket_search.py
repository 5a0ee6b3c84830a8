"""Keeping a ticket's full-text document current: subject, description and comments.

One write path: whatever changes a ticket's subject, description or conversation calls
`reindex_ticket` in its own transaction, so the document commits (or rolls back) with the
change. Weights say where a word came from: subject A, description B, public comments C,
internal notes D (so callers who may not read internal notes search without them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import fulltext, tables
from app.db.repositories.ticket_search import document_literal
from app.domain.records import TicketRecord

t, cm = tables.tickets, tables.comments


def new_ticket_document(subject: str, description: str) -> ColumnElement[Any]:
    """The search document of a ticket being inserted (no comments yet), for its INSERT: the
    row is written once, not inserted and then updated with its document."""
    return fulltext.vector(document_literal(subject, description, []))


async def reindex_ticket(conn: AsyncConnection, ticket_id: int, locked: TicketRecord | None = None) -> None:
    """Rebuilds the ticket's search document from what is stored now, in the caller's transaction.
    `locked`: the ticket as the caller locked and last wrote it, so its subject and description
    need not be read again."""
    if locked is not None:
        subject, description = locked.subject, locked.description
    else:
        row = (await conn.execute(select(t.c.subject, t.c.description).where(t.c.id == ticket_id))).one()
        subject, description = row.subject, row.description
    comments = await conn.execute(
        select(cm.c.body, cm.c.visibility).where(cm.c.ticket_id == ticket_id).order_by(cm.c.id)
    )
    document = document_literal(subject, description, [(body, visibility) for body, visibility in comments])
    await conn.execute(update(t).where(t.c.id == ticket_id).values(search_vector=fulltext.vector(document)))
