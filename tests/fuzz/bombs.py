"""Small documents that expand into a great deal of work: the fragment bomb and its variants.

Each is a few hundred bytes to a few kilobytes and needs no token. Before the document limits,
the 20-level doubling bomb kept the event loop busy for 5.4 s (and /healthz with it)."""

from __future__ import annotations

LEVELS = 20


def doubling(levels: int = LEVELS, leaf: str = "__typename") -> str:
    """Fragment i spreads fragment i+1 twice: 2^levels copies of the leaf."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ {leaf} }}")
    return "query { ...F0 } " + " ".join(fragments)


def doubling_with_aliases(levels: int = LEVELS) -> str:
    step = "fragment F{i} on Query {{ a: __typename ...F{n} b: __typename ...F{n} }}"
    fragments = [step.format(i=i, n=i + 1) for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ a: __typename b: __typename }}")
    return "query { ...F0 } " + " ".join(fragments)


def doubling_through_inline_fragments(levels: int = LEVELS) -> str:
    fragments = [f"fragment F{i} on Query {{ ... on Query {{ ...F{i + 1} ...F{i + 1} }} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ __typename }}")
    return "query { ... on Query { ...F0 } } " + " ".join(fragments)


def wide(spreads: int = 1000) -> str:
    """One fragment spread a thousand times in one selection set."""
    return "query { " + "...F " * spreads + "} fragment F on Query { __typename }"


def deep_inline(levels: int = 150) -> str:
    """Inline fragments nested as deep as the parser allows (200): the depth limit counts only
    fields, so before the nesting limit nothing refused this."""
    return "query { " + "... on Query { " * levels + "__typename" + " }" * levels + " }"


def repeated_fields(copies: int = 240) -> str:
    """Not a fragment at all, and within the size limits: fields of one name, which validation
    compares pairwise (graphql-core's budget for that is what refuses it)."""
    return "query { " + " ".join(["me { id }"] * copies) + " }"


BOMBS = {
    "doubling": doubling(),
    "doubling-aliases": doubling_with_aliases(),
    "doubling-inline": doubling_through_inline_fragments(),
    "wide": wide(),
    "deep-inline": deep_inline(),
    "repeated-fields": repeated_fields(),
}
