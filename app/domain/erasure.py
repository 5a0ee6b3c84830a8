"""What erasing a customer leaves of their data (eraseCustomer): the fixed texts that replace it,
and the scrubbing of free-form JSON (event data, webhook bodies) that may quote it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ERASED_NAME = "已删除客户 / Erased customer"
ERASED_TEXT = "[erased]"
# Keys of event data that hold the ticket's or the customer's words rather than ids, statuses
# or counts: their values are replaced whatever they hold.
_WORDS = frozenset(
    {"subject", "description", "resolution", "filename", "before", "after", "body", "message", "comment", "note"}
)
# Fields named in an UPDATED event's `changes` whose from/to are the customer's words.
_CHANGED_WORDS = frozenset({"subject", "description", "customFields", "externalRef", "resolution"})
# Personal strings shorter than this are not searched for inside other text: a two-letter
# Latin name would erase every word that contains it. Two Han characters are a whole name.
MIN_NEEDLE = 3
MIN_CJK_NEEDLE = 2


def needles(values: Iterable[str | None]) -> tuple[str, ...]:
    """The customer's personal strings (name, email, phone, company...), lowercased, for
    `scrub_json`; empty and very short ones are left out."""
    found = {v.strip().lower() for v in values if v and len(v.strip()) >= _least(v.strip())}
    return tuple(sorted(found))


def _least(text: str) -> int:
    return MIN_CJK_NEEDLE if any(ord(ch) > 0x2E7F for ch in text) else MIN_NEEDLE


def _mentions(text: str, found: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(n in lowered for n in found)


def scrub_json(value: Any, found: tuple[str, ...]) -> Any:
    """`value` with every string that mentions one of `found` replaced by ERASED_TEXT (keys kept,
    so the shape a reader relies on stays)."""
    if isinstance(value, str):
        return ERASED_TEXT if _mentions(value, found) else value
    if isinstance(value, Mapping):
        return {k: scrub_json(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, found) for v in value]
    return value


def scrub_event_data(data: Mapping[str, Any], found: tuple[str, ...]) -> dict[str, Any]:
    """An event of an erased customer's ticket without their words: the known word-holding keys
    (a CREATED event's subject, an UPDATED change of subject or custom fields, a FIELD_CHANGED's
    before and after, an attachment's file name, a rating's comment) become ERASED_TEXT, and any other string that
    mentions a personal string too. Ids, statuses, versions and times stay."""
    scrubbed: dict[str, Any] = {}
    for key, value in data.items():
        if key in _WORDS and value is not None:
            scrubbed[key] = ERASED_TEXT
        elif key == "changes" and isinstance(value, Mapping):
            scrubbed[key] = {
                field: ({k: ERASED_TEXT for k in change} if isinstance(change, Mapping) else ERASED_TEXT)
                if field in _CHANGED_WORDS
                else scrub_json(change, found)
                for field, change in value.items()
            }
        else:
            scrubbed[key] = scrub_json(value, found)
    return scrubbed
