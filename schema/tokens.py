"""Partner API tokens (the secret is never part of this type)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.records import ApiTokenRecord
from schema import ids
from schema.common import Node
from schema.context import Context
from schema.people import Agent, load_agent

Info = strawberry.Info[Context, None]


@strawberry.type(
    description=(
        "A long-lived credential for a partner system (shop, CRM, chat bot). It acts as\n"
        "the agent it belongs to, with that agent's role and visibility; create a\n"
        "dedicated agent for each integration. The secret is shown once, at creation."
    )
)
class ApiToken(Node):
    id: strawberry.ID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    agent_pk: strawberry.Private[int]

    @classmethod
    def of(cls, r: ApiTokenRecord) -> ApiToken:
        return cls(
            id=ids.encode("ApiToken", r.id),
            name=r.name,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
            expires_at=r.expires_at,
            revoked_at=r.revoked_at,
            agent_pk=r.agent_id,
        )

    @strawberry.field
    async def agent(self, info: Info) -> Agent:
        agent = await load_agent(info, self.agent_pk)
        assert agent is not None  # a foreign key guarantees it
        return agent
