"""Rules applied when a request becomes a ticket."""

from __future__ import annotations

from app.domain.enums import CustomerTier, TicketPriority


def initial_priority(
    requested: TicketPriority | None, tier: CustomerTier, vip_minimum: TicketPriority
) -> TicketPriority:
    """The requested priority (NORMAL when none), never below the VIP floor for VIP customers."""
    priority = requested or TicketPriority.NORMAL
    if tier is CustomerTier.VIP:
        priority = priority.at_least(vip_minimum)
    return priority


def ticket_language(given: str | None, customer_language: str | None) -> str | None:
    """The given language, else the customer's (text detection joins in with routing)."""
    return given or customer_language
