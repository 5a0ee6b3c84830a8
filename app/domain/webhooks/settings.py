"""A webhook's settings as an admin gives them: checked, every problem at its field."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import validation as v
from app.domain.enums import TicketEventType
from app.domain.webhooks.endpoint import Endpoint, parse_url

MAX_NAME = 200
# Enough for every event type and a helpdesk's groups; a longer list is a mistake.
MAX_FILTER_ITEMS = 100


@dataclass(frozen=True, slots=True)
class WebhookInput:
    name: str
    url: str
    enabled: bool = True
    event_types: list[TicketEventType] | None = None
    group_ids: list[int] | None = None


@dataclass(frozen=True, slots=True)
class CleanWebhook:
    name: str
    endpoint: Endpoint
    enabled: bool
    event_types: list[str]
    group_ids: list[int]


def clean_webhook(data: WebhookInput) -> CleanWebhook:
    """The settings to store, or InvalidInput / ValidationErrors naming every field at fault.
    The URL's addresses are checked by the service (that needs DNS)."""
    problems = v.Problems()
    name = v.required_text(problems, data.name, ["input", "name"], MAX_NAME)
    endpoint = parse_url(problems, data.url, ["input", "url"])
    event_types = sorted({t.value for t in data.event_types or []})
    group_ids = sorted(set(data.group_ids or []))
    if len(event_types) > MAX_FILTER_ITEMS:
        problems.add(f"must have at most {MAX_FILTER_ITEMS} items", ["input", "eventTypes"])
    if len(group_ids) > MAX_FILTER_ITEMS:
        problems.add(f"must have at most {MAX_FILTER_ITEMS} items", ["input", "groupIds"])
    problems.raise_if_any()
    assert endpoint is not None
    return CleanWebhook(name, endpoint, data.enabled, event_types, group_ids)
