"""The excerpt a search hit shows: a short stretch of the article around the matched words."""

from __future__ import annotations

from collections.abc import Collection

from app.domain.segmentation import find_lexemes

DEFAULT_WIDTH = 120
ELLIPSIS = "…"


def snippet(text: str, wanted: Collection[str], width: int = DEFAULT_WIDTH) -> str:
    """About `width` characters of plain `text`, placed to show as many different matched
    lexemes as fit, starting a little before the first of them; the opening of the text when
    nothing matched."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    hits = find_lexemes(flat, wanted)
    if not hits:
        return _cut(flat, 0, width)
    best_start, best_score = hits[0].start, 0
    for i, first in enumerate(hits):
        seen = {h.lexeme for h in hits[i:] if h.end <= first.start + width}
        if len(seen) > best_score:
            best_start, best_score = first.start, len(seen)
    lead = min(width // 4, best_start)
    return _cut(flat, best_start - lead, width)


def _cut(text: str, start: int, width: int) -> str:
    start = max(0, min(start, len(text) - width))
    # Start and end on a space when one is near, so no Latin word is cut in half.
    if start > 0:
        space = text.rfind(" ", max(0, start - 12), start + 1)
        if space != -1:
            start = space + 1
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", end - 12, end)
        if space > start:
            end = space
    excerpt = text[start:end].strip()
    return f"{ELLIPSIS if start > 0 else ''}{excerpt}{ELLIPSIS if end < len(text) else ''}"
