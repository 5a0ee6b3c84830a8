"""`kill -9` of a `helpdesk worker` in the middle of an SLA sweep.

Thousands of clocks fall due at once. The first worker is killed as soon as it has committed
part of the sweep (its open batch dies with its connection and is rolled back by PostgreSQL);
a second worker finishes. Every clock ends up with exactly one WARNING and one BREACHED
notification, each with its one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.db.engine import create_engine
from app.domain.principal import Principal
from app.services import auth as auth_service
from app.services import sla
from app.services.runtime import Runtime
from app.settings import Settings
from tests.faults.harness import ADMIN_EMAIL, ADMIN_PASSWORD, create_admin, helpdesk_command
from tests.faults.invariants import assert_invariants
from tests.integration.test_sla_scheduler import assert_exactly_once, bulk_tickets
from tests.private_servers import PrivatePostgres, private_postgres
from tests.support import ROOT

pytestmark = pytest.mark.slow

TICKETS = 2000  # four scheduler batches of 500 tickets (two notifications each)
SWEEP_BOUND = 300.0  # seconds for the second worker to finish the sweep on a loaded machine


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        create_admin(server.url)
        yield server


@contextlib.asynccontextmanager
async def runtime(url: str) -> AsyncIterator[Runtime]:
    engine = create_engine(url, pool_size=2, max_overflow=2)
    try:
        yield Runtime(engine=engine, settings=Settings(database_url=url, log_json=False))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def worker(url: str, data_dir: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `helpdesk worker` that is running when yielded; killed at the end if still alive."""
    log_path = data_dir / f"{name}.log"
    env = {**os.environ, "DATABASE_URL": url, "HELPDESK_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as out:
        process = subprocess.Popen([*helpdesk_command(), "worker"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while "worker running" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def open_tickets(rt: Runtime, count: int) -> None:
    """Open tickets, inserted in bulk (intake is not what this test is about), each with the
    CREATED event intake would have written."""
    await bulk_tickets(rt, count)
    async with rt.transaction() as tx:
        await tx.conn.execute(
            text(
                "INSERT INTO ticket_events (ticket_id, type, data, occurred_at)"
                " SELECT id, 'CREATED', '{\"version\": 1}'::jsonb, created_at FROM tickets"
            )
        )


async def open_transactions(engine: AsyncEngine) -> int:
    """Transactions of other sessions of the service (here: the worker's) that are under way."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'helpdesk'"
        " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def notifications(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(tables.sla_notifications))).scalar_one())


async def wait_for_notifications(engine: AsyncEngine, at_least: int, interval: float) -> int:
    for _ in range(int(SWEEP_BOUND / interval)):
        if (fired := await notifications(engine)) >= at_least:
            return fired
        await asyncio.sleep(interval)
    raise AssertionError(f"fewer than {at_least} SLA notifications within {SWEEP_BOUND:.0f}s")


async def admin_principal(rt: Runtime) -> Principal:
    login = await auth_service.login(rt, ADMIN_EMAIL, ADMIN_PASSWORD, None)
    principal = await auth_service.authenticate(rt, login.token)
    assert principal is not None
    return principal


async def test_a_worker_killed_mid_sweep_leaves_every_notification_exactly_once(postgres: PrivatePostgres) -> None:
    async with runtime(postgres.url) as rt:
        await open_tickets(rt, TICKETS)
        await sla.create_policy(
            rt,
            await admin_principal(rt),
            sla.PolicyInput(name="Two seconds", first_response_seconds=2, warning_at_percent=50),
        )
        while await sla.reevaluate_step(rt, requester=True) is not None:  # what the request left over
            pass
        async with rt.engine.connect() as conn:
            clocks, due = (await conn.execute(select(func.count(), func.max(tables.sla_clocks.c.due_at)))).one()
        assert clocks == TICKETS
        # Let every clock fall due (warning and breach) before any worker runs.
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.5)
        total = 2 * TICKETS

        with tempfile.TemporaryDirectory(prefix="helpdesk-workers-") as data_dir:
            with worker(postgres.url, Path(data_dir), "first") as first:
                fired = await wait_for_notifications(rt.engine, 1, interval=0.02)
                busy = await open_transactions(rt.engine)
                os.kill(first.pid, signal.SIGKILL)
                assert first.wait(10) == -signal.SIGKILL
            before = await notifications(rt.engine)
            print(
                f"\nthe first worker was killed after {fired} of {total} notifications had committed"
                f" ({before} counted after the kill), with {busy} transaction(s) of it open"
            )
            assert before < total, "the first worker finished the sweep before it could be killed"

            with worker(postgres.url, Path(data_dir), "second"):
                await wait_for_notifications(rt.engine, total, interval=0.2)
            second_log = (Path(data_dir) / "second.log").read_text(errors="replace")
            assert "Traceback" not in second_log, second_log

        await assert_exactly_once(rt.engine, TICKETS)
        await assert_invariants(rt.engine)
