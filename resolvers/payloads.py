"""Mapping expected failures to `userErrors`, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.domain.errors import DomainError, NotFound
from schema import ids
from schema.common import user_errors

P = TypeVar("P")


async def attempt(build: Callable[[], Awaitable[P]], failed: Callable[..., P]) -> P:
    """Runs `build`; a DomainError becomes `failed(user_errors=[...])` and nothing is written
    (services raise before or inside their one transaction, which then rolls back)."""
    try:
        return await build()
    except DomainError as error:
        return failed(user_errors=user_errors(error))


def decode_id(global_id: str | None, type_name: str, field: list[str]) -> int:
    """A global ID of the expected type, or NOT_FOUND (a malformed ID is just an unknown one)."""
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        raise NotFound(f"no such {type_name.lower()}", field)
    return pk


def decode_optional_id(global_id: str | None, type_name: str, field: list[str]) -> int | None:
    return None if global_id is None else decode_id(global_id, type_name, field)


def decode_ids(global_ids: list[str] | None, type_name: str, field: list[str]) -> list[int] | None:
    if global_ids is None:
        return None
    return [decode_id(g, type_name, field) for g in global_ids]
