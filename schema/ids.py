"""Opaque global IDs as the schema's ID type (the codec is app.domain.global_ids)."""

from __future__ import annotations

import strawberry

from app.domain.global_ids import decode, decode_as
from app.domain.global_ids import encode as _encode

__all__ = ["decode", "decode_as", "encode"]


def encode(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(_encode(type_name, pk))
