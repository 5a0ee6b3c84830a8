"""The contract's enums: the domain's own classes, registered with Strawberry (one definition, one spelling)."""

from __future__ import annotations

import strawberry

from app.domain.enums import (
    AgentPresence,
    AgentRole,
    ArticleStatus,
    AssignmentStrategy,
    Channel,
    CommentVisibility,
    CustomerTier,
    EmailIngestOutcome,
    ErrorCode,
    MailSecurity,
    OrderDirection,
    Sentiment,
    SlaClockState,
    SlaEventKind,
    SlaTarget,
    TicketEventType,
    TicketLinkKind,
    TicketOrderField,
    TicketPriority,
    TicketStatus,
    WebhookDeliveryStatus,
)

for _enum in (
    TicketStatus,
    TicketPriority,
    Channel,
    CustomerTier,
    Sentiment,
    AgentRole,
    AgentPresence,
    AssignmentStrategy,
    CommentVisibility,
    TicketLinkKind,
    SlaTarget,
    SlaClockState,
    SlaEventKind,
    ArticleStatus,
    TicketEventType,
    TicketOrderField,
    OrderDirection,
    ErrorCode,
    MailSecurity,
    EmailIngestOutcome,
    WebhookDeliveryStatus,
):
    strawberry.enum(_enum)

__all__ = [
    "AgentPresence",
    "AgentRole",
    "ArticleStatus",
    "AssignmentStrategy",
    "Channel",
    "CommentVisibility",
    "CustomerTier",
    "EmailIngestOutcome",
    "ErrorCode",
    "MailSecurity",
    "OrderDirection",
    "Sentiment",
    "SlaClockState",
    "SlaEventKind",
    "SlaTarget",
    "TicketEventType",
    "TicketLinkKind",
    "TicketOrderField",
    "TicketPriority",
    "TicketStatus",
    "WebhookDeliveryStatus",
]
