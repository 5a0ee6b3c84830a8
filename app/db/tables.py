"""The database schema as SQLAlchemy Core tables.

Alembic migrations are the only way the live schema changes; a test checks that
these tables and the migration chain agree. Enumerations are stored as text with
CHECK constraints so adding a value is a one-line migration, not an ALTER TYPE.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from app.domain import enums

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _one_of(column: str, values: type[enums.StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


def _id() -> Column[int]:
    return Column("id", BigInteger, Identity(always=False), primary_key=True)


def _created_at() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _updated_at() -> Column:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _text_array(name: str) -> Column:
    return Column(name, ARRAY(Text), nullable=False, server_default=text("'{}'::text[]"))


# ---------------------------------------------------------------- people

customers = Table(
    "customers",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    Column("company", Text),
    Column("tier", String(16), nullable=False, server_default=enums.CustomerTier.STANDARD.value),
    Column("language", String(35)),
    _text_array("tags"),
    Column("external_refs", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _created_at(),
    _updated_at(),
    # Mail to this address bounced for good: nothing more is sent to it.
    Column("email_bounced_at", DateTime(timezone=True)),
    # eraseCustomer removed the person's data: intake no longer finds or attaches to this row.
    Column("erased_at", DateTime(timezone=True)),
    _one_of("tier", enums.CustomerTier),
    # Search by name/email/phone/company: one trigram index over the concatenation.
    Column(
        "search_text",
        Text,
        Computed(
            "lower(name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(company, ''))",
            persisted=True,
        ),
    ),
)
Index("uq_customers_email", func.lower(customers.c.email), unique=True, postgresql_where=customers.c.email.isnot(None))
Index("uq_customers_phone", customers.c.phone, unique=True, postgresql_where=customers.c.phone.isnot(None))
Index(
    "ix_customers_search_trgm",
    customers.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)

# Contacts of customers merged away: intake by one of them finds the customer it was merged into.
customer_aliases = Table(
    "customer_aliases",
    metadata,
    _id(),
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("email", Text),
    Column("phone", Text),
    # The id the merged customer had (history, exports).
    Column("merged_customer_id", BigInteger, nullable=False),
    _created_at(),
    CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_contact"),
)
Index(
    "uq_customer_aliases_email",
    func.lower(customer_aliases.c.email),
    unique=True,
    postgresql_where=customer_aliases.c.email.isnot(None),
)
Index(
    "uq_customer_aliases_phone",
    customer_aliases.c.phone,
    unique=True,
    postgresql_where=customer_aliases.c.phone.isnot(None),
)
Index("ix_customer_aliases_customer_id", customer_aliases.c.customer_id)

# Who exported a customer's data, and when (customerDataExport). No foreign key to the customer:
# the record outlives a merge or erasure.
customer_data_exports = Table(
    "customer_data_exports",
    metadata,
    _id(),
    Column("customer_id", BigInteger, nullable=False),
    Column("exported_by_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("exported_at", DateTime(timezone=True), nullable=False),
)
Index("ix_customer_data_exports_customer_id", customer_data_exports.c.customer_id)

agents = Table(
    "agents",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False, server_default=enums.AgentRole.AGENT.value),
    Column("presence", String(16), nullable=False, server_default=enums.AgentPresence.OFFLINE.value),
    Column("on_vacation", Boolean, nullable=False, server_default=text("false")),
    _text_array("skills"),
    _text_array("languages"),
    Column("capacity", Integer, nullable=False, server_default=text("10")),
    # Round-robin fairness: the agent assigned longest ago goes next (kept in the database,
    # so rotation survives restarts and is shared by processes).
    Column("last_assigned_at", DateTime(timezone=True)),
    Column("deactivated_at", DateTime(timezone=True)),
    _created_at(),
    _updated_at(),
    _one_of("role", enums.AgentRole),
    _one_of("presence", enums.AgentPresence),
    CheckConstraint("capacity >= 0", name="capacity_non_negative"),
)
Index("uq_agents_email", func.lower(agents.c.email), unique=True)

groups = Table(
    "groups",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column(
        "assignment_strategy",
        String(16),
        nullable=False,
        server_default=enums.AssignmentStrategy.LEAST_LOADED.value,
    ),
    Column("escalation_group_id", BigInteger, ForeignKey("groups.id", ondelete="SET NULL")),
    _created_at(),
    _updated_at(),
    _one_of("assignment_strategy", enums.AssignmentStrategy),
)
Index("uq_groups_name", func.lower(groups.c.name), unique=True)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", BigInteger, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    _created_at(),
    # Round-robin turn within this group: the member assigned longest ago goes next.
    Column("last_assigned_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("group_id", "agent_id"),
)
Index("ix_group_members_agent_id", group_members.c.agent_id)

# ---------------------------------------------------------------- auth

sessions = Table(
    "sessions",
    metadata,
    _id(),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    # sha256 of the secret; the secret itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    _created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_sessions_agent_id", sessions.c.agent_id)

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    _created_at(),
    Column("last_used_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_api_tokens_agent_id", api_tokens.c.agent_id)

# Failed logins, per account and per client address, for throttling across processes.
login_failures = Table(
    "login_failures",
    metadata,
    _id(),
    Column("subject", Text, nullable=False),  # "email:<lowercased>" or "ip:<address>"
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_login_failures_subject_failed_at", login_failures.c.subject, login_failures.c.failed_at)

# Customers signed in by link: the one-time links (15 minutes, single use), the sessions they
# open, and the requests counted for the rate limit ("email:<lowercased>" or "ip:<address>").
customer_sign_in_links = Table(
    "customer_sign_in_links",
    metadata,
    _id(),
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    # sha256 of the link token; the token itself is only in the mail.
    Column("token_hash", String(64), nullable=False, unique=True),
    _created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_customer_sign_in_links_customer_id", customer_sign_in_links.c.customer_id)

customer_sessions = Table(
    "customer_sessions",
    metadata,
    _id(),
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_customer_sessions_customer_id", customer_sessions.c.customer_id)

customer_sign_in_requests = Table(
    "customer_sign_in_requests",
    metadata,
    _id(),
    Column("subject", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)
Index(
    "ix_customer_sign_in_requests_subject_requested_at",
    customer_sign_in_requests.c.subject,
    customer_sign_in_requests.c.requested_at,
)

# Accepted web-form submissions, one row per limited subject ("ip:<address>", "email:<address>"):
# HELPDESK_WEB_FORM_LIMIT counts them per subject over its window, across processes.
web_form_submissions = Table(
    "web_form_submissions",
    metadata,
    _id(),
    Column("subject", Text, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
)
Index(
    "ix_web_form_submissions_subject_submitted_at",
    web_form_submissions.c.subject,
    web_form_submissions.c.submitted_at,
)

# ---------------------------------------------------------------- tickets

ticket_number_seq = Sequence("ticket_number_seq", metadata=metadata, start=1000)

tickets = Table(
    "tickets",
    metadata,
    _id(),
    # Human-facing, from a sequence: unique and never reused, even after a rollback.
    Column("number", BigInteger, ticket_number_seq, nullable=False, server_default=ticket_number_seq.next_value()),
    Column("subject", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default=enums.TicketStatus.NEW.value),
    Column("priority", String(16), nullable=False, server_default=enums.TicketPriority.NORMAL.value),
    # Sort key for PRIORITY ordering and queue draining (LOW=0 ... URGENT=3).
    Column(
        "priority_rank",
        SmallInteger,
        Computed(
            "CASE priority WHEN 'LOW' THEN 0 WHEN 'NORMAL' THEN 1 WHEN 'HIGH' THEN 2 ELSE 3 END",
            persisted=True,
        ),
    ),
    Column("channel", String(16), nullable=False),
    Column("category", Text),
    _text_array("tags"),
    Column("custom_fields", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("external_ref", Text),
    Column("language", String(35)),
    Column("sentiment", String(16), nullable=False, server_default=enums.Sentiment.NEUTRAL.value),
    Column("escalation_level", Integer, nullable=False, server_default=text("0")),
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False),
    Column("assignee_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("group_id", BigInteger, ForeignKey("groups.id", ondelete="SET NULL")),
    Column("parent_id", BigInteger, ForeignKey("tickets.id", ondelete="RESTRICT")),
    Column("merged_into_id", BigInteger, ForeignKey("tickets.id", ondelete="SET NULL")),
    # Skills a routing rule requires of the assignee (SKILL_BASED groups).
    _text_array("required_skills"),
    Column("resolution", Text),
    Column("reopen_count", Integer, nullable=False, server_default=text("0")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    _created_at(),
    _updated_at(),
    # When the ticket last entered its group's queue (unassigned); drain order is
    # priority then this.
    Column("queued_at", DateTime(timezone=True)),
    Column("first_responded_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    # Denormalised from sla_clocks for SLA_DUE_AT ordering and the slaAtRisk filter.
    Column("sla_due_at", DateTime(timezone=True)),
    Column("sla_at_risk", Boolean, nullable=False, server_default=text("false")),
    # Full-text document (segmented Chinese + English), maintained by the services.
    Column("search_vector", TSVECTOR),
    # The mailbox the conversation runs through (tickets that came by mail).
    Column("mailbox_id", BigInteger, ForeignKey("mailboxes.id", ondelete="SET NULL")),
    _one_of("status", enums.TicketStatus),
    _one_of("priority", enums.TicketPriority),
    _one_of("channel", enums.Channel),
    _one_of("sentiment", enums.Sentiment),
    CheckConstraint("version >= 1", name="version_positive"),
    UniqueConstraint("number"),
)
# Agent console lists: by status within a group, newest first; keyset pagination on (created_at, id).
Index("ix_tickets_group_status_created", tickets.c.group_id, tickets.c.status, tickets.c.created_at, tickets.c.id)
Index("ix_tickets_assignee_status", tickets.c.assignee_id, tickets.c.status)
Index("ix_tickets_status_created", tickets.c.status, tickets.c.created_at, tickets.c.id)
Index("ix_tickets_customer_created", tickets.c.customer_id, tickets.c.created_at)
Index("ix_tickets_created", tickets.c.created_at, tickets.c.id)
Index("ix_tickets_updated", tickets.c.updated_at, tickets.c.id)
Index("ix_tickets_parent_id", tickets.c.parent_id, postgresql_where=tickets.c.parent_id.isnot(None))
Index("ix_tickets_tags", tickets.c.tags, postgresql_using="gin")
# TicketFilter.customFields is containment (@>): jsonb_path_ops is smaller and faster for it.
Index(
    "ix_tickets_custom_fields",
    tickets.c.custom_fields,
    postgresql_using="gin",
    postgresql_ops={"custom_fields": "jsonb_path_ops"},
)
Index("ix_tickets_sla_due", tickets.c.sla_due_at, tickets.c.id, postgresql_where=tickets.c.sla_due_at.isnot(None))
Index("ix_tickets_sla_at_risk", tickets.c.group_id, postgresql_where=tickets.c.sla_at_risk)
# SLA_DUE_AT ordering (tickets with no running clock last in both directions): one index per
# direction, on exactly the sort expressions of app.db.repositories.tickets.
SLA_ORDER_EPOCH = text("'1970-01-01 00:00:00+00'::timestamptz")
Index(
    "ix_tickets_sla_order_asc",
    cast(tickets.c.sla_due_at.is_(None), Integer),
    func.coalesce(tickets.c.sla_due_at, SLA_ORDER_EPOCH),
    tickets.c.id,
)
Index(
    "ix_tickets_sla_order_desc",
    cast(tickets.c.sla_due_at.isnot(None), Integer),
    func.coalesce(tickets.c.sla_due_at, SLA_ORDER_EPOCH),
    tickets.c.id,
)
Index("ix_tickets_search", tickets.c.search_vector, postgresql_using="gin")
Index("ix_tickets_external_ref", tickets.c.external_ref, postgresql_where=tickets.c.external_ref.isnot(None))
# The group queue: open, unassigned tickets, most urgent then oldest first.
Index(
    "ix_tickets_queue",
    tickets.c.group_id,
    tickets.c.priority_rank.desc(),
    tickets.c.queued_at,
    postgresql_where=text("assignee_id IS NULL AND status IN ('NEW', 'OPEN', 'PENDING', 'ON_HOLD')"),
)
# previewAutomation (app.db.repositories.automations): the open tickets with every column a
# condition may name, so a count reads this index alone; subject CONTAINS by trigram.
Index(
    "ix_tickets_open_facts",
    tickets.c.id,
    postgresql_include=[
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
    ],
    postgresql_where=tickets.c.status.in_(sorted(s.value for s in enums.OPEN_STATUSES)),
)
Index(
    "ix_tickets_subject_trgm",
    func.lower(tickets.c.subject).label("lower_subject"),
    postgresql_using="gin",
    postgresql_ops={"lower_subject": "gin_trgm_ops"},
)
# Reports (app.reads.reports): a period's tickets in id order with every column the report
# reads (index-only scans, merge-joined with ix_sla_clocks_met); tickets resolved in a period;
# tickets created with a given subject soon after a knowledge-base search (self-service rate).
Index(
    "ix_tickets_report",
    tickets.c.id,
    postgresql_include=[
        "created_at",
        "group_id",
        "assignee_id",
        "status",
        "channel",
        "category",
        "reopen_count",
        "first_responded_at",
        "resolved_at",
    ],
)
Index(
    "ix_tickets_resolved",
    tickets.c.resolved_at,
    postgresql_include=["group_id"],
    postgresql_where=tickets.c.resolved_at.isnot(None),
)
Index("ix_tickets_subject_created", func.lower(func.btrim(tickets.c.subject)), tickets.c.created_at)

ticket_collaborators = Table(
    "ticket_collaborators",
    metadata,
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    _created_at(),
    PrimaryKeyConstraint("ticket_id", "agent_id"),
)
Index("ix_ticket_collaborators_agent_id", ticket_collaborators.c.agent_id)

ticket_collaborating_groups = Table(
    "ticket_collaborating_groups",
    metadata,
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", BigInteger, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    _created_at(),
    PrimaryKeyConstraint("ticket_id", "group_id"),
)
Index("ix_ticket_collaborating_groups_group_id", ticket_collaborating_groups.c.group_id)

ticket_links = Table(
    "ticket_links",
    metadata,
    _id(),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("other_ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_by_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    _created_at(),
    _one_of("kind", enums.TicketLinkKind),
    CheckConstraint("ticket_id <> other_ticket_id", name="not_self"),
    UniqueConstraint("ticket_id", "other_ticket_id", "kind"),
)
Index("ix_ticket_links_other_ticket_id", ticket_links.c.other_ticket_id)

comments = Table(
    "comments",
    metadata,
    _id(),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("author_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("author_customer_id", BigInteger, ForeignKey("customers.id", ondelete="SET NULL")),
    _created_at(),
    # Message-ID of the mail the comment came from or went out as: replies are threaded on it.
    Column("message_id", Text),
    _one_of("visibility", enums.CommentVisibility),
)
Index("ix_comments_ticket_created", comments.c.ticket_id, comments.c.created_at, comments.c.id)
Index("ix_comments_message_id", comments.c.message_id, postgresql_where=comments.c.message_id.isnot(None))

attachments = Table(
    "attachments",
    metadata,
    _id(),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("comment_id", BigInteger, ForeignKey("comments.id", ondelete="SET NULL")),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    # Content address in the blob store.
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    _created_at(),
    CheckConstraint("size >= 0", name="size_non_negative"),
)
Index("ix_attachments_ticket_id", attachments.c.ticket_id)
Index("ix_attachments_comment_id", attachments.c.comment_id, postgresql_where=attachments.c.comment_id.isnot(None))

satisfaction_ratings = Table(
    "satisfaction_ratings",
    metadata,
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("score", SmallInteger, nullable=False),
    Column("comment", Text),
    Column("rated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Optional sub-scores of the satisfaction survey (速度 / 专业度 / 态度).
    Column("speed", SmallInteger),
    Column("professionalism", SmallInteger),
    Column("attitude", SmallInteger),
    CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
    CheckConstraint("speed BETWEEN 1 AND 5", name="speed_range"),
    CheckConstraint("professionalism BETWEEN 1 AND 5", name="professionalism_range"),
    CheckConstraint("attitude BETWEEN 1 AND 5", name="attitude_range"),
)

# One survey mail per resolution (the STATUS_CHANGED event to RESOLVED that caused it); only the
# token's sha256 is kept. Any unexpired, unanswered survey of a ticket may rate it once.
satisfaction_surveys = Table(
    "satisfaction_surveys",
    metadata,
    _id(),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("resolution_event_id", BigInteger, ForeignKey("ticket_events.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False),
    _created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
)
Index("uq_satisfaction_surveys_token_hash", satisfaction_surveys.c.token_hash, unique=True)
Index("uq_satisfaction_surveys_resolution", satisfaction_surveys.c.resolution_event_id, unique=True)
Index("ix_satisfaction_surveys_ticket_id", satisfaction_surveys.c.ticket_id)

# ---------------------------------------------------------------- the event log

# The audit trail, the outbox and the replay log at once. Cursor order is
# (txid, id) and readers only hand out events whose transaction id is below the
# oldest still-running transaction (pg_snapshot_xmin): every transaction below
# that horizon has finished, so no event can later appear behind a cursor.
ticket_events = Table(
    "ticket_events",
    metadata,
    _id(),
    Column("txid", BigInteger, nullable=False, server_default=text("pg_current_xact_id()::text::bigint")),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    # The ticket's group when the event happened: subscriptions filter on it.
    Column("group_id", BigInteger),
    Column("type", String(32), nullable=False),
    Column("actor_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("actor_customer_id", BigInteger, ForeignKey("customers.id", ondelete="SET NULL")),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _one_of("type", enums.TicketEventType),
)
Index("ix_ticket_events_cursor", ticket_events.c.txid, ticket_events.c.id, unique=True)
Index("ix_ticket_events_ticket_cursor", ticket_events.c.ticket_id, ticket_events.c.txid, ticket_events.c.id)
Index("ix_ticket_events_type_occurred", ticket_events.c.type, ticket_events.c.occurred_at)

# ---------------------------------------------------------------- idempotency

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # The operation ("createTicket", "addCustomerReply:<ticket>") and who called it scope the key;
    # callers with no agent (the web form, customer sessions) have their scope name them
    # ("submitWebForm:<email>", "addCustomerReply:<ticket>:customer:<customer id>").
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE")),
    Column("resource_id", BigInteger, nullable=False),
    # Fingerprint of the request: reusing a key for a different request is refused.
    Column("request_hash", String(64), nullable=False),
    _created_at(),
)
Index(
    "uq_idempotency_keys_scope_agent_id_key",
    idempotency_keys.c.scope,
    idempotency_keys.c.agent_id,
    idempotency_keys.c.key,
    unique=True,
    postgresql_nulls_not_distinct=True,
)

# ---------------------------------------------------------------- SLA

business_calendars = Table(
    "business_calendars",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    # [{"weekday": 0, "start": "09:00", "end": "18:00"}, ...]
    Column("hours", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("holidays", ARRAY(String(10)), nullable=False, server_default=text("'{}'::varchar[]")),
    _created_at(),
    _updated_at(),
)

sla_policies = Table(
    "sla_policies",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    _text_array("match_priorities"),
    _text_array("match_tiers"),
    _text_array("match_categories"),
    _text_array("match_channels"),
    Column("match_group_ids", ARRAY(BigInteger), nullable=False, server_default=text("'{}'::bigint[]")),
    Column("first_response_seconds", Integer),
    Column("resolution_seconds", Integer),
    Column("warning_at_percent", SmallInteger, nullable=False, server_default=text("80")),
    Column("calendar_id", BigInteger, ForeignKey("business_calendars.id", ondelete="SET NULL")),
    Column("escalate_priority_on_breach", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    _updated_at(),
    CheckConstraint("warning_at_percent BETWEEN 1 AND 99", name="warning_range"),
    CheckConstraint("first_response_seconds IS NULL OR first_response_seconds > 0", name="first_response_pos"),
    CheckConstraint("resolution_seconds IS NULL OR resolution_seconds > 0", name="resolution_pos"),
)
Index("ix_sla_policies_position", sla_policies.c.position, sla_policies.c.id)

sla_clocks = Table(
    "sla_clocks",
    metadata,
    _id(),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("policy_id", BigInteger, ForeignKey("sla_policies.id", ondelete="SET NULL")),
    Column("target", String(16), nullable=False),
    # A reopen starts a new RESOLUTION cycle; warnings and breaches are once per cycle.
    Column("cycle", Integer, nullable=False, server_default=text("1")),
    Column("state", String(16), nullable=False),
    Column("target_seconds", Integer, nullable=False),
    # Business seconds consumed before the current running stretch (pauses bank it here).
    Column("elapsed_seconds", Integer, nullable=False, server_default=text("0")),
    Column("started_at", DateTime(timezone=True), nullable=False),
    # Start of the current running stretch; null while paused or finished.
    Column("running_since", DateTime(timezone=True)),
    Column("due_at", DateTime(timezone=True)),
    Column("warn_at", DateTime(timezone=True)),
    Column("warned_at", DateTime(timezone=True)),
    Column("breached_at", DateTime(timezone=True)),
    Column("met_at", DateTime(timezone=True)),
    # The next instant the scheduler must look at this clock (warn_at, then due_at); null when nothing is due.
    Column("next_check_at", DateTime(timezone=True)),
    _one_of("target", enums.SlaTarget),
    _one_of("state", enums.SlaClockState),
    UniqueConstraint("ticket_id", "target", "cycle"),
)
Index("ix_sla_clocks_next_check", sla_clocks.c.next_check_at, postgresql_where=sla_clocks.c.next_check_at.isnot(None))
# Reports: met clocks by ticket (business durations), clocks by due time and by breach time.
Index(
    "ix_sla_clocks_met",
    sla_clocks.c.ticket_id,
    postgresql_include=["target", "policy_id", "elapsed_seconds"],
    postgresql_where=sla_clocks.c.met_at.isnot(None),
)
Index(
    "ix_sla_clocks_due",
    sla_clocks.c.due_at,
    postgresql_include=["ticket_id", "met_at"],
    postgresql_where=sla_clocks.c.due_at.isnot(None),
)
Index(
    "ix_sla_clocks_breached",
    sla_clocks.c.breached_at,
    postgresql_include=["ticket_id"],
    postgresql_where=sla_clocks.c.breached_at.isnot(None),
)

# Exactly-once SLA notifications: a second WARNING for the same clock and cycle is impossible.
sla_notifications = Table(
    "sla_notifications",
    metadata,
    Column("clock_id", BigInteger, ForeignKey("sla_clocks.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("clock_id", "kind"),
    _one_of("kind", enums.SlaEventKind),
)

# A policy change asks for every open ticket's clocks to be re-evaluated. The admin's request
# does the first batches; the scheduler finishes the rest, batch by batch, from the position.
sla_reevaluations = Table(
    "sla_reevaluations",
    metadata,
    _id(),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Tickets up to this id are done.
    Column("after_ticket_id", BigInteger, nullable=False, server_default=text("0")),
    # Schedulers take the pass over from this instant (set when the request hands it over, or a
    # while after the request, should it have died).
    Column("scheduler_from", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# ---------------------------------------------------------------- routing

routing_rules = Table(
    "routing_rules",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    _text_array("match_keywords"),
    _text_array("match_channels"),
    _text_array("match_tiers"),
    _text_array("match_categories"),
    _text_array("match_languages"),
    Column("set_category", Text),
    Column("set_priority", String(16)),
    _text_array("add_tags"),
    Column("route_to_group_id", BigInteger, ForeignKey("groups.id", ondelete="SET NULL")),
    _text_array("require_skills"),
    Column("stop_processing", Boolean, nullable=False, server_default=text("false")),
    _created_at(),
    _updated_at(),
    Column("match_custom_fields", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)
Index("ix_routing_rules_position", routing_rules.c.position, routing_rules.c.id)

# ---------------------------------------------------------------- defined custom fields

ticket_field_definitions = Table(
    "ticket_field_definitions",
    metadata,
    _id(),
    Column("key", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("type", String(16), nullable=False),
    _text_array("options"),
    Column("pattern", Text),
    Column("required_on_create", Boolean, nullable=False, server_default=text("false")),
    Column("required_for_status", String(16)),
    _text_array("categories"),
    Column("visible_to_customer", Boolean, nullable=False, server_default=text("false")),
    Column("position", Integer, nullable=False),
    _created_at(),
    _updated_at(),
    _one_of("type", enums.FieldType),
)
Index("uq_ticket_field_definitions_key", ticket_field_definitions.c.key, unique=True)

# ---------------------------------------------------------------- knowledge base

knowledge_articles = Table(
    "knowledge_articles",
    metadata,
    _id(),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("category", Text),
    _text_array("tags"),
    Column("language", String(35)),
    Column("status", String(16), nullable=False, server_default=enums.ArticleStatus.DRAFT.value),
    Column("author_agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("source_ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="SET NULL")),
    Column("view_count", Integer, nullable=False, server_default=text("0")),
    Column("helpful_count", Integer, nullable=False, server_default=text("0")),
    Column("not_helpful_count", Integer, nullable=False, server_default=text("0")),
    # Weighted document: title (A) above body (B); Chinese is segmented before indexing.
    Column("search_vector", TSVECTOR),
    _created_at(),
    _updated_at(),
    Column("published_at", DateTime(timezone=True)),
    # Trigram matching of misspelt words against titles, when full-text search finds too little.
    Column("search_title", Text, Computed("lower(title)", persisted=True)),
    # Title and tags alone: a small document whose GIN index finds the title matches of a
    # common word without visiting every article that mentions it.
    Column("title_vector", TSVECTOR),
    _one_of("status", enums.ArticleStatus),
)
Index("ix_knowledge_articles_search", knowledge_articles.c.search_vector, postgresql_using="gin")
Index("ix_knowledge_articles_title_search", knowledge_articles.c.title_vector, postgresql_using="gin")
Index(
    "ix_knowledge_articles_title_trgm",
    knowledge_articles.c.search_title,
    postgresql_using="gin",
    postgresql_ops={"search_title": "gin_trgm_ops"},
)
Index("ix_knowledge_articles_status_created", knowledge_articles.c.status, knowledge_articles.c.created_at)

# Reader feedback and self-service tracking (suggest/search calls and what followed).
article_feedback = Table(
    "article_feedback",
    metadata,
    _id(),
    Column("article_id", BigInteger, ForeignKey("knowledge_articles.id", ondelete="CASCADE"), nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("search_id", BigInteger),
    _created_at(),
)
Index("ix_article_feedback_created", article_feedback.c.created_at)
Index(
    "ix_article_feedback_search_id",
    article_feedback.c.search_id,
    postgresql_where=article_feedback.c.search_id.isnot(None),
)

article_searches = Table(
    "article_searches",
    metadata,
    _id(),
    Column("kind", String(16), nullable=False),  # SEARCH or SUGGEST
    Column("query", Text, nullable=False),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("result_count", Integer, nullable=False),
    _created_at(),
    # Who asked ("agent:<id>", or "client:<hash of the address>" for anonymous callers) and what
    # they were shown: a later rating by the same caller is linked to the call (self-service rate).
    Column("caller_key", Text),
    Column("article_ids", ARRAY(BigInteger), nullable=False, server_default=text("'{}'::bigint[]")),
    # The web-form ticket the same caller submitted within the hour after: the suggestions
    # shown while they typed did not serve them (self-service rate).
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="SET NULL")),
)
Index("ix_article_searches_created", article_searches.c.created_at)
Index("ix_article_searches_caller_created", article_searches.c.caller_key, article_searches.c.created_at)

# ---------------------------------------------------------------- email

mailboxes = Table(
    "mailboxes",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("group_id", BigInteger, ForeignKey("groups.id", ondelete="SET NULL")),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    # IMAP fetching (all null: mail arrives by ingestEmail or the mailgate only).
    Column("imap_host", Text),
    Column("imap_port", Integer),
    Column("imap_security", String(16)),
    Column("imap_username", Text),
    # Fernet tokens (app.auth.secrets); the passwords themselves are never stored or returned.
    Column("imap_password_encrypted", Text),
    Column("imap_folder", Text),
    Column("smtp_host", Text),
    Column("smtp_port", Integer),
    Column("smtp_security", String(16)),
    Column("smtp_username", Text),
    Column("smtp_password_encrypted", Text),
    Column("smtp_from_name", Text),
    Column("acknowledgement_template", Text),
    Column("last_fetched_at", DateTime(timezone=True)),
    Column("last_error", Text),
    _created_at(),
    _updated_at(),
    CheckConstraint("imap_security IN ('NONE', 'STARTTLS', 'TLS')", name="imap_security_valid"),
    CheckConstraint("smtp_security IN ('NONE', 'STARTTLS', 'TLS')", name="smtp_security_valid"),
    CheckConstraint("imap_port BETWEEN 1 AND 65535", name="imap_port_range"),
    CheckConstraint("smtp_port BETWEEN 1 AND 65535", name="smtp_port_range"),
)
Index("uq_mailboxes_address", func.lower(mailboxes.c.address), unique=True)

# Every message a mailbox took, whatever became of it: the duplicate guard (one row per
# Message-ID, or per raw-bytes digest when there is none) and the threading lookup.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    _id(),
    Column("mailbox_id", BigInteger, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", Text),
    Column("outcome", String(24), nullable=False),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="SET NULL")),
    Column("comment_id", BigInteger, ForeignKey("comments.id", ondelete="SET NULL")),
    # The raw message in the blob store.
    Column("raw_sha256", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _one_of("outcome", enums.EmailIngestOutcome),
)
Index(
    "uq_inbound_messages_mailbox_message",
    inbound_messages.c.mailbox_id,
    func.coalesce(inbound_messages.c.message_id, inbound_messages.c.raw_sha256),
    unique=True,
)
Index(
    "ix_inbound_messages_message_id",
    inbound_messages.c.message_id,
    postgresql_where=inbound_messages.c.message_id.isnot(None),
)

# Messages refused as unreadable (REJECTED): kept, raw, for a person to look at and retry.
mail_quarantine = Table(
    "mail_quarantine",
    metadata,
    _id(),
    Column("mailbox_id", BigInteger, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("raw_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False, server_default=text("''")),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retried_at", DateTime(timezone=True)),
    # What the last retry made of it (`helpdesk mail quarantine --retry`); null before any. A
    # message is held while this is null or REJECTED.
    Column("retry_outcome", String(32)),
)
Index("ix_mail_quarantine_mailbox_received", mail_quarantine.c.mailbox_id, mail_quarantine.c.received_at)

# The mail outbox: every message we send, written in the transaction of what causes it (a PUBLIC
# agent reply, a new ticket's acknowledgement) and sent after commit by the sender loop, at
# least once. The row keeps what the message is built from and its own Message-ID, so every
# retry sends the same message; attachments are the comment's.
email_deliveries = Table(
    "email_deliveries",
    metadata,
    _id(),
    Column("kind", String(16), nullable=False),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE")),
    Column("comment_id", BigInteger, ForeignKey("comments.id", ondelete="CASCADE")),
    # Null: sent through HELPDESK_SMTP_URL (system mail, or a mailbox deleted since).
    Column("mailbox_id", BigInteger, ForeignKey("mailboxes.id", ondelete="SET NULL")),
    Column("to_addresses", ARRAY(Text), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("in_reply_to", Text),
    _text_array("thread_references"),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # When the sender may try next; set only while QUEUED.
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    _created_at(),
    _updated_at(),
    _one_of("kind", enums.EmailDeliveryKind),
    _one_of("status", enums.EmailDeliveryStatus),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
)
Index("uq_email_deliveries_message_id", email_deliveries.c.message_id, unique=True)
Index(
    "uq_email_deliveries_comment",
    email_deliveries.c.comment_id,
    unique=True,
    postgresql_where=email_deliveries.c.comment_id.isnot(None),
)
# The sender's claim: due deliveries, oldest first.
Index(
    "ix_email_deliveries_due",
    email_deliveries.c.next_attempt_at,
    postgresql_where=email_deliveries.c.status == "QUEUED",
)
# In order per ticket: an earlier delivery still queued holds back the later ones.
Index("ix_email_deliveries_ticket", email_deliveries.c.ticket_id, email_deliveries.c.id)
# Bounces name the recipient (Final-Recipient); acknowledgements are rate-limited per recipient.
Index("ix_email_deliveries_to", email_deliveries.c.to_addresses, postgresql_using="gin")

# ---------------------------------------------------------------- event-log consumers

# Durable readers of the event log (automations, webhook fan-out): where each has got to. A
# consumer's row is locked while a batch is handled, so one process at a time handles its
# events, in log order; the handling and the move of the position commit together.
event_consumers = Table(
    "event_consumers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("txid", BigInteger, nullable=False),
    Column("event_id", BigInteger, nullable=False),
    _updated_at(),
)

# ---------------------------------------------------------------- macros

# Canned replies with actions. owner_agent_id null: shared with every agent (supervisors and
# admins manage those); set: the owner's personal macro, invisible to everyone else.
macros = Table(
    "macros",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("body", Text),
    Column("visibility", String(16), nullable=False),
    # [{"type": AutomationActionType, "value": {...}}], as app.domain.ticket_actions stores them.
    Column("actions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("owner_agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE")),
    Column("usage_count", Integer, nullable=False, server_default=text("0")),
    _created_at(),
    _updated_at(),
    _one_of("visibility", enums.CommentVisibility),
    CheckConstraint("usage_count >= 0", name="usage_count_non_negative"),
)
Index("ix_macros_owner_agent_id", macros.c.owner_agent_id)

# ---------------------------------------------------------------- notifications

notifications = Table(
    "notifications",
    metadata,
    _id(),
    # The writing transaction, as on ticket_events: the live stream hands notifications out in
    # commit order below the same horizon, so none turns up behind a position already passed.
    Column("txid", BigInteger, nullable=False, server_default=text("pg_current_xact_id()::text::bigint")),
    Column("agent_id", BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE")),
    Column("message", Text, nullable=False),
    _created_at(),
    Column("read_at", DateTime(timezone=True)),
    _one_of("kind", enums.NotificationKind),
)
# "My newest" (the list, newest first) and "my unread" (the bell's count, unreadOnly pages).
Index("ix_notifications_agent_newest", notifications.c.agent_id, notifications.c.id)
Index(
    "ix_notifications_agent_unread",
    notifications.c.agent_id,
    notifications.c.id,
    postgresql_where=notifications.c.read_at.is_(None),
)
# The live stream: my notifications after a position, in commit order.
Index("ix_notifications_agent_cursor", notifications.c.agent_id, notifications.c.txid, notifications.c.id)

# ---------------------------------------------------------------- outbound webhooks

# Partner URLs that receive ticket events. The secret signs the bodies, so it is stored
# encrypted (app.auth.secrets), never hashed. `created_txid`: events of later transactions only.
webhooks = Table(
    "webhooks",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    # Empty: every type / every group.
    _text_array("event_types"),
    Column("group_ids", ARRAY(BigInteger), nullable=False, server_default=text("'{}'::bigint[]")),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("disabled_at", DateTime(timezone=True)),
    Column("created_txid", BigInteger, nullable=False, server_default=text("pg_current_xact_id()::text::bigint")),
    _created_at(),
    _updated_at(),
)

# One row per (webhook, event): the fan-out writes it, the deliverer claims it when due. Ids
# follow the log's order per webhook, so the earliest undelivered row of a (webhook, ticket)
# is the one to send, and it holds back the later ones. `body` is fixed when the row is written:
# every attempt sends the same bytes.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    Column("webhook_id", BigInteger, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, ForeignKey("ticket_events.id", ondelete="CASCADE"), nullable=False),
    Column("ticket_id", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # When the deliverer may try next; set only while PENDING or RETRYING.
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("response_status", Integer),
    # At most 1 KB of the last response.
    Column("response_body", Text),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    _created_at(),
    _updated_at(),
    UniqueConstraint("webhook_id", "event_id"),
    _one_of("status", enums.WebhookDeliveryStatus),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
)
# The deliverer's claim: due rows, soonest first.
Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=webhook_deliveries.c.status.in_(["PENDING", "RETRYING"]),
)
# In order per (webhook, ticket): is there an earlier undelivered row?
Index(
    "ix_webhook_deliveries_ticket",
    webhook_deliveries.c.webhook_id,
    webhook_deliveries.c.ticket_id,
    webhook_deliveries.c.id,
    postgresql_where=webhook_deliveries.c.status.in_(["PENDING", "RETRYING"]),
)
# Webhook.deliveries, newest first; and the cascade when a ticket (and its events) goes.
Index("ix_webhook_deliveries_webhook", webhook_deliveries.c.webhook_id, webhook_deliveries.c.id)
Index("ix_webhook_deliveries_event_id", webhook_deliveries.c.event_id)
# The delivery log's sweep (30 days).
Index("ix_webhook_deliveries_created_at", webhook_deliveries.c.created_at)

# ---------------------------------------------------------------- automations

# Rules that act by themselves (app.domain.automations): fired by the "automations" event-log
# consumer in `position` order. Conditions and actions as their domain modules store them.
automations = Table(
    "automations",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("position", Integer, nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("status", String(16)),
    Column("after_seconds", Integer),
    Column("conditions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("actions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("stop_processing", Boolean, nullable=False, server_default=text("false")),
    Column("fired_count", Integer, nullable=False, server_default=text("0")),
    Column("last_fired_at", DateTime(timezone=True)),
    _created_at(),
    _updated_at(),
    _one_of("trigger", enums.AutomationTrigger),
    CheckConstraint("fired_count >= 0", name="fired_count_non_negative"),
)
# The consumer reads the enabled ones of a trigger, in order.
Index("ix_automations_trigger_position", automations.c.trigger, automations.c.position, automations.c.id)

# One row per (automation, triggering event): whatever happens, an automation fires at most
# once for an event (the primary key refuses a second row).
automation_runs = Table(
    "automation_runs",
    metadata,
    Column("automation_id", BigInteger, ForeignKey("automations.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", BigInteger, ForeignKey("ticket_events.id", ondelete="CASCADE"), primary_key=True),
    _created_at(),
)
Index("ix_automation_runs_event_id", automation_runs.c.event_id)

# TIME_IN_STATUS: when each (automation, stint of a ticket in the automation's status) falls
# due. A stint is named by the event that began it (CREATED for NEW, else STATUS_CHANGED), so
# automation_runs' key makes it fire once per stint. Rows go when they fire or the stint ends.
automation_timers = Table(
    "automation_timers",
    metadata,
    Column("automation_id", BigInteger, ForeignKey("automations.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", BigInteger, ForeignKey("ticket_events.id", ondelete="CASCADE"), primary_key=True),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
)
# The scheduler claims the earliest due; a status change drops the ticket's timers.
Index("ix_automation_timers_due_at", automation_timers.c.due_at)
Index("ix_automation_timers_ticket_id", automation_timers.c.ticket_id)

# ---------------------------------------------------------------- intake configuration version

# One row: the id of the last transaction that changed what intake decides by (routing rules,
# custom field definitions, SLA policies, business calendars, groups), written by a trigger on
# each of those tables (migration 0021). A process caches that configuration and reads this
# one value to know its copy is current (app.services.intake_config). A transaction id never
# repeats, so a value once seen always means the same configuration.
intake_config_version = Table(
    "intake_config_version",
    metadata,
    Column("id", SmallInteger, primary_key=True, server_default=text("1")),
    Column("version", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
