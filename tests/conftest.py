"""Fixtures: one fresh database per run (from a migrated template), made only when a test needs
it and emptied before each test that does; a real uvicorn server on a random port; GraphQL
clients logged in as each role. The app's data directory (attachments) is a temporary folder."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine, sync_url
from app.demo.mail_sink import MailSink
from app.domain.enums import AgentRole
from app.domain.principal import Principal
from app.domain.records import AgentRecord, GroupRecord
from app.services import agents as agent_service
from app.services import auth as auth_service
from app.services.runtime import Runtime
from app.settings import Settings
from tests.support import (
    GraphQLClient,
    ServerThread,
    base_database_url,
    create_test_database,
    drop_database,
    drop_stale_test_databases,
    empty_database,
    use_temporary_data_dir,
)

PASSWORD = "correct horse battery"
DATA_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[DATA_DIR] = use_temporary_data_dir()


def pytest_unconfigure(config: pytest.Config) -> None:
    if DATA_DIR in config.stash:
        shutil.rmtree(config.stash[DATA_DIR], ignore_errors=True)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    base = base_database_url()
    # Databases of runs that were interrupted (Ctrl-C, a killed CI job) before dropping theirs.
    drop_stale_test_databases(base)
    url = create_test_database(base)
    yield url
    drop_database(base, url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Websockets re-read their caller every half second (production: 5 s), so the tests of a
    # revoked or demoted credential on an open socket wait that long, not ten times as long.
    # No IMAP fetcher in the shared test server: the fetcher's tests run their own (one fetcher
    # per mailbox at a time; this one would take their mail).
    return Settings(
        database_url=database_url,
        log_json=False,
        credential_recheck_seconds=0.5,
        secret_key=TEST_SECRET_KEY,
        run_mail=False,
    )


# A fixed Fernet key, so mailbox passwords stored by one test process are readable by the CLI it runs.
TEST_SECRET_KEY = "uCZ9r3cM5o0CzXo1mB7M2m6Qp3cY0Jb8hJ6pJk3Zl0Y="


@pytest.fixture(scope="session")
def _truncator(database_url: str) -> Iterator[Callable[[], None]]:
    engine = create_sync_engine(sync_url(database_url), isolation_level="AUTOCOMMIT")

    def truncate() -> None:
        empty_database(engine)

    yield truncate
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> None:
    """Every test that uses the database (directly or through any fixture) starts from an empty,
    migrated one. The others, unit tests, neither wait for it nor make the database at all."""
    if "database_url" in request.fixturenames:
        truncate: Callable[[], None] = request.getfixturevalue("_truncator")
        truncate()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=20, max_overflow=20)
    yield engine
    await engine.dispose()


@pytest.fixture
def rt(engine: AsyncEngine, settings: Settings) -> Runtime:
    return Runtime(engine=engine, settings=settings)


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    """A recording SMTP server on a free loopback port: what a test's server sends arrives here."""
    async with MailSink() as running:
        yield running


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[ServerThread]:
    thread = ServerThread(settings)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def anonymous(server: ServerThread, http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(server.url, http)


@dataclass
class Actor:
    """A logged-in agent: its record, its principal, and a client that sends its token."""

    agent: AgentRecord
    principal: Principal
    token: str
    client: GraphQLClient


@pytest.fixture
def make_group(rt: Runtime) -> Callable[..., Awaitable[GroupRecord]]:
    async def make(name: str | None = None, **kwargs: Any) -> GroupRecord:
        data = agent_service.NewGroup(name=name or f"group-{uuid.uuid4().hex[:8]}", **kwargs)
        return await agent_service.create_group(rt, None, data)

    return make


@pytest.fixture
def make_actor(rt: Runtime, anonymous: GraphQLClient) -> Callable[..., Awaitable[Actor]]:
    async def make(role: AgentRole = AgentRole.AGENT, groups: list[GroupRecord] | None = None, **kwargs: Any) -> Actor:
        email = kwargs.pop("email", f"{role.value.lower()}-{uuid.uuid4().hex[:8]}@example.com")
        agent = await agent_service.create_agent(
            rt,
            None,
            agent_service.NewAgent(
                name=kwargs.pop("name", email.split("@")[0]),
                email=email,
                password=PASSWORD,
                role=role,
                group_ids=[g.id for g in groups or []],
                **kwargs,
            ),
        )
        login = await auth_service.login(rt, email, PASSWORD, None)
        principal = await auth_service.authenticate(rt, login.token)
        assert principal is not None
        return Actor(agent, principal, login.token, anonymous.as_(login.token))

    return make


@pytest.fixture
async def admin(make_actor: Callable[..., Awaitable[Actor]]) -> Actor:
    return await make_actor(AgentRole.ADMIN, name="Ada Admin")
