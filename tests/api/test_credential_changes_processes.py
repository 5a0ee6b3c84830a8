"""Two real `helpdesk serve` processes caching callers for a minute: a change made through one
process (an agent removed from their group, a partner token revoked) holds on the other at once,
long before its cached principal would have expired (app.events.credential_changes)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from app.domain.enums import AgentRole, AssignmentStrategy, Channel
from app.services import agents as agent_service
from app.services import assignment
from app.services import auth as auth_service
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import PASSWORD
from tests.processes import running_servers
from tests.support import GraphQLClient

pytestmark = pytest.mark.slow

# Far longer than the test: only the announcement can explain a change noticed in time.
CACHE_SECONDS = "120"
NOTICED_WITHIN = 5.0
TICKET = "query($id: ID!) { ticket(id: $id) { id } }"
ME = "{ me { id } }"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def noticed(check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `check` holds; fails after NOTICED_WITHIN."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < NOTICED_WITHIN, "the other process still serves the cached caller"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_change_through_one_process_holds_on_the_other_at_once(
    rt: Runtime, database_url: str, http: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    admin = await agent_service.create_agent(
        rt,
        None,
        agent_service.NewAgent(name="Ada", email=f"ada-{tag}@example.com", password=PASSWORD, role=AgentRole.ADMIN),
    )
    admin_principal = await auth_service.authenticate(
        rt, (await auth_service.login(rt, admin.email, PASSWORD, None)).token
    )
    assert admin_principal is not None
    group = await agent_service.create_group(
        rt, None, agent_service.NewGroup(f"售后 {tag}", assignment_strategy=AssignmentStrategy.MANUAL)
    )
    agent = await agent_service.create_agent(
        rt,
        None,
        agent_service.NewAgent(
            name="王芳", email=f"wang-{tag}@example.com", password=PASSWORD, role=AgentRole.AGENT, group_ids=[group.id]
        ),
    )
    ticket, _ = await ticket_service.create_ticket(
        rt,
        admin_principal,
        ticket_service.NewTicket(
            "订单未到 / parcel late", "text", Channel.API, CustomerRef(email=f"c-{tag}@example.cn")
        ),
    )
    await assignment.assign_ticket(rt, admin_principal, ticket.id, None, group.id, None)
    agent_token = (await auth_service.login(rt, agent.email, PASSWORD, None)).token
    partner_token = (await auth_service.create_api_token(rt, admin_principal, "partner", agent.id, None)).secret
    admin_token = (await auth_service.login(rt, admin.email, PASSWORD, None)).token
    ticket_id = ids.encode("Ticket", ticket.id)

    env = {"HELPDESK_CREDENTIAL_RECHECK_SECONDS": CACHE_SECONDS}
    with running_servers(database_url, 2, env) as (a, b):
        admin_on_a = GraphQLClient(a.url, http, admin_token)
        agent_on_b = GraphQLClient(b.url, http, agent_token)
        partner_on_b = GraphQLClient(b.url, http, partner_token)
        # Both callers are now cached on B.
        assert (await agent_on_b.execute(TICKET, {"id": ticket_id}))["ticket"] == {"id": ticket_id}
        assert (await partner_on_b.execute(ME))["me"] == {"id": ids.encode("Agent", agent.id)}

        removed = await admin_on_a.post(
            "mutation($id: ID!) { updateAgent(id: $id, input: { groupIds: [] }) { userErrors { code } } }",
            {"id": ids.encode("Agent", agent.id)},
        )
        assert removed["data"]["updateAgent"]["userErrors"] == [], removed

        async def ticket_hidden() -> bool:
            return (await agent_on_b.post(TICKET, {"id": ticket_id}))["data"]["ticket"] is None

        await noticed(ticket_hidden)

        token_id = (await admin_on_a.execute("{ apiTokens { id name } }"))["apiTokens"]
        (partner,) = [t["id"] for t in token_id if t["name"] == "partner"]
        revoked = await admin_on_a.post(
            "mutation($id: ID!) { revokeApiToken(id: $id) { userErrors { code } } }", {"id": partner}
        )
        assert revoked["data"]["revokeApiToken"]["userErrors"] == [], revoked

        async def partner_refused() -> bool:
            answer = await partner_on_b.post(ME)
            return bool(answer.get("errors")) and answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        await noticed(partner_refused)
        # The agent's own session still works on B: only what changed was dropped.
        assert (await agent_on_b.execute(ME))["me"] == {"id": ids.encode("Agent", agent.id)}
