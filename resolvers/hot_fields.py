"""Batch forms of the most requested relation fields, for compiled plans.

Each entry does for a whole level of parents what the field's resolver does for one parent: one
DataLoader `load_many` instead of a resolver call, a coroutine and a loader future per parent. The
keys and wrappers are the resolvers' own, so the answers are the same (tests/api/
test_compiled_documents.py compares both paths on every example document)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schema.people import Agent, Customer, Group
from schema.sla import TicketSla
from schema.tickets import SubTicketProgress


@dataclass(frozen=True, slots=True)
class Lookup:
    loader: str  # the attribute of schema.context.Loaders
    key: Callable[[Any], Any]  # parent -> loader key; None: the field is null
    wrap: Callable[[Any], Any]  # loaded record -> the field's Strawberry object

    async def resolve(self, context: Any, parents: list[Any]) -> list[Any]:
        keys = [self.key(p) for p in parents]
        wanted = [k for k in keys if k is not None]
        records = await getattr(context.loaders, self.loader).load_many(wanted) if wanted else []
        found = iter(records)
        wrap = self.wrap
        out: list[Any] = []
        for k in keys:
            record = None if k is None else next(found)
            out.append(wrap(record) if record else None)
        return out


def _progress(p: Any) -> SubTicketProgress:
    return SubTicketProgress(total=p.total, resolved=p.resolved, open=p.open)


HOT_FIELDS: dict[tuple[str, str], Lookup] = {
    ("Ticket", "customer"): Lookup("customer", lambda t: t.record.customer_id, Customer.of),
    ("Ticket", "assignee"): Lookup("agent", lambda t: t.record.assignee_id, Agent.of),
    ("Ticket", "group"): Lookup("group", lambda t: t.record.group_id, Group.of),
    ("Ticket", "subTicketProgress"): Lookup("sub_ticket_progress", lambda t: t.record.id, _progress),
    ("Ticket", "sla"): Lookup("ticket_sla", lambda t: t.record.id, TicketSla.of),
}
