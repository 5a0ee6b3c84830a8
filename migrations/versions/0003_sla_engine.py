"""SLA engine: policy re-evaluation jobs, SLA_DUE_AT order indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EPOCH = "'1970-01-01 00:00:00+00'::timestamptz"


def upgrade() -> None:
    op.create_table(
        "sla_reevaluations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("after_ticket_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("scheduler_from", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_reevaluations")),
    )
    op.create_index(
        "ix_tickets_sla_order_asc",
        "tickets",
        [sa.text("CAST(sla_due_at IS NULL AS INTEGER)"), sa.text(f"coalesce(sla_due_at, {_EPOCH})"), "id"],
    )
    op.create_index(
        "ix_tickets_sla_order_desc",
        "tickets",
        [sa.text("CAST(sla_due_at IS NOT NULL AS INTEGER)"), sa.text(f"coalesce(sla_due_at, {_EPOCH})"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_sla_order_desc", table_name="tickets")
    op.drop_index("ix_tickets_sla_order_asc", table_name="tickets")
    op.drop_table("sla_reevaluations")
