"""Which ticket events a webhook receives."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.records import TicketEventRecord


@dataclass(frozen=True, slots=True)
class WebhookFilter:
    webhook_id: int
    # Empty: every type / every group.
    event_types: frozenset[str]
    group_ids: frozenset[int]
    # The transaction that created the webhook: it receives the events of later ones only.
    created_txid: int


def receives(webhook: WebhookFilter, event: TicketEventRecord) -> bool:
    """An event of a later transaction, of a chosen type, of a ticket in a chosen group when
    it happened (the event's group_id)."""
    if event.txid <= webhook.created_txid:
        return False
    if webhook.event_types and event.type not in webhook.event_types:
        return False
    return not webhook.group_ids or (event.group_id is not None and event.group_id in webhook.group_ids)
