"""Who is calling: an agent, through a login session or a partner API token."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    @property
    def sees_all_tickets(self) -> bool:
        return self.role.at_least(AgentRole.SUPERVISOR)
