"""Rules applied when a request becomes a ticket: language, priority, tags."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.enums import CustomerTier, Sentiment, TicketPriority

NEGATIVE_SENTIMENT_TAG = "negative-sentiment"


def initial_priority(
    requested: TicketPriority | None,
    tier: CustomerTier,
    vip_minimum: TicketPriority,
    *,
    routed: TicketPriority | None = None,
    sentiment: Sentiment = Sentiment.NEUTRAL,
) -> TicketPriority:
    """A priority the caller gave stands; otherwise the routing rules' (else NORMAL), one step
    higher for an angry message. VIP customers never get less than the VIP floor."""
    if requested is not None:
        priority = requested
    else:
        priority = routed or TicketPriority.NORMAL
        if sentiment is Sentiment.NEGATIVE:
            priority = priority.raised()
    if tier is CustomerTier.VIP:
        priority = priority.at_least(vip_minimum)
    return priority


def ticket_language(given: str | None, customer_language: str | None, detected: str | None = None) -> str | None:
    """The given language, else the customer's, else the one detected from the text."""
    return given or customer_language or detected


def intake_tags(given: Sequence[str], routed: Sequence[str], sentiment: Sentiment) -> list[str]:
    tags = list(dict.fromkeys([*given, *routed]))
    if sentiment is Sentiment.NEGATIVE and NEGATIVE_SENTIMENT_TAG not in tags:
        tags.append(NEGATIVE_SENTIMENT_TAG)
    return tags
