"""mail quarantine retries: the outcome of the last retry of a quarantined message

Revision ID: 0010_mail_quarantine_retry
Revises: 0009_event_consumers
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_mail_quarantine_retry"
down_revision: str | None = "0009_event_consumers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mail_quarantine", sa.Column("retry_outcome", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("mail_quarantine", "retry_outcome")
