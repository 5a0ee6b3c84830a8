"""The per-request context: who is calling, the runtime, and this operation's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.principal import CustomerPrincipal, Principal, Viewer
from app.reads.loaders import Loaders
from app.services.live_access import LiveAccess
from app.services.runtime import Runtime


@dataclass
class Context:
    rt: Runtime
    principal: Principal | None
    request_id: str
    # A customer signed in by link (then `principal` is None: every agent path refuses them).
    customer: CustomerPrincipal | None = None
    client_address: str | None = None
    # Set by Strawberry from a websocket's connection_init payload.
    connection_params: dict[str, Any] | None = None
    # The bearer secret, kept so a websocket can re-read its caller while it is open.
    token: str | None = None
    # Realtime plumbing of this process (app.events.hub.EventHub, app.events.wallboard_feed.WallboardFeed).
    hub: Any = None
    wallboard: Any = None
    # The process's shared re-reads of callers and ticket visibility (websockets).
    access: LiveAccess | None = None
    active_subscriptions: int = 0
    _loaders: Loaders | None = field(default=None, init=False, repr=False)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.rt, self.principal, self.customer)
        return self._loaders

    @property
    def viewer(self) -> Viewer | None:
        """Whoever reads tickets: the agent, or the signed-in customer."""
        return self.principal or self.customer

    def fresh_loaders(self) -> None:
        """Forget everything loaded: called at the start of every operation."""
        self._loaders = None
