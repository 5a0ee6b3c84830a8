"""report indexes: what the helpdesk report reads, in the order it reads it

Revision ID: 0006_report_indexes
Revises: 0005_knowledge_base
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_report_indexes"
down_revision: str | None = "0005_knowledge_base"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPORT_COLUMNS = [
    "created_at",
    "group_id",
    "assignee_id",
    "status",
    "channel",
    "category",
    "reopen_count",
    "first_responded_at",
    "resolved_at",
]


def upgrade() -> None:
    op.create_index("ix_tickets_report", "tickets", ["id"], postgresql_include=_REPORT_COLUMNS)
    op.create_index(
        "ix_tickets_resolved",
        "tickets",
        ["resolved_at"],
        postgresql_include=["group_id"],
        postgresql_where=sa.text("resolved_at IS NOT NULL"),
    )
    op.create_index("ix_tickets_subject_created", "tickets", [sa.text("lower(btrim(subject))"), "created_at"])
    op.create_index(
        "ix_sla_clocks_met",
        "sla_clocks",
        ["ticket_id"],
        postgresql_include=["target", "policy_id", "elapsed_seconds"],
        postgresql_where=sa.text("met_at IS NOT NULL"),
    )
    op.create_index(
        "ix_sla_clocks_due",
        "sla_clocks",
        ["due_at"],
        postgresql_include=["ticket_id", "met_at"],
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )
    op.create_index(
        "ix_sla_clocks_breached",
        "sla_clocks",
        ["breached_at"],
        postgresql_include=["ticket_id"],
        postgresql_where=sa.text("breached_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_breached", table_name="sla_clocks")
    op.drop_index("ix_sla_clocks_due", table_name="sla_clocks")
    op.drop_index("ix_sla_clocks_met", table_name="sla_clocks")
    op.drop_index("ix_tickets_subject_created", table_name="tickets")
    op.drop_index("ix_tickets_resolved", table_name="tickets")
    op.drop_index("ix_tickets_report", table_name="tickets")
