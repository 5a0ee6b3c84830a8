"""Automatic persisted queries, as Apollo's clients speak them (`extensions.persistedQuery`:
`{"version": 1, "sha256Hash": "<hex>"}`).

A client sends the hash alone; an unknown hash answers PERSISTED_QUERY_NOT_FOUND and the client
sends the document with its hash, which is registered once the document has passed every limit
and validation rule (depth, aliases, cost, the customer allowlist) and run: a hash can only ever
name a document that was accepted. The documents are kept per process, the newest
MAX_DOCUMENTS of them; a process that does not know a hash asks for the document again, as the
protocol expects. A known document's parse and validation results are cached by its text
(resolvers/validation.py), so a hash skips both.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError

MAX_DOCUMENTS = 2_000
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class PersistedQuery:
    """What a request said of its persisted query. `document` is the text to run (sent, or
    found by the hash); None when the hash is unknown and no document came with it."""

    sha256: str
    document: str | None
    sent: bool


def persisted_query(query: Any, extensions: dict[str, Any] | None) -> dict[str, Any] | None:
    """The request's `persistedQuery` extension checked for shape, or None when it has none."""
    raw = (extensions or {}).get("persistedQuery")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise HTTPException(400, "extensions.persistedQuery must be {version: 1, sha256Hash: <hex>}")
    sha256 = raw.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be 64 lowercase hex digits")
    if query is not None and hashlib.sha256(query.encode()).hexdigest() != sha256:
        raise HTTPException(400, "provided sha does not match query")
    return raw


class PersistedDocuments:
    """The documents this process knows by hash, newest last."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS) -> None:
        self.max_documents = max_documents
        self._documents: OrderedDict[str, str] = OrderedDict()

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> PersistedQuery | None:
        """The request's persisted query, or None when it uses none. Raises HTTPException (400)
        for a malformed extension or a document that does not match its hash."""
        raw = persisted_query(query, extensions)
        if raw is None:
            return None
        sha256 = raw["sha256Hash"]
        if query is not None:
            return PersistedQuery(sha256, query, sent=True)
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return PersistedQuery(sha256, document, sent=False)

    def register(self, persisted: PersistedQuery) -> None:
        """Keeps a document sent with its hash (call it once the document was accepted)."""
        if persisted.document is None:
            return
        self._documents[persisted.sha256] = persisted.document
        self._documents.move_to_end(persisted.sha256)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)


def not_found() -> GraphQLError:
    """Apollo's answer to an unknown hash: the client then sends the document with it."""
    return GraphQLError("PersistedQueryNotFound", extensions={"code": NOT_FOUND})
