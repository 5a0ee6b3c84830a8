"""Full-text search in SQL: documents and queries built by app.domain.segmentation, cast to
tsvector / tsquery (PostgreSQL never parses the raw text), matched through GIN indexes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func, literal, literal_column
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from app.domain import segmentation

# ts_rank weights for {D, C, B, A}: a title (A) match counts 2.5 times a body (B) match.
RANK_WEIGHTS: ColumnElement[Any] = literal_column("'{0.1, 0.2, 0.4, 1.0}'::float4[]")
# Normalisation 1: divide by 1 + log(document length), so a long article does not win by
# repeating every word.
RANK_NORMALISATION = 1


def document(fields: Sequence[tuple[str, str]]) -> ColumnElement[Any]:
    """The weighted tsvector of several plain texts, e.g. [(title, "A"), (body, "B")]."""
    return cast(literal(segmentation.tsvector_literal(fields)), TSVECTOR)


def vector(tsvector_text: str) -> ColumnElement[Any]:
    """A tsvector from a literal built by app.domain.segmentation."""
    return cast(literal(tsvector_text), TSVECTOR)


def query(tsquery_text: str | ColumnElement[Any]) -> ColumnElement[Any]:
    """A tsquery from a literal built by app.domain.segmentation (or a column holding one)."""
    return cast(literal(tsquery_text) if isinstance(tsquery_text, str) else tsquery_text, TSQUERY)


def matches(vector: ColumnElement[Any], tsquery: ColumnElement[Any]) -> ColumnElement[bool]:
    return vector.op("@@")(tsquery)


def rank(vector: ColumnElement[Any], tsquery: ColumnElement[Any]) -> ColumnElement[float]:
    return func.ts_rank(RANK_WEIGHTS, vector, tsquery, RANK_NORMALISATION, type_=Float)
