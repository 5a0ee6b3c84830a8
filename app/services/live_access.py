"""Who a caller is now, and which tickets they may see: for HTTP requests and websockets.

Every request's caller comes from here, so a request costs no authentication query while its
credential is cached. A websocket outlives the request that authenticated it, so its caller is
re-read while it is open: at most HELPDESK_CREDENTIAL_RECHECK_SECONDS late, and through one
shared lookup per credential (or per visibility and ticket) per period, however many
connections and subscriptions ask: thousands of subscribers on one token cost one query per
period, and one event costs one visibility query per distinct visibility, not one per
subscriber. A revocation, or a change to an agent's role or groups, clears the cached callers
in every process at once (app.events.credential_changes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Hashable
from datetime import datetime
from typing import Any, Generic, TypeVar

from app.db.repositories.tickets import visible_ticket_ids
from app.domain.enums import AgentRole
from app.domain.principal import CustomerPrincipal, Principal
from app.services import auth as auth_service
from app.services import customer_sign_in
from app.services.runtime import Runtime

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Entries kept per cache; past it the oldest tenth is forgotten (looked up again when asked).
MAX_ENTRIES = 10_000


class Recheck(Generic[K, V]):
    """A value per key, looked up at most once per `period` seconds: callers asking meanwhile
    share the answer, and callers asking while a lookup runs wait for that same lookup."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._entries: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K, lookup: Callable[[], Coroutine[Any, Any, V]]) -> V:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or now - entry[0] >= self.period:
            # A task of its own: a caller that goes away does not cancel the others' answer.
            task = asyncio.ensure_future(lookup())
            task.add_done_callback(lambda done: self._forget_failure(key, done))
            entry = self._entries[key] = (now, task)
            if len(self._entries) > MAX_ENTRIES:
                for stale in sorted(self._entries, key=lambda k: self._entries[k][0])[: MAX_ENTRIES // 10]:
                    del self._entries[stale]
        return await asyncio.shield(entry[1])

    def clear(self) -> None:
        """Forgets every value: the next call for any key looks again (lookups running now
        still answer their own callers)."""
        self._entries.clear()

    def _forget_failure(self, key: K, done: asyncio.Future[V]) -> None:
        # Every waiter sees the failure; the next call looks again.
        failed = done.cancelled() or done.exception() is not None
        if failed and key in self._entries and self._entries[key][1] is done:
            del self._entries[key]


# What a visibility verdict depends on: the caller's visibility, the ticket, and the ticket's
# version (everything that changes who sees a ticket changes its version; the period bounds the rest).
VerdictKey = tuple[int, AgentRole, frozenset[int], int, object]


class LiveAccess:
    """The caller behind a bearer secret and their ticket visibility, re-read every period."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.period = rt.settings.credential_recheck_seconds
        self._credentials: Recheck[str, Principal | None] = Recheck(self.period)
        self._customers: Recheck[str, CustomerPrincipal | None] = Recheck(self.period)
        self._own_tickets: Recheck[tuple[int, int], bool] = Recheck(self.period)
        self._verdicts: Recheck[VerdictKey, bool] = Recheck(self.period)

    def forget_credentials(self) -> None:
        """A credential changed somewhere (app.events.credential_changes): every principal and
        customer is read again when next asked."""
        self._credentials.clear()
        self._customers.clear()

    async def principal(self, secret: str) -> Principal | None:
        """The principal behind `secret` as of at most one period ago; None once the credential
        is revoked or expired or its agent deactivated."""
        found = await self._credentials.get(secret, lambda: auth_service.authenticate(self._rt, secret))
        return found if found is None or self._current(found.expires_at) else None

    async def customer(self, secret: str) -> CustomerPrincipal | None:
        """The customer behind a customer-session secret as of at most one period ago; None once
        the session is revoked or expired."""
        found = await self._customers.get(secret, lambda: customer_sign_in.authenticate_customer(self._rt, secret))
        return found if found is None or self._current(found.expires_at) else None

    def _current(self, expires_at: datetime | None) -> bool:
        """A credential cached before it expired is not served after."""
        return expires_at is None or expires_at > self._rt.clock.now()

    async def customer_owns_ticket(self, customer: CustomerPrincipal, ticket_id: int) -> bool:
        """Whether the ticket is the customer's own (a merge may move it), as of at most one period ago."""
        key = (customer.customer_id, ticket_id)

        async def lookup() -> bool:
            async with self._rt.reader.connect() as conn:
                return bool(await visible_ticket_ids(conn, customer, [ticket_id]))

        return await self._own_tickets.get(key, lookup)

    async def may_see_ticket(self, principal: Principal, ticket_id: int, version: object = None) -> bool:
        """Whether `principal` may see the ticket: the rule of `ticket(id)` (`visible_to`), as of
        at most one period ago. Supervisors and admins see every ticket without a query."""
        if principal.sees_all_tickets:
            return True
        key: VerdictKey = (principal.agent_id, principal.role, principal.group_ids, ticket_id, version)
        return await self._verdicts.get(key, lambda: self._visible(principal, ticket_id))

    async def _visible(self, principal: Principal, ticket_id: int) -> bool:
        async with self._rt.reader.connect() as conn:
            return bool(await visible_ticket_ids(conn, principal, [ticket_id]))
