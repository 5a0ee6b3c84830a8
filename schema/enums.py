"""The contract's enums, registered from the domain's own (one definition, one spelling)."""

from __future__ import annotations

import strawberry

from app.domain import enums

TicketStatus = strawberry.enum(enums.TicketStatus)
TicketPriority = strawberry.enum(enums.TicketPriority)
Channel = strawberry.enum(enums.Channel)
CustomerTier = strawberry.enum(enums.CustomerTier)
Sentiment = strawberry.enum(enums.Sentiment)
AgentRole = strawberry.enum(enums.AgentRole)
AgentPresence = strawberry.enum(enums.AgentPresence)
AssignmentStrategy = strawberry.enum(enums.AssignmentStrategy)
CommentVisibility = strawberry.enum(enums.CommentVisibility)
TicketLinkKind = strawberry.enum(enums.TicketLinkKind)
SlaTarget = strawberry.enum(enums.SlaTarget)
SlaClockState = strawberry.enum(enums.SlaClockState)
SlaEventKind = strawberry.enum(enums.SlaEventKind)
ArticleStatus = strawberry.enum(enums.ArticleStatus)
TicketEventType = strawberry.enum(enums.TicketEventType)
TicketOrderField = strawberry.enum(enums.TicketOrderField)
OrderDirection = strawberry.enum(enums.OrderDirection)
ErrorCode = strawberry.enum(enums.ErrorCode)
