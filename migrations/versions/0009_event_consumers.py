"""event consumers: durable positions of the event log's readers (automations, webhook fan-out)

Revision ID: 0009_event_consumers
Revises: 0008_email_outbox
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_event_consumers"
down_revision: str | None = "0008_email_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_consumers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_consumers")),
    )


def downgrade() -> None:
    op.drop_table("event_consumers")
