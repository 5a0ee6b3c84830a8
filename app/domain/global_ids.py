"""Opaque global IDs ("Ticket:42", base64url): clients never parse them."""

from __future__ import annotations

from app.domain.cursors import from_base64url, to_base64url


def encode(type_name: str, pk: int) -> str:
    return to_base64url(f"{type_name}:{pk}".encode())


def is_row_id(value: object) -> bool:
    """A primary key as the database stores it: a positive bigint (not a bool, not a float)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def decode(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our IDs."""
    try:
        raw = from_base64url(global_id).decode()
        type_name, pk = raw.split(":", 1)
        value = int(pk)
    except (ValueError, UnicodeDecodeError):
        return None
    if not type_name.isalpha() or not is_row_id(value):
        return None
    return type_name, value


def decode_as(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    decoded = decode(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
