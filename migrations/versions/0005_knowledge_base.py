"""knowledge base: title document and trigram title matching, self-service tracking of search calls

Revision ID: 0005_knowledge_base
Revises: 0003
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_knowledge_base"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("knowledge_articles", sa.Column("title_vector", postgresql.TSVECTOR(), nullable=True))
    op.create_index(
        "ix_knowledge_articles_title_search", "knowledge_articles", ["title_vector"], postgresql_using="gin"
    )
    op.add_column(
        "knowledge_articles",
        sa.Column("search_title", sa.Text(), sa.Computed("lower(title)", persisted=True), nullable=True),
    )
    op.create_index(
        "ix_knowledge_articles_title_trgm",
        "knowledge_articles",
        ["search_title"],
        postgresql_using="gin",
        postgresql_ops={"search_title": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_article_feedback_search_id",
        "article_feedback",
        ["search_id"],
        postgresql_where=sa.text("search_id IS NOT NULL"),
    )
    op.add_column("article_searches", sa.Column("caller_key", sa.Text(), nullable=True))
    op.add_column(
        "article_searches",
        sa.Column(
            "article_ids",
            postgresql.ARRAY(sa.BigInteger()),
            server_default=sa.text("'{}'::bigint[]"),
            nullable=False,
        ),
    )
    op.create_index("ix_article_searches_caller_created", "article_searches", ["caller_key", "created_at"])
    _index_existing_tickets()


def _index_existing_tickets() -> None:
    """Tickets written before the ticket search existed get their document (in batches)."""
    from app.db.repositories.ticket_search import document_literal

    conn = op.get_bind()
    after = 0
    while True:
        batch = conn.execute(
            sa.text("SELECT id, subject, description FROM tickets WHERE id > :after ORDER BY id LIMIT 500"),
            {"after": after},
        ).all()
        if not batch:
            return
        comments: dict[int, list[tuple[str, str]]] = {row.id: [] for row in batch}
        for ticket_id, body, visibility in conn.execute(
            sa.text("SELECT ticket_id, body, visibility FROM comments WHERE ticket_id = ANY(:ids) ORDER BY id"),
            {"ids": list(comments)},
        ):
            comments[ticket_id].append((body, visibility))
        for row in batch:
            conn.execute(
                sa.text("UPDATE tickets SET search_vector = CAST(:doc AS tsvector) WHERE id = :id"),
                {"doc": document_literal(row.subject, row.description, comments[row.id]), "id": row.id},
            )
        after = batch[-1].id


def downgrade() -> None:
    op.drop_index("ix_article_searches_caller_created", table_name="article_searches")
    op.drop_column("article_searches", "article_ids")
    op.drop_column("article_searches", "caller_key")
    op.drop_index("ix_article_feedback_search_id", table_name="article_feedback")
    op.drop_index("ix_knowledge_articles_title_trgm", table_name="knowledge_articles")
    op.drop_column("knowledge_articles", "search_title")
    op.drop_index("ix_knowledge_articles_title_search", table_name="knowledge_articles")
    op.drop_column("knowledge_articles", "title_vector")
