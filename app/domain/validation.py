"""Input rules shared by every way data comes in; each returns the problems it found."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.domain.errors import InvalidInput, ValidationErrors

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{4,32}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Every free-form JSON input (custom fields, external references) is stored in a row that is
# read with every page of its kind: a cap keeps one caller from making every page heavy.
MAX_JSON_BYTES = 32 * 1024


@dataclass(frozen=True, slots=True)
class TextLimits:
    max_subject: int = 500
    max_description: int = 50_000
    max_tags: int = 20
    max_tag_length: int = 50
    max_name: int = 200


class Problems:
    """Accumulates input problems so the caller gets all of them at once."""

    def __init__(self) -> None:
        self.items: list[InvalidInput] = []

    def add(self, message: str, field: Sequence[str]) -> None:
        self.items.append(InvalidInput(message, field))

    def raise_if_any(self) -> None:
        if len(self.items) == 1:
            raise self.items[0]
        if self.items:
            raise ValidationErrors(self.items)


def _has_control_characters(text: str) -> bool:
    # NUL cannot be stored in PostgreSQL text; other C0 controls (bar tab and newlines) are never meant.
    return any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text)


def required_text(problems: Problems, value: str | None, field: Sequence[str], max_length: int) -> str:
    text = (value or "").strip()
    if _has_control_characters(text):
        problems.add("must not contain control characters", field)
    elif not text:
        problems.add("must not be empty", field)
    elif len(text) > max_length:
        problems.add(f"must be at most {max_length} characters", field)
    return text


def optional_text(problems: Problems, value: str | None, field: Sequence[str], max_length: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if _has_control_characters(text):
        problems.add("must not contain control characters", field)
    elif len(text) > max_length:
        problems.add(f"must be at most {max_length} characters", field)
    return text or None


def tags(problems: Problems, values: Sequence[str] | None, field: Sequence[str], limits: TextLimits) -> list[str]:
    """Tags are trimmed, lower-cased for Latin scripts, de-duplicated in order."""
    if values is None:
        return []
    cleaned: list[str] = []
    for value in values:
        tag = value.strip().lower()
        if _has_control_characters(tag):
            problems.add("tags must not contain control characters", field)
        elif not tag:
            problems.add("tags must not be empty", field)
        elif len(tag) > limits.max_tag_length:
            problems.add(f"a tag must be at most {limits.max_tag_length} characters", field)
        elif tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > limits.max_tags:
        problems.add(f"at most {limits.max_tags} tags", field)
    return cleaned


def email(problems: Problems, value: str | None, field: Sequence[str]) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > 254 or not _EMAIL.match(text):
        problems.add("is not a valid email address", field)
    return text.lower()


def phone(problems: Problems, value: str | None, field: Sequence[str]) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _PHONE.match(text) or sum(ch.isdigit() for ch in text) < 4:
        problems.add("is not a valid phone number", field)
        return text
    # Stored normalised so lookups by phone match however it was typed.
    return ("+" if text.startswith("+") else "") + re.sub(r"[^0-9]", "", text)


def language(problems: Problems, value: str | None, field: Sequence[str]) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _LANGUAGE.match(text):
        problems.add("must be a BCP 47 language tag such as zh, en or pt-BR", field)
        return text
    primary, *rest = text.split("-")
    return "-".join([primary.lower(), *rest])


def password(problems: Problems, value: str, field: Sequence[str]) -> str:
    if len(value) < 8:
        problems.add("must be at least 8 characters", field)
    elif len(value) > 1024:
        problems.add("must be at most 1024 characters", field)
    return value


def capacity(problems: Problems, value: int | None, field: Sequence[str]) -> int | None:
    if value is not None and not 0 <= value <= 1000:
        problems.add("must be between 0 and 1000", field)
    return value


def json_object(
    problems: Problems, value: Any, field: Sequence[str], max_bytes: int = MAX_JSON_BYTES
) -> dict[str, Any]:
    """A free-form JSON object of at most `max_bytes` (as compact JSON); null is the empty object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("must be a JSON object", field)
        return {}
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError:  # nested deeper than any real record is
        problems.add("is nested too deeply", field)
        return {}
    if size > max_bytes:
        problems.add(f"must be at most {max_bytes // 1024} KiB of JSON", field)
    return value


@dataclass(frozen=True, slots=True)
class OrderedRuleInput:
    """What every ordered, named rule list shares (routing rules, SLA policies, and the rules to
    come): the first enabled rule by position whose conditions hold is the one that applies."""

    name: str
    position: int | None = None
    enabled: bool = True
    match_channels: list[str] = field(default_factory=list)
    match_tiers: list[str] = field(default_factory=list)
    match_categories: list[str] = field(default_factory=list)


MAX_POSITION = 1_000_000


def ordered_rule(problems: Problems, data: OrderedRuleInput) -> dict[str, object]:
    """The cleaned shared columns (position is the caller's to place)."""
    if data.position is not None and not -MAX_POSITION <= data.position <= MAX_POSITION:
        problems.add(f"must be between -{MAX_POSITION} and {MAX_POSITION}", ["input", "position"])
    categories = list(dict.fromkeys(c.strip().lower() for c in data.match_categories if c.strip()))
    if len(categories) > 100:
        problems.add("at most 100 categories", ["input", "matchCategories"])
    return {
        "name": required_text(problems, data.name, ["input", "name"], 200),
        "enabled": data.enabled,
        "match_channels": list(dict.fromkeys(data.match_channels)),
        "match_tiers": list(dict.fromkeys(data.match_tiers)),
        "match_categories": categories,
    }
