"""Who is calling: an agent, through a login session or a partner API token; or a customer,
through a customer session (signed in by a mailed link)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.enums import AgentRole


class CredentialKind(StrEnum):
    SESSION = "SESSION"
    API_TOKEN = "API_TOKEN"


@dataclass(frozen=True, slots=True)
class Principal:
    agent_id: int
    role: AgentRole
    group_ids: frozenset[int] = field(default_factory=frozenset)
    credential: CredentialKind = CredentialKind.SESSION
    credential_id: int | None = None
    # When the credential stops working (None: never); a cached principal is refused past it.
    expires_at: datetime | None = field(default=None, compare=False)

    @property
    def sees_all_tickets(self) -> bool:
        return self.role.at_least(AgentRole.SUPERVISOR)


@dataclass(frozen=True, slots=True)
class CustomerPrincipal:
    """A customer signed in by link. Never an agent: every agent and admin path, which asks for a
    `Principal`, refuses it; what it may read is its own tickets and their PUBLIC conversation."""

    customer_id: int
    session_id: int
    expires_at: datetime | None = field(default=None, compare=False)


# Whoever reads tickets: an agent (their groups' tickets, or all) or a customer (their own).
Viewer = Principal | CustomerPrincipal
