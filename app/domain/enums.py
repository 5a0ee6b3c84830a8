"""The vocabulary of the helpdesk, shared by every layer (values match the API contract)."""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    NEW = "NEW"
    OPEN = "OPEN"
    PENDING = "PENDING"
    ON_HOLD = "ON_HOLD"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


# Statuses that count as "open" for capacity, openTicketCount, queueLength and wallboards.
OPEN_STATUSES: frozenset[TicketStatus] = frozenset(
    {TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD}
)


class TicketPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"

    @property
    def rank(self) -> int:
        return _PRIORITY_ORDER.index(self)

    def raised(self, steps: int = 1) -> TicketPriority:
        return _PRIORITY_ORDER[min(len(_PRIORITY_ORDER) - 1, self.rank + steps)]

    def at_least(self, other: TicketPriority) -> TicketPriority:
        return self if self.rank >= other.rank else other


_PRIORITY_ORDER = [TicketPriority.LOW, TicketPriority.NORMAL, TicketPriority.HIGH, TicketPriority.URGENT]


class Channel(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    WEB_FORM = "WEB_FORM"
    CHAT = "CHAT"
    SOCIAL = "SOCIAL"
    APP = "APP"
    API = "API"


class CustomerTier(StrEnum):
    STANDARD = "STANDARD"
    VIP = "VIP"


class Sentiment(StrEnum):
    NEGATIVE = "NEGATIVE"
    NEUTRAL = "NEUTRAL"
    POSITIVE = "POSITIVE"


class AgentRole(StrEnum):
    ADMIN = "ADMIN"
    SUPERVISOR = "SUPERVISOR"
    AGENT = "AGENT"

    @property
    def rank(self) -> int:
        return {AgentRole.AGENT: 0, AgentRole.SUPERVISOR: 1, AgentRole.ADMIN: 2}[self]

    def at_least(self, other: AgentRole) -> bool:
        return self.rank >= other.rank


class AgentPresence(StrEnum):
    ONLINE = "ONLINE"
    AWAY = "AWAY"
    OFFLINE = "OFFLINE"


class AssignmentStrategy(StrEnum):
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_LOADED = "LEAST_LOADED"
    SKILL_BASED = "SKILL_BASED"
    MANUAL = "MANUAL"


class CommentVisibility(StrEnum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"


class TicketLinkKind(StrEnum):
    RELATED = "RELATED"
    DUPLICATE_OF = "DUPLICATE_OF"
    CAUSED_BY = "CAUSED_BY"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "FIRST_RESPONSE"
    RESOLUTION = "RESOLUTION"


class SlaClockState(StrEnum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    MET = "MET"
    BREACHED = "BREACHED"


class SlaEventKind(StrEnum):
    WARNING = "WARNING"
    BREACHED = "BREACHED"


class ArticleStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class TicketEventType(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    PRIORITY_CHANGED = "PRIORITY_CHANGED"
    ASSIGNED = "ASSIGNED"
    UNASSIGNED = "UNASSIGNED"
    COLLABORATOR_ADDED = "COLLABORATOR_ADDED"
    COMMENTED = "COMMENTED"
    ATTACHMENT_ADDED = "ATTACHMENT_ADDED"
    ESCALATED = "ESCALATED"
    SLA_WARNING = "SLA_WARNING"
    SLA_BREACHED = "SLA_BREACHED"
    SUB_TICKET_CREATED = "SUB_TICKET_CREATED"
    SUB_TICKET_RESOLVED = "SUB_TICKET_RESOLVED"
    LINKED = "LINKED"
    MERGED = "MERGED"
    RATED = "RATED"
    # A reply's copy to the customer gave up (last retry, or refused for good): data has the reason.
    EMAIL_FAILED = "EMAIL_FAILED"
    # An agent applied a macro: data names it and the actions it ran.
    MACRO_APPLIED = "MACRO_APPLIED"
    # Ticket.customFields changed: data has the key, before and after (one event per key).
    FIELD_CHANGED = "FIELD_CHANGED"
    # An automation fired on the ticket: data names it, the trigger and each action's outcome.
    AUTOMATION_APPLIED = "AUTOMATION_APPLIED"
    # The ticket's customer was erased (eraseCustomer): data holds no personal data, only the fact.
    CUSTOMER_ERASED = "CUSTOMER_ERASED"


class FieldType(StrEnum):
    """The kinds of a defined custom field (app.domain.ticket_fields checks their values)."""

    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    DROPDOWN = "DROPDOWN"
    CHECKBOX = "CHECKBOX"


class AutomationTrigger(StrEnum):
    TICKET_CREATED = "TICKET_CREATED"
    TICKET_UPDATED = "TICKET_UPDATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    CUSTOMER_REPLIED = "CUSTOMER_REPLIED"
    AGENT_REPLIED = "AGENT_REPLIED"
    SLA_WARNING = "SLA_WARNING"
    SLA_BREACHED = "SLA_BREACHED"
    # Time-based: the ticket has been in `status` for `afterSeconds`.
    TIME_IN_STATUS = "TIME_IN_STATUS"


class ConditionOperator(StrEnum):
    EQUALS = "EQUALS"
    NOT_EQUALS = "NOT_EQUALS"
    IN = "IN"
    NOT_IN = "NOT_IN"
    CONTAINS = "CONTAINS"
    NOT_CONTAINS = "NOT_CONTAINS"
    GREATER_THAN = "GREATER_THAN"
    LESS_THAN = "LESS_THAN"
    IS_SET = "IS_SET"
    IS_NOT_SET = "IS_NOT_SET"


class AutomationActionType(StrEnum):
    """What a macro or an automation does to a ticket (app.domain.ticket_actions has their values)."""

    SET_PRIORITY = "SET_PRIORITY"
    SET_CATEGORY = "SET_CATEGORY"
    SET_STATUS = "SET_STATUS"
    ADD_TAGS = "ADD_TAGS"
    REMOVE_TAGS = "REMOVE_TAGS"
    ASSIGN_TO_GROUP = "ASSIGN_TO_GROUP"
    ASSIGN_TO_AGENT = "ASSIGN_TO_AGENT"
    ADD_INTERNAL_NOTE = "ADD_INTERNAL_NOTE"
    EMAIL_CUSTOMER = "EMAIL_CUSTOMER"
    NOTIFY_AGENTS = "NOTIFY_AGENTS"
    ESCALATE = "ESCALATE"


class NotificationKind(StrEnum):
    """Why an agent is told something (see app.services.notification_triggers for who gets which)."""

    MENTION = "MENTION"
    ASSIGNED = "ASSIGNED"
    SLA_WARNING = "SLA_WARNING"
    SLA_BREACHED = "SLA_BREACHED"
    AUTOMATION = "AUTOMATION"
    LOW_SATISFACTION = "LOW_SATISFACTION"


class TicketOrderField(StrEnum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    PRIORITY = "PRIORITY"
    SLA_DUE_AT = "SLA_DUE_AT"
    NUMBER = "NUMBER"


class OrderDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    DUPLICATE = "DUPLICATE"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"


class MailSecurity(StrEnum):
    NONE = "NONE"
    STARTTLS = "STARTTLS"
    TLS = "TLS"


class EmailDeliveryStatus(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


class EmailDeliveryKind(StrEnum):
    """What an outgoing mail is: an agent's reply, a new ticket's acknowledgement, or system mail
    (sign-in links, surveys, notifications) sent through HELPDESK_SMTP_URL."""

    REPLY = "REPLY"
    ACKNOWLEDGEMENT = "ACKNOWLEDGEMENT"
    SYSTEM = "SYSTEM"


class WebhookDeliveryStatus(StrEnum):
    """PENDING: not tried yet; RETRYING: failed, tried again at next_attempt_at; FAILED: gave up."""

    PENDING = "PENDING"
    RETRYING = "RETRYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class EmailIngestOutcome(StrEnum):
    CREATED_TICKET = "CREATED_TICKET"
    ADDED_REPLY = "ADDED_REPLY"
    DUPLICATE = "DUPLICATE"
    IGNORED_AUTO_REPLY = "IGNORED_AUTO_REPLY"
    IGNORED_BOUNCE = "IGNORED_BOUNCE"
    REJECTED = "REJECTED"
