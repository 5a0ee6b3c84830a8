"""web form and satisfaction surveys: web-form submissions counted for the rate limit,
idempotency keys of anonymous callers, survey tokens, the survey's sub-scores, and the web-form
ticket that followed a caller's article suggestions

Revision ID: 0019_webform_surveys
Revises: 0016_automations
Create Date: 2026-12-16 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_webform_surveys"
down_revision: str | None = "0018_erasure_customer_erased"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUB_SCORES = ("speed", "professionalism", "attitude")


def upgrade() -> None:
    op.create_table(
        "web_form_submissions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_form_submissions")),
    )
    op.create_index(
        "ix_web_form_submissions_subject_submitted_at", "web_form_submissions", ["subject", "submitted_at"]
    )

    # Anonymous callers' keys have no agent: the key is unique per (scope, agent or none, key).
    op.drop_constraint("pk_idempotency_keys", "idempotency_keys", type_="primary")
    op.alter_column("idempotency_keys", "agent_id", existing_type=sa.BigInteger(), nullable=True)
    op.create_index(
        "uq_idempotency_keys_scope_agent_id_key",
        "idempotency_keys",
        ["scope", "agent_id", "key"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )

    for name in _SUB_SCORES:
        op.add_column("satisfaction_ratings", sa.Column(name, sa.SmallInteger(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_satisfaction_ratings_{name}_range"), "satisfaction_ratings", f"{name} BETWEEN 1 AND 5"
        )

    op.create_table(
        "satisfaction_surveys",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("resolution_event_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_satisfaction_surveys_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resolution_event_id"],
            ["ticket_events.id"],
            name=op.f("fk_satisfaction_surveys_resolution_event_id_ticket_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satisfaction_surveys")),
    )
    op.create_index("uq_satisfaction_surveys_token_hash", "satisfaction_surveys", ["token_hash"], unique=True)
    op.create_index(
        "uq_satisfaction_surveys_resolution", "satisfaction_surveys", ["resolution_event_id"], unique=True
    )
    op.create_index("ix_satisfaction_surveys_ticket_id", "satisfaction_surveys", ["ticket_id"])

    op.add_column("article_searches", sa.Column("ticket_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_article_searches_ticket_id_tickets"),
        "article_searches",
        "tickets",
        ["ticket_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_article_searches_ticket_id_tickets"), "article_searches", type_="foreignkey")
    op.drop_column("article_searches", "ticket_id")
    op.drop_table("satisfaction_surveys")
    for name in _SUB_SCORES:
        op.drop_column("satisfaction_ratings", name)
    op.drop_index("uq_idempotency_keys_scope_agent_id_key", table_name="idempotency_keys")
    op.execute("DELETE FROM idempotency_keys WHERE agent_id IS NULL")
    op.alter_column("idempotency_keys", "agent_id", existing_type=sa.BigInteger(), nullable=False)
    op.create_primary_key("pk_idempotency_keys", "idempotency_keys", ["scope", "agent_id", "key"])
    op.drop_index("ix_web_form_submissions_subject_submitted_at", table_name="web_form_submissions")
    op.drop_table("web_form_submissions")
