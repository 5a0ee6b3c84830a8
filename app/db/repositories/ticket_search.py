"""The `search` filter of ticket lists: every word of the search, over subject, description
and comments (app.services.ticket_search keeps the documents)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, false

from app.auth.policy import may_read_internal_notes
from app.db import fulltext, tables
from app.domain import segmentation
from app.domain.enums import CommentVisibility
from app.domain.principal import Viewer

# Where a word came from: subject A, description B, public comments C, internal notes D.
SUBJECT_WEIGHT, DESCRIPTION_WEIGHT, PUBLIC_COMMENT_WEIGHT, INTERNAL_NOTE_WEIGHT = "A", "B", "C", "D"
_WITHOUT_INTERNAL_NOTES = "ABC"


def document_literal(subject: str, description: str, comments: Iterable[tuple[str, str]]) -> str:
    """A ticket's search document (tsvector literal) from its subject, description and
    comments as (body, visibility), oldest first."""
    fields = [(subject, SUBJECT_WEIGHT), (segmentation.strip_markdown(description), DESCRIPTION_WEIGHT)]
    for body, visibility in comments:
        weight = PUBLIC_COMMENT_WEIGHT if visibility == CommentVisibility.PUBLIC.value else INTERNAL_NOTE_WEIGHT
        fields.append((segmentation.strip_markdown(body), weight))
    return segmentation.tsvector_literal(fields)


def search_condition(principal: Viewer, text: str) -> ColumnElement[bool]:
    """Tickets containing every word of `text` (a word's sub-words and spellings are alternatives).
    Callers who may not read internal notes do not find tickets by words only a note contains."""
    weights = "" if may_read_internal_notes(principal) else _WITHOUT_INTERNAL_NOTES
    tsquery = segmentation.tsquery_all_literal(segmentation.query_groups(text), weights)
    if tsquery is None:
        return false()
    return fulltext.matches(tables.tickets.c.search_vector, fulltext.query(tsquery))
