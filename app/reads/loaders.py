"""The per-operation DataLoaders: every batched read a type's field resolver makes.

Loaders are built per operation (a websocket connection runs many operations; a loader
kept across them would serve stale data). An operation's batches take turns on one pooled
connection, held only while some batch wants it: the batches of one level would otherwise
check out a connection each, and a page of tickets would hold five at once. Each loader is
built when first used: a request uses a few of the thirty, and building all of them cost more
than the console list's whole statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.dataloader import DataLoader

from app.db.repositories import email_deliveries as delivery_reads
from app.db.repositories import events as event_reads
from app.db.repositories import mailboxes as mailbox_reads
from app.db.repositories import people, tickets
from app.db.repositories import sla as sla_reads
from app.domain.principal import CustomerPrincipal, Principal, Viewer
from app.domain.records import CommentRecord, SubTicketProgressRecord, TicketEventRecord, TicketRecord
from app.events.cursors import EventPosition
from app.reads.connection import SharedConnection
from app.services import knowledge as knowledge_service
from app.services import ticket_fields as ticket_field_service
from app.services.runtime import Runtime


class Loaders:
    def __init__(self, rt: Runtime, principal: Principal | None, customer: CustomerPrincipal | None = None) -> None:
        self._rt = rt
        self._principal = principal
        # Whose tickets these loaders see: the agent's, or the signed-in customer's own.
        self._viewer: Viewer | None = principal or customer
        self.reads = SharedConnection(rt.reader)

    @cached_property
    def customer(self) -> DataLoader[Any, Any]:
        return self._by_key(people.customers_by_ids, None)

    @cached_property
    def agent(self) -> DataLoader[Any, Any]:
        return self._by_key(people.agents_by_ids, None)

    @cached_property
    def group(self) -> DataLoader[Any, Any]:
        return self._by_key(people.groups_by_ids, None)

    @cached_property
    def mailbox(self) -> DataLoader[Any, Any]:
        return self._by_key(mailbox_reads.mailboxes_by_ids, None)

    @cached_property
    def ticket(self) -> DataLoader[Any, Any]:
        return DataLoader(self._visible_tickets)

    @cached_property
    def agent_group_ids(self) -> DataLoader[Any, Any]:
        return self._by_key(people.group_ids_of_agents, [])

    @cached_property
    def group_member_ids(self) -> DataLoader[Any, Any]:
        return self._by_key(people.member_ids_of_groups, [])

    # Open tickets the caller may see, per assignee and per customer: one statement per batch.
    @cached_property
    def agent_open_count(self) -> DataLoader[Any, Any]:
        return self._by_key(lambda conn, keys: people.open_ticket_counts_by_agent(conn, keys, self._principal), 0)

    @cached_property
    def customer_open_count(self) -> DataLoader[Any, Any]:
        return self._by_key(lambda conn, keys: people.open_ticket_counts_by_customer(conn, keys, self._principal), 0)

    @cached_property
    def queue_length(self) -> DataLoader[Any, Any]:
        return self._by_key(people.queue_lengths, 0)

    @cached_property
    def sub_tickets(self) -> DataLoader[Any, Any]:
        return DataLoader(self._visible_sub_tickets)

    @cached_property
    def sub_ticket_progress(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.sub_ticket_progress, SubTicketProgressRecord(0, 0, 0))

    @cached_property
    def links(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.links_of, [])

    @cached_property
    def collaborator_ids(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.collaborator_agent_ids, [])

    @cached_property
    def collaborating_group_ids(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.collaborating_group_ids, [])

    @cached_property
    def satisfaction(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.satisfaction_of, None)

    @cached_property
    def ticket_attachments(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.attachments_of_tickets, [])

    @cached_property
    def ticket_public_attachments(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.public_attachments_of_tickets, [])

    @cached_property
    def comment_attachments(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.attachments_of_comments, [])

    @cached_property
    def comment_email_delivery(self) -> DataLoader[Any, Any]:
        return self._by_key(delivery_reads.deliveries_of_comments, None)

    @cached_property
    def comment(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.comments_by_ids, None)

    @cached_property
    def attachment(self) -> DataLoader[Any, Any]:
        return self._by_key(tickets.attachments_by_ids, None)

    @cached_property
    def event(self) -> DataLoader[Any, Any]:
        return self._by_key(event_reads.events_by_ids, None)

    @cached_property
    def comments(self) -> DataLoader[Any, Any]:
        return DataLoader(self._comment_pages)

    @cached_property
    def comment_count(self) -> DataLoader[Any, Any]:
        return DataLoader(self._comment_counts)

    @cached_property
    def history(self) -> DataLoader[Any, Any]:
        return DataLoader(self._history_pages)

    # Knowledge base: articles the caller may read; a ticket's suggestions keyed (ticket id, first).
    @cached_property
    def article(self) -> DataLoader[Any, Any]:
        return DataLoader(lambda ids: knowledge_service.readable_articles(self._rt, self._principal, ids))

    @cached_property
    def suggested_articles(self) -> DataLoader[Any, Any]:
        return DataLoader(self._suggested_articles)

    # Keys of the custom fields a customer may read (definitions visibleToCustomer).
    @cached_property
    def customer_field_keys(self) -> DataLoader[Any, Any]:
        return DataLoader(self._customer_field_keys)

    # Ticket.sla: current clocks with policy and calendar, one statement per batch.
    @cached_property
    def ticket_sla(self) -> DataLoader[Any, Any]:
        return self._by_key(lambda conn, keys: sla_reads.ticket_slas(conn, keys, self._rt.clock.now()), None)

    def _by_key(
        self, fetch: Callable[[AsyncConnection, Sequence[Any]], Awaitable[dict[Any, Any]]], default: Any
    ) -> DataLoader[Any, Any]:
        async def batch(keys: list[Any]) -> list[Any]:
            async with self.reads.use() as conn:
                found = await fetch(conn, keys)
            return [found.get(key, default) for key in keys]

        return DataLoader(batch)

    async def _visible_tickets(self, ids: list[int]) -> list[TicketRecord | None]:
        async with self.reads.use() as conn:
            found = await tickets.tickets_by_ids(conn, ids)
            allowed = await self._allowed(conn, list(found))
        return [found[i] if i in found and i in allowed else None for i in ids]

    async def _visible_sub_tickets(self, parent_ids: list[int]) -> list[list[TicketRecord]]:
        async with self.reads.use() as conn:
            children = await tickets.sub_tickets_of(conn, parent_ids)
            allowed = await self._allowed(conn, [c.id for kids in children.values() for c in kids])
        return [[c for c in children.get(pid, []) if c.id in allowed] for pid in parent_ids]

    async def visible_ticket_ids(self, ids: list[int]) -> set[int]:
        """Of these tickets, those the caller may see now: read afresh, never from a loader's cache
        (a mutation of this very operation may just have moved one out of sight)."""
        known = self._allowed_unread(ids)
        if known is not None:  # no connection checked out for an answer that needs no read
            return known
        async with self.reads.use() as conn:
            return await self._allowed(conn, ids)

    def _allowed_unread(self, ids: list[int]) -> set[int] | None:
        """The answer of `_allowed` when it needs no read (no viewer, no ids, one who sees all)."""
        viewer = self._viewer
        if viewer is None or not ids:
            return set()
        if isinstance(viewer, Principal) and viewer.sees_all_tickets:
            return set(ids)
        return None

    async def _allowed(self, conn: AsyncConnection, ids: list[int]) -> set[int]:
        known = self._allowed_unread(ids)
        if known is not None:
            return known
        assert self._viewer is not None  # _allowed_unread answers for no viewer
        return await tickets.visible_ticket_ids(conn, self._viewer, ids)

    async def _comment_pages(
        self, keys: list[tuple[int, str | None, int | None, int]]
    ) -> list[tuple[list[CommentRecord], bool]]:
        # Keys are (ticket id, visibility, after comment id, first); one query per distinct page shape.
        shapes: dict[tuple[str | None, int | None, int], list[int]] = defaultdict(list)
        for ticket_id, visibility, after_id, first in keys:
            shapes[(visibility, after_id, first)].append(ticket_id)
        results: dict[tuple[int, str | None, int | None, int], tuple[list[CommentRecord], bool]] = {}
        async with self.reads.use() as conn:
            for (visibility, after_id, first), ticket_ids in shapes.items():
                pages = await tickets.comments_page(conn, ticket_ids, visibility, after_id, first)
                for ticket_id in ticket_ids:
                    results[(ticket_id, visibility, after_id, first)] = pages.get(ticket_id, ([], False))
        return [results[key] for key in keys]

    async def _comment_counts(self, keys: list[tuple[int, str | None]]) -> list[int]:
        by_visibility: dict[str | None, list[int]] = defaultdict(list)
        for ticket_id, visibility in keys:
            by_visibility[visibility].append(ticket_id)
        counts: dict[tuple[int, str | None], int] = {}
        async with self.reads.use() as conn:
            for visibility, ticket_ids in by_visibility.items():
                found = await tickets.comment_counts(conn, ticket_ids, visibility)
                for ticket_id in ticket_ids:
                    counts[(ticket_id, visibility)] = found.get(ticket_id, 0)
        return [counts[key] for key in keys]

    async def _customer_field_keys(self, keys: list[None]) -> list[frozenset[str]]:
        async with self.reads.use() as conn:
            found = await ticket_field_service.definitions(conn, customer_facing=True)
        visible = frozenset(d.key for d in found)
        return [visible for _ in keys]

    async def _suggested_articles(self, keys: list[tuple[int, int]]) -> list[list[Any]]:
        records = await self.ticket.load_many([ticket_id for ticket_id, _ in keys])
        visible = [r for r in records if r is not None]
        found = await knowledge_service.suggestions_for_tickets(self._rt, visible, max(f for _, f in keys))
        by_ticket = {r.id: matches for r, matches in zip(visible, found, strict=True)}
        return [by_ticket.get(ticket_id, [])[:first] for ticket_id, first in keys]

    async def _history_pages(
        self, keys: list[tuple[int, EventPosition | None, int]]
    ) -> list[tuple[list[TicketEventRecord], bool]]:
        shapes: dict[tuple[EventPosition | None, int], list[int]] = defaultdict(list)
        for ticket_id, after, first in keys:
            shapes[(after, first)].append(ticket_id)
        results: dict[tuple[int, EventPosition | None, int], tuple[list[TicketEventRecord], bool]] = {}
        async with self.reads.use() as conn:
            for (after, first), ticket_ids in shapes.items():
                pages = await event_reads.history_page(conn, ticket_ids, after, first)
                for ticket_id in ticket_ids:
                    results[(ticket_id, after, first)] = pages.get(ticket_id, ([], False))
        return [results[key] for key in keys]
