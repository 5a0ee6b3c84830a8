"""erasure: when a customer was erased (eraseCustomer), and the CUSTOMER_ERASED event type

Revision ID: 0018_erasure_customer_erased
Revises: 0016_automations
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_erasure_customer_erased"
down_revision: str | None = "0017_custsess_customer_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES_ON_MAIN = (
    "'CREATED', 'UPDATED', 'STATUS_CHANGED', 'PRIORITY_CHANGED', 'ASSIGNED', 'UNASSIGNED', "
    "'COLLABORATOR_ADDED', 'COMMENTED', 'ATTACHMENT_ADDED', 'ESCALATED', 'SLA_WARNING', 'SLA_BREACHED', "
    "'SUB_TICKET_CREATED', 'SUB_TICKET_RESOLVED', 'LINKED', 'MERGED', 'RATED', 'EMAIL_FAILED', 'MACRO_APPLIED', "
    "'FIELD_CHANGED', 'AUTOMATION_APPLIED'"
)


def _event_types(allowed: str) -> None:
    op.drop_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", f"type IN ({allowed})")


def upgrade() -> None:
    _event_types(_EVENT_TYPES_ON_MAIN + ", 'CUSTOMER_ERASED'")
    op.add_column("customers", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "erased_at")
    op.execute("DELETE FROM ticket_events WHERE type = 'CUSTOMER_ERASED'")
    _event_types(_EVENT_TYPES_ON_MAIN)
