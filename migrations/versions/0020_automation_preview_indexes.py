"""automation preview indexes: the open tickets' facts a condition may name (a count reads the
index alone), and subject CONTAINS by trigram

Revision ID: 0020_automation_preview_indexes
Revises: 0019_webform_surveys
Create Date: 2026-12-17 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_automation_preview_indexes"
down_revision: str | None = "0019_webform_surveys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FACTS = [
    "status",
    "priority",
    "priority_rank",
    "channel",
    "category",
    "language",
    "sentiment",
    "group_id",
    "assignee_id",
    "customer_id",
]


def upgrade() -> None:
    op.create_index(
        "ix_tickets_open_facts",
        "tickets",
        ["id"],
        postgresql_include=_FACTS,
        postgresql_where=sa.text("status IN ('NEW', 'ON_HOLD', 'OPEN', 'PENDING')"),
    )
    op.create_index(
        "ix_tickets_subject_trgm",
        "tickets",
        [sa.text("lower(subject) gin_trgm_ops")],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_subject_trgm", table_name="tickets")
    op.drop_index("ix_tickets_open_facts", table_name="tickets")
