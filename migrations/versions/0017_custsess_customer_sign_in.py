"""customer sign-in by link: one-time links, customer sessions, and the requests counted for the
sign-in rate limit

Revision ID: 0017_custsess_customer_sign_in
Revises: 0016_automations
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_custsess_customer_sign_in"
down_revision: str | None = "0016_automations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _credential_table(name: str, *extra: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *extra,
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f(f"fk_{name}_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{name}_token_hash")),
    )
    op.create_index(f"ix_{name}_customer_id", name, ["customer_id"])


def upgrade() -> None:
    _credential_table("customer_sign_in_links", sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    _credential_table("customer_sessions")
    op.create_table(
        "customer_sign_in_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sign_in_requests")),
    )
    op.create_index(
        "ix_customer_sign_in_requests_subject_requested_at",
        "customer_sign_in_requests",
        ["subject", "requested_at"],
    )


def downgrade() -> None:
    op.drop_table("customer_sign_in_requests")
    op.drop_table("customer_sessions")
    op.drop_table("customer_sign_in_links")
