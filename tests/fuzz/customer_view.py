"""What a customer session's answers must satisfy, beyond oracle.py: the customer's view.

A customer signed in by link sees their own tickets and PUBLIC comments, nothing else:
- every object ID in the answer's data is one they may see, checked against the database at
  the time of the answer: their own tickets, the PUBLIC comments of those (and the files of
  those comments, or of the ticket itself), themselves, PUBLISHED articles, agents (an
  assignee's name), field definitions visibleToCustomer; any other ID (another customer's
  ticket, an INTERNAL note or its file, an agents-only field, a group, an SLA policy...) is a
  leak, whichever path brought it (node, ticket by id or number, a connection, a payload);
- the answer holds none of the seeded words only others may read (an INTERNAL note's body or
  file name, another customer's ticket text), which catches leaks with no ID selected;
- a document that selects any field outside resolvers/customer_allowlist.py gets no data and
  a FORBIDDEN error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import graphql
from sqlalchemy import Engine, text

from app.domain.global_ids import decode
from resolvers.customer_allowlist import customer_may_select

# IDs of these types may appear in a customer's answer, each once the database agrees.
_LEAKED = {
    "Ticket": "SELECT id FROM tickets WHERE id = ANY(:ids) AND customer_id IS DISTINCT FROM :me",
    "Comment": (
        "SELECT c.id FROM comments c JOIN tickets t ON t.id = c.ticket_id "
        "WHERE c.id = ANY(:ids) AND (t.customer_id IS DISTINCT FROM :me OR c.visibility <> 'PUBLIC')"
    ),
    "Attachment": (
        "SELECT a.id FROM attachments a JOIN tickets t ON t.id = a.ticket_id "
        "LEFT JOIN comments c ON c.id = a.comment_id "
        "WHERE a.id = ANY(:ids) AND (t.customer_id IS DISTINCT FROM :me OR c.visibility <> 'PUBLIC')"
    ),
    "Customer": "SELECT id FROM customers WHERE id = ANY(:ids) AND id <> :me",
    "KnowledgeArticle": "SELECT id FROM knowledge_articles WHERE id = ANY(:ids) AND status <> 'PUBLISHED'",
    # ticketFields: the fields the web form may carry, never an agents-only one.
    "TicketFieldDefinition": (
        "SELECT id FROM ticket_field_definitions WHERE id = ANY(:ids) AND NOT visible_to_customer"
    ),
}
# Who answers a customer is shown by name (Ticket.assignee, Comment.authorAgent).
_SHOWN = {"Agent"}


@dataclass
class CustomerView:
    """One customer session of the fuzz world: whose it is and which seeded words it must never read."""

    customer_id: int
    engine: Engine
    secrets: tuple[str, ...]

    def problems(self, document: str | None, result: dict[str, Any], request_text: str) -> list[str]:
        found = [*self._outside_allowlist(document, result), *self._foreign_ids(result.get("data"))]
        answer = repr(result.get("data"))
        found += [
            f"a customer read {word!r}, which is not theirs to read"
            for word in self.secrets
            if word in answer and word not in request_text
        ]
        return found

    def _outside_allowlist(self, document: str | None, result: dict[str, Any]) -> list[str]:
        fields = outside_allowlist(document) if isinstance(document, str) else []
        if not fields:
            return []
        codes = {(e.get("extensions") or {}).get("code") for e in result.get("errors") or []}
        # Refused by the allowlist (FORBIDDEN), or earlier by the request's own limits (a 400 KB
        # hostile variable is refused before the document is validated); never as anonymous.
        refused_early = bool(result.get("errors")) and "UNAUTHENTICATED" not in codes
        if result.get("data") is not None or not ("FORBIDDEN" in codes or refused_early):
            return [f"a customer selected {', '.join(fields)} and got data or no FORBIDDEN error"]
        return []

    def _foreign_ids(self, data: Any) -> list[str]:
        by_type: dict[str, set[int]] = defaultdict(set)
        for value in _ids(data):
            decoded = decode(value)
            if decoded is not None:
                by_type[decoded[0]].add(decoded[1])
        unseen = by_type.keys() - _LEAKED.keys() - _SHOWN
        found = [f"a customer got the ID of a {t}: {sorted(by_type[t])}" for t in sorted(unseen)]
        checks = {t: pks for t, pks in by_type.items() if t in _LEAKED}
        if checks:
            with self.engine.connect() as conn:
                for type_name, pks in checks.items():
                    rows = conn.execute(text(_LEAKED[type_name]), {"ids": list(pks), "me": self.customer_id})
                    leaked = sorted(row[0] for row in rows)
                    if leaked:
                        found.append(f"a customer got {type_name} {leaked}, not theirs to see")
        return found


def _ids(payload: Any) -> Iterator[str]:
    """Every `id` of an object in the data (not texts that merely look like one)."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "id" and isinstance(value, str):
                yield value
            else:
                yield from _ids(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _ids(item)


def outside_allowlist(document: str) -> list[str]:
    """The fields of the document (Type.field) a customer session may not select; none for a
    document that does not parse (the server refuses it anyway)."""
    from tests.fuzz.operations import schema

    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError:
        return []
    type_info = graphql.TypeInfo(schema())
    found: list[str] = []

    class Fields(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_args: Any) -> None:
            parent = type_info.get_parent_type()
            if parent is not None and not customer_may_select(parent.name, node.name.value):
                found.append(f"{parent.name}.{node.name.value}")

    graphql.visit(ast, graphql.TypeInfoVisitor(type_info, Fields()))
    return found
