"""The SLA scheduler: WARNING at warningAtPercent, BREACHED at the due time, exactly once per
clock, with several schedulers (concurrent tasks on their own engines, and real `helpdesk
worker` processes) on one database; escalation on breach; the due query is an index lookup."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.db.engine import create_engine
from app.services import routing_rules, sla
from app.services.agents import NewGroup, create_group
from app.services.runtime import Runtime
from app.services.sla_scheduler import due_claim_query, look_query, run_due
from app.settings import Settings
from tests.conftest import Actor
from tests.integration.test_sla_clocks import (
    FRIDAY_1730,
    HOUR,
    clocks_of,
    new_ticket,
    seed_policies,
    shanghai,
    sla_view,
    ticket_row,
    vip_customer,
)
from tests.support import ROOT

t, c, te, n = tables.tickets, tables.sla_clocks, tables.ticket_events, tables.sla_notifications


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY_1730)


@pytest.fixture
def manual_rt(engine: AsyncEngine, settings: Settings, clock: ManualClock) -> Runtime:
    return Runtime(engine=engine, settings=settings, clock=clock)


@asynccontextmanager
async def schedulers(settings: Settings, clock: ManualClock, count: int = 3) -> AsyncIterator[list[Runtime]]:
    """`count` schedulers as separate processes would be: each with its own connection pool."""
    assert settings.database_url is not None
    engines = [create_engine(settings.database_url, pool_size=2, max_overflow=0) for _ in range(count)]
    try:
        yield [Runtime(engine=engine, settings=settings, clock=clock) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


async def run_all(runtimes: list[Runtime], batch: int = 500) -> int:
    return sum(await asyncio.gather(*(run_due(rt, batch) for rt in runtimes)))


async def events_of(rt: Runtime, ticket_id: int) -> list[Any]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(select(te).where(te.c.ticket_id == ticket_id).order_by(te.c.txid, te.c.id))
        return list(rows)


async def test_seeds_scenario_warns_then_breaches_once_each_with_three_schedulers(
    manual_rt: Runtime, clock: ManualClock, admin: Actor, settings: Settings
) -> None:
    supervisors = await create_group(manual_rt, None, NewGroup(name="Supervisors"))
    support = await create_group(manual_rt, None, NewGroup(name="技术支持", escalation_group_id=supervisors.id))
    await routing_rules.create_rule(
        manual_rt,
        admin.principal,
        routing_rules.RuleInput(name="technical", match_categories=["technical"], route_to_group_id=support.id),
    )
    vip_policy, _ = await seed_policies(manual_rt, admin)
    ticket_id = await new_ticket(manual_rt, admin, await vip_customer(manual_rt, admin))
    created = await ticket_row(manual_rt, ticket_id)
    assert (created.group_id, created.priority) == (support.id, "HIGH")  # VIPs get at least HIGH

    async with schedulers(settings, clock) as three:
        assert await run_all(three) == 0
        clock.set(shanghai(2031, 1, 6, 9, 17, 59))
        assert await run_all(three) == 0

        clock.set(shanghai(2031, 1, 6, 9, 18))
        assert await run_all(three) == 1
        assert await run_all(three) == 0
        warned = await ticket_row(manual_rt, ticket_id)
        assert (warned.sla_at_risk, warned.version) == (True, created.version)
        first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
        assert (first.state, first.warned_at, first.next_check_at) == ("RUNNING", clock.now(), first.due_at)

        clock.set(shanghai(2031, 1, 6, 9, 30))
        assert await run_all(three) == 1
        clock.set(shanghai(2031, 1, 6, 10, 0))
        assert await run_all(three) == 0

    first = (await clocks_of(manual_rt, ticket_id))[("FIRST_RESPONSE", 1)]
    assert (first.state, first.breached_at, first.next_check_at) == ("BREACHED", shanghai(2031, 1, 6, 9, 30), None)
    breached = await ticket_row(manual_rt, ticket_id)
    # One ticket change for the breach: priority one step up, escalation level up, same group and assignee.
    assert (breached.priority, breached.escalation_level, breached.version) == ("URGENT", 1, created.version + 1)
    assert (breached.group_id, breached.assignee_id, breached.sla_at_risk) == (support.id, created.assignee_id, True)
    view = await sla_view(manual_rt, ticket_id)
    assert view is not None and view.first_response is not None
    assert (view.first_response.state, view.first_response.remaining_seconds) == ("BREACHED", -30 * 60)

    sla_events = [e for e in await events_of(manual_rt, ticket_id) if e.type not in ("CREATED", "ASSIGNED")]
    assert [e.type for e in sla_events] == [
        "SLA_WARNING",
        "SLA_BREACHED",
        "PRIORITY_CHANGED",
        "COLLABORATOR_ADDED",
        "ESCALATED",
    ]
    warning, breach, priority, collaborating, escalated = sla_events
    assert warning.data == {
        "kind": "WARNING",
        "clockId": first.id,
        "target": "FIRST_RESPONSE",
        "cycle": 1,
        "dueAt": shanghai(2031, 1, 6, 9, 30).astimezone(UTC).isoformat(),
        "remainingSeconds": 12 * 60,
        "policyId": vip_policy,
        "version": created.version,
    }
    assert warning.occurred_at == shanghai(2031, 1, 6, 9, 18)
    assert (breach.data["kind"], breach.data["remainingSeconds"], breach.data["version"]) == (
        "BREACHED",
        0,
        created.version + 1,
    )
    assert (warning.actor_agent_id, breach.actor_agent_id) == (None, None)  # the system
    assert priority.data == {"from": "HIGH", "to": "URGENT", "reason": "SLA_BREACHED", "version": created.version + 1}
    # The escalation group works on the ticket beside its own group, in the breach's change.
    assert collaborating.data == {"agentId": None, "groupId": supervisors.id, "version": created.version + 1}
    assert collaborating.actor_agent_id is None
    assert escalated.group_id == supervisors.id  # addressed to the escalation group's supervisors
    assert (escalated.data["reason"], escalated.data["toGroupId"], escalated.data["fromGroupId"]) == (
        "SLA_BREACHED",
        supervisors.id,
        support.id,
    )
    async with manual_rt.engine.connect() as conn:
        kinds = (await conn.execute(select(n.c.kind).where(n.c.clock_id == first.id).order_by(n.c.kind))).scalars()
        assert list(kinds) == ["BREACHED", "WARNING"]


async def bulk_tickets(rt: Runtime, count: int) -> list[int]:
    """Open tickets inserted directly (intake rules are not what these tests are about)."""
    async with rt.transaction() as tx:
        customer = (
            await tx.conn.execute(insert(tables.customers).values(name="Bulk", email="bulk@example.com"))
        ).inserted_primary_key
        rows = await tx.conn.execute(
            insert(t)
            .values(
                [
                    {
                        "subject": f"#{i}",
                        "description": "d",
                        "channel": "EMAIL",
                        "customer_id": customer[0],
                        "status": "OPEN",
                        "created_at": rt.clock.now(),
                        "updated_at": rt.clock.now(),
                    }
                    for i in range(count)
                ]
            )
            .returning(t.c.id)
        )
        return sorted(rows.scalars())


async def assert_exactly_once(engine: AsyncEngine, clocks: int) -> None:
    """Every clock has one WARNING and one BREACHED: notifications and events agree."""
    async with engine.connect() as conn:
        notified = Counter((await conn.execute(select(n.c.kind))).scalars())
        assert notified == {"WARNING": clocks, "BREACHED": clocks}
        rows = await conn.execute(
            select(te.c.data["clockId"].as_integer(), te.c.type).where(te.c.type.in_(["SLA_WARNING", "SLA_BREACHED"]))
        )
        per_clock = Counter(rows.all())
        assert len(per_clock) == 2 * clocks
        assert set(per_clock.values()) == {1}


async def test_a_few_hundred_clocks_falling_due_together_fire_exactly_once_with_three_schedulers(
    manual_rt: Runtime, clock: ManualClock, admin: Actor, settings: Settings
) -> None:
    ticket_ids = await bulk_tickets(manual_rt, 300)
    # The policy arrives after the tickets: all 600 clocks start at the same instant.
    await sla.create_policy(
        manual_rt,
        admin.principal,
        sla.PolicyInput(name="All", first_response_seconds=HOUR, resolution_seconds=2 * HOUR),
    )
    async with manual_rt.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(c))).scalar_one() == 600
    async with schedulers(settings, clock) as three:
        clock.advance(timedelta(hours=3))
        # Small batches, so the three interleave and compete for the same tickets.
        fired = await run_all(three, batch=25)
        assert fired == 1200
        assert await run_all(three) == 0
    await assert_exactly_once(manual_rt.engine, 600)
    async with manual_rt.engine.connect() as conn:
        rows = (await conn.execute(select(t.c.priority, t.c.escalation_level).where(t.c.id.in_(ticket_ids)))).all()
    assert set(rows) == {("URGENT", 2)}  # NORMAL -> HIGH -> URGENT, one step per breach


async def test_the_due_clock_query_is_an_index_lookup(manual_rt: Runtime, admin: Actor) -> None:
    await bulk_tickets(manual_rt, 2000)
    await sla.create_policy(manual_rt, admin.principal, sla.PolicyInput(name="All", first_response_seconds=HOUR))
    query = due_claim_query(manual_rt.clock.now() + timedelta(minutes=50), 500)
    compiled = query.compile(dialect=manual_rt.engine.dialect, compile_kwargs={"literal_binds": True})
    async with manual_rt.transaction() as tx:
        await tx.conn.execute(text("ANALYZE sla_clocks"))
        await tx.conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join((await tx.conn.execute(text(f"EXPLAIN {compiled}"))).scalars())
        look = look_query(manual_rt.clock.now()).compile(
            dialect=manual_rt.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        next_plan = "\n".join((await tx.conn.execute(text(f"EXPLAIN {look}"))).scalars())
    print(f"\nEXPLAIN of the scheduler's due-clock claim:\n{plan}\n\nEXPLAIN of its wake-up query:\n{next_plan}")
    assert "ix_sla_clocks_next_check" in plan
    assert "LockRows" in plan
    assert "ix_sla_clocks_next_check" in next_plan


# ---------------------------------------------------------------- real `helpdesk worker` processes


def _helpdesk() -> list[str]:
    script = Path(sys.executable).parent / "helpdesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


@contextmanager
def workers(database_url: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `helpdesk worker` processes on the test database; stopped with SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="helpdesk-worker-") as data_dir:
        logs = [Path(data_dir) / f"worker-{i}.log" for i in range(count)]
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HELPDESK_DATA_DIR": data_dir,
            "HELPDESK_LOG_JSON": "false",
            "PYTHONUNBUFFERED": "1",
        }
        processes = []
        for log_path in logs:
            with log_path.open("wb") as out:
                processes.append(
                    subprocess.Popen([*_helpdesk(), "worker"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
                )
        try:
            deadline = time.monotonic() + 30
            while not all("worker running" in p.read_text() for p in logs):
                assert all(proc.poll() is None for proc in processes), [p.read_text() for p in logs]
                assert time.monotonic() < deadline, [p.read_text() for p in logs]
                time.sleep(0.05)
            yield processes
        finally:
            for proc in processes:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(timeout=15) for proc in processes]
            outputs = [p.read_text() for p in logs]
            assert codes == [0] * count, outputs
            assert all("worker stopped" in out for out in outputs), outputs
            assert not any("Traceback" in out for out in outputs), outputs


@pytest.mark.slow
async def test_three_worker_processes_fire_each_notification_exactly_once(
    rt: Runtime, admin: Actor, database_url: str
) -> None:
    ticket_ids = await bulk_tickets(rt, 200)
    with workers(database_url, 3):
        started = datetime.now(UTC)
        await sla.create_policy(
            rt,
            admin.principal,
            sla.PolicyInput(name="Four seconds", first_response_seconds=4, warning_at_percent=50),
        )
        async with rt.engine.connect() as conn:
            due = (await conn.execute(select(func.max(c.c.due_at)))).scalar_one()
        assert due - started < timedelta(seconds=5)
        deadline = time.monotonic() + 120  # generous: a loaded CI machine is slow, not wrong
        while True:
            async with rt.engine.connect() as conn:
                fired = (await conn.execute(select(func.count()).select_from(n))).scalar_one()
            if fired == 2 * len(ticket_ids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    await assert_exactly_once(rt.engine, len(ticket_ids))
    async with rt.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(c.c.due_at, c.c.warn_at, c.c.warned_at, c.c.breached_at).where(c.c.ticket_id.in_(ticket_ids))
            )
        ).all()
    for due_at, warn_at, warned_at, breached_at in rows:
        # Never early. (Being on time is the end-to-end test's business: 200 at once take a while.)
        assert breached_at == due_at
        assert warned_at >= warn_at
