"""Fixtures for the fuzz tests: a server of their own and a seeded helpdesk per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.db.engine import sync_url
from app.domain.enums import AgentRole, AssignmentStrategy
from app.services import customer_sign_in
from app.services.runtime import Runtime
from app.settings import Settings
from tests.fuzz.customer_view import CustomerView
from tests.fuzz.world import SECRETS, World, seed
from tests.support import ServerThread

CUSTOMER_SIGN_IN = "mutation($t: String!) { customerSignIn(linkToken: $t) { token userErrors { code } } }"


@pytest.fixture(scope="module")
def fuzz_server(settings: Settings) -> Iterator[ServerThread]:
    # Failed logins are slowed down exponentially (up to 8 s each) after the third; generated
    # logins fail by the hundred, so the slowdown is pushed out of reach. The lockout stays.
    thread = ServerThread(settings.model_copy(update={"login_slowdown_after": 1_000_000}))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def short_sla() -> bool:
    """Whether the seeded helpdesk has an SLA of seconds (parametrize to turn it off)."""
    return True


@pytest.fixture
async def world(
    short_sla: bool,
    fuzz_server: ServerThread,
    make_group: Callable[..., Awaitable[Any]],
    make_actor: Callable[..., Awaitable[Any]],
    rt: Runtime,
    database_url: str,
) -> AsyncIterator[World]:
    groups = {
        "round_robin": await make_group("Round robin", assignment_strategy=AssignmentStrategy.ROUND_ROBIN),
        "least_loaded": await make_group("Least loaded", assignment_strategy=AssignmentStrategy.LEAST_LOADED),
        "skills": await make_group("Skills", assignment_strategy=AssignmentStrategy.SKILL_BASED),
        "manual": await make_group("Manual", assignment_strategy=AssignmentStrategy.MANUAL),
    }
    everywhere = list(groups.values())
    admin = await make_actor(AgentRole.ADMIN, groups=everywhere, name="Ada Admin")
    supervisor = await make_actor(AgentRole.SUPERVISOR, groups=everywhere[:2], name="Sam Supervisor")
    agent = await make_actor(
        AgentRole.AGENT, groups=everywhere, capacity=3, skills=["billing"], languages=["en", "zh"], name="Alex Agent"
    )
    agent2 = await make_actor(AgentRole.AGENT, groups=everywhere[:3], capacity=1, name="Bo Agent")
    tokens = {
        "admin": admin.token,
        "supervisor": supervisor.token,
        "agent": agent.token,
        "agent2": agent2.token,
        "anonymous": None,
        "bad-token": "not-a-token",
    }
    from schema import ids

    group_ids = {name: str(ids.encode("Group", g.id)) for name, g in groups.items()}
    with httpx.Client(timeout=60) as http:
        w = World(fuzz_server.url, http, tokens)
        w.pool.extend(group_ids.values())
        for actor in (admin, supervisor, agent, agent2):
            w.pool.append(str(ids.encode("Agent", actor.agent.id)))
            w.emails.append(actor.agent.email)
        seed(w, group_ids, short_sla=short_sla)
        engine = create_engine(sync_url(database_url))
        # Carl owns most of the seeded tickets, Vera one; each signs in by link as a customer would.
        for role, customer_id in (
            ("customer", await customer_id_of(rt, "email = 'carl@example.com'")),
            ("other_customer", await customer_id_of(rt, "name = 'Vera VIP'")),
        ):
            w.tokens[role] = await signed_in(w, rt, customer_id)
            w.customers[role] = CustomerView(customer_id, engine, SECRETS[role])
        try:
            yield w
        finally:
            engine.dispose()
    # The seeded SLA clocks fall due every second; left running, the schedulers of the servers
    # still up would take their row locks while the next test empties the tables (a deadlock).
    async with rt.engine.begin() as conn:
        await conn.execute(text("UPDATE sla_clocks SET next_check_at = NULL"))


async def customer_id_of(rt: Runtime, where: str) -> int:
    async with rt.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT id FROM customers WHERE {where}"))).scalar_one())


async def signed_in(w: World, rt: Runtime, customer_id: int) -> str:
    """A customer session opened through customerSignIn with a freshly minted link (the mail is
    the sign-in tests' business)."""
    async with rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, rt.settings, customer_id, rt.clock.now())
    payload = w.check("anonymous", CUSTOMER_SIGN_IN, {"t": parse_qs(urlparse(link).query)["token"][0]})
    token: str = payload["data"]["customerSignIn"]["token"]
    return token
