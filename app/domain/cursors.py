"""Opaque cursors (and the base64url text of global ids): one codec for every kind of page.

A cursor is base64url of `<tag>:<body>`, the tag naming the kind of page it belongs to. Each
kind decodes only its own tag: a cursor of one kind passed where another is expected is a
clear input error naming both, never a 500. The body is JSON for list pages and `txid:id`
for event cursors (the format clients have saved since version 1).
"""

from __future__ import annotations

import base64
import binascii
from enum import Enum
from typing import Any

import orjson

from app.domain.errors import InvalidInput


def to_base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def from_base64url(text: str) -> bytes:
    """The bytes of base64url text (padding optional); ValueError for anything else."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


class CursorKind(Enum):
    TICKETS = ("tk1", "ticket list")
    EVENTS = ("ev1", "event")
    CUSTOMERS = ("cu1", "customer list")
    ARTICLES = ("ka1", "article list")
    NOTIFICATIONS = ("nt1", "notification list")

    def __init__(self, tag: str, label: str) -> None:
        self.tag = tag
        self.label = label


_BY_TAG = {kind.tag: kind for kind in CursorKind}


def encode(kind: CursorKind, body: list[Any] | str) -> str:
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return to_base64url(f"{kind.tag}:{text}".encode())


def decode(kind: CursorKind, cursor: str, field: str = "after") -> Any:
    """The body of a cursor of `kind`: a JSON list for list pages, text for event cursors.
    Raises InvalidInput on `field` for anything else; the caller checks the body's shape."""
    try:
        tag, _, body = from_base64url(cursor).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise _invalid(kind, field) from None
    if tag != kind.tag:
        other = _BY_TAG.get(tag)
        if other is not None:
            raise InvalidInput(f"this is a cursor of the {other.label} pages, not of the {kind.label} pages", [field])
        raise _invalid(kind, field)
    if kind is CursorKind.EVENTS:
        return body
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _invalid(kind, field) from None
    if not isinstance(payload, list):
        raise _invalid(kind, field)
    return payload


def _invalid(kind: CursorKind, field: str) -> InvalidInput:
    return InvalidInput(f"not a valid {kind.label} cursor", [field])
