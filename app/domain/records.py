"""Plain records of what is stored, passed between layers (no ORM identity, no lazy loading)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    name: str
    email: str | None
    phone: str | None
    company: str | None
    tier: str
    language: str | None
    tags: list[str]
    external_refs: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    email_bounced_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: int
    name: str
    email: str
    role: str
    presence: str
    on_vacation: bool
    skills: list[str]
    languages: list[str]
    capacity: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: int
    name: str
    description: str | None
    assignment_strategy: str
    escalation_group_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    number: int
    subject: str
    description: str
    status: str
    priority: str
    channel: str
    category: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    external_ref: str | None
    language: str | None
    sentiment: str
    escalation_level: int
    customer_id: int
    assignee_id: int | None
    group_id: int | None
    parent_id: int | None
    merged_into_id: int | None
    required_skills: list[str]
    resolution: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_due_at: datetime | None
    mailbox_id: int | None = None


@dataclass(frozen=True, slots=True)
class CommentRecord:
    id: int
    ticket_id: int
    body: str
    visibility: str
    author_agent_id: int | None
    author_customer_id: int | None
    created_at: datetime
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    id: int
    ticket_id: int
    comment_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TicketEventRecord:
    id: int
    txid: int
    ticket_id: int
    group_id: int | None
    type: str
    actor_agent_id: int | None
    actor_customer_id: int | None
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TicketLinkRecord:
    ticket_id: int
    other_ticket_id: int
    kind: str


@dataclass(frozen=True, slots=True)
class SatisfactionRecord:
    ticket_id: int
    score: int
    comment: str | None
    rated_at: datetime
    speed: int | None = None
    professionalism: int | None = None
    attitude: int | None = None


@dataclass(frozen=True, slots=True)
class SubTicketProgressRecord:
    total: int
    resolved: int
    open: int


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: int
    name: str
    agent_id: int
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SlaClockRecord:
    """One SLA clock (a target of a ticket in one cycle); `id` is 0 until it is stored."""

    id: int
    ticket_id: int
    policy_id: int | None
    target: str
    cycle: int
    state: str
    target_seconds: int
    elapsed_seconds: int
    started_at: datetime
    running_since: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    next_check_at: datetime | None


@dataclass(frozen=True, slots=True)
class BusinessCalendarRecord:
    id: int
    name: str
    timezone: str
    hours: list[dict[str, Any]]
    holidays: list[str]


@dataclass(frozen=True, slots=True)
class SlaPolicyRecord:
    id: int
    name: str
    position: int
    enabled: bool
    match_priorities: list[str]
    match_tiers: list[str]
    match_categories: list[str]
    match_channels: list[str]
    match_group_ids: list[int]
    first_response_seconds: int | None
    resolution_seconds: int | None
    warning_at_percent: int
    calendar_id: int | None
    escalate_priority_on_breach: bool


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    id: int
    title: str
    body: str
    category: str | None
    tags: list[str]
    language: str | None
    status: str
    author_agent_id: int | None
    source_ticket_id: int | None
    view_count: int
    helpful_count: int
    not_helpful_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArticleMatchRecord:
    """A search hit: the article, how well it matched, and an excerpt around the matched words."""

    article: ArticleRecord
    score: float
    snippet: str


@dataclass(frozen=True, slots=True)
class MailboxRecord:
    """A mailbox as shown: everything but the passwords."""

    id: int
    name: str
    address: str
    group_id: int | None
    enabled: bool
    imap_host: str | None
    imap_port: int | None
    imap_security: str | None
    imap_username: str | None
    imap_folder: str | None
    smtp_host: str | None
    smtp_port: int | None
    smtp_security: str | None
    smtp_username: str | None
    smtp_from_name: str | None
    acknowledgement_template: str | None
    last_fetched_at: datetime | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EmailDeliveryRecord:
    """Where the mail copy of a comment stands (Comment.emailDelivery)."""

    comment_id: int
    status: str
    to_addresses: list[str]
    message_id: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class MacroRecord:
    id: int
    name: str
    body: str | None
    visibility: str
    # As app.domain.ticket_actions stores them: [{"type": ..., "value": {...}}].
    actions: list[dict[str, Any]]
    # None: shared with every agent.
    owner_agent_id: int | None
    usage_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AutomationRecord:
    id: int
    name: str
    enabled: bool
    position: int
    trigger: str
    status: str | None
    after_seconds: int | None
    # As app.domain.automation_conditions and app.domain.ticket_actions store them.
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    stop_processing: bool
    fired_count: int
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    txid: int
    agent_id: int
    kind: str
    ticket_id: int | None
    message: str
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A webhook as shown: everything but its secret."""

    id: int
    name: str
    url: str
    enabled: bool
    event_types: list[str]
    group_ids: list[int]
    consecutive_failures: int
    disabled_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    id: int
    webhook_id: int
    event_id: int
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
