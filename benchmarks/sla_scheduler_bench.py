"""The SLA scheduler on a large helpdesk: the due-clock lookup and a sweep of many clocks due at once.

Loads N open tickets, each with a running FIRST_RESPONSE clock (generated inside PostgreSQL),
of which `--due` fall due at the same instant T (warning and breach both passed), the rest
spread over the next 30 days. Then, at T:

- EXPLAIN (ANALYZE, BUFFERS) of the scheduler's claim (500 tickets of due clocks, locked with
  SKIP LOCKED) and of its wake-up query (`min(next_check_at)`): index lookups, whatever N;
- the sweep: `--schedulers` schedulers (each with its own connection pool, as processes would)
  run `run_due` until nothing is due; every due clock must get exactly one WARNING and one
  BREACHED (each breach also raises the ticket's priority: one ticket change per breach).

Prints JSON. The database (`helpdesk_slabench_<N>` next to HELPDESK_BENCH_DATABASE_URL, else
HELPDESK_TEST_DATABASE_URL, else DATABASE_URL) is kept and reused by the next run with the
same N (the due clocks are reset before each sweep) unless `--reload`.

    .venv/bin/python benchmarks/sla_scheduler_bench.py --open-tickets 1000000 --due 10000 --schedulers 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.clock import ManualClock
from app.db.engine import async_url, create_engine, sync_url
from app.services.runtime import Runtime
from app.services.sla_scheduler import due_claim_query, look_query, run_due
from app.settings import Settings
from benchmarks import databases

# The instant the due clocks fall due (far from the real clock: no test server interferes).
T = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
TARGET = 3600


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_url(base: str, tickets: int) -> str:
    return make_url(async_url(base)).set(database=f"helpdesk_slabench_{tickets}").render_as_string(False)


def prepare_database(base: str, url: str, reload: bool) -> bool:
    return databases.prepare_database(base, url, reload, "sla_clocks")


LOAD = [
    "INSERT INTO customers (name, email) SELECT 'Customer ' || g, 'c' || g || '@example.com'"
    " FROM generate_series(1, 10000) g",
    "INSERT INTO groups (name) VALUES ('Support')",
    "INSERT INTO sla_policies (id, name, position, first_response_seconds, warning_at_percent)"
    " VALUES (1, 'Everyone', 10, 3600, 80)",
    "INSERT INTO tickets (subject, description, status, priority, channel, customer_id, group_id, created_at,"
    " updated_at) SELECT 'Ticket ' || g, 'bench', 'OPEN', 'NORMAL', 'EMAIL', 1 + g % 10000, 1,"
    " :t - interval '10 minutes', :t - interval '10 minutes' FROM generate_series(1, :n) g",
    # Clocks 1..due: started an hour before T (due at T, warned 12 minutes before). The others:
    # started 10 minutes before T with targets of 1 hour to 30 days (due after T).
    "INSERT INTO sla_clocks (ticket_id, policy_id, target, cycle, state, target_seconds, elapsed_seconds,"
    " started_at, running_since, due_at, warn_at, next_check_at)"
    " SELECT id, 1, 'FIRST_RESPONSE', 1, 'RUNNING', target, 0, since, since,"
    "  since + make_interval(secs => target), since + make_interval(secs => ceil(target * 0.8)),"
    "  since + make_interval(secs => ceil(target * 0.8))"
    " FROM (SELECT id,"
    "   CASE WHEN id <= :due THEN :t - interval '1 hour' ELSE :t - interval '10 minutes' END AS since,"
    "   CASE WHEN id <= :due THEN 3600 ELSE 3600 + floor(random() * 30 * 86400)::int END AS target"
    "  FROM tickets) s",
    "UPDATE tickets SET sla_due_at = c.due_at FROM sla_clocks c WHERE c.ticket_id = tickets.id",
]

RESET = [
    "DELETE FROM sla_notifications WHERE clock_id IN (SELECT id FROM sla_clocks WHERE ticket_id <= :due)",
    "UPDATE sla_clocks SET state = 'RUNNING', warned_at = NULL, breached_at = NULL, target_seconds = 3600,"
    " policy_id = 1, running_since = :t - interval '1 hour', due_at = :t,"
    " warn_at = :t - interval '12 minutes', next_check_at = :t - interval '12 minutes' WHERE ticket_id <= :due",
    "UPDATE tickets SET priority = 'NORMAL', escalation_level = 0, sla_at_risk = false, sla_due_at = :t"
    " WHERE id <= :due",
    "DELETE FROM ticket_events WHERE ticket_id <= :due",
    "ANALYZE sla_clocks",
    "ANALYZE tickets",
]


def run_sql(url: str, statements: list[str], params: dict[str, Any]) -> None:
    engine = create_sync_engine(sync_url(url))
    with engine.begin() as conn:
        for statement in statements:
            started = time.perf_counter()
            conn.execute(text(statement), params)
            log(f"  {time.perf_counter() - started:6.1f}s  {statement[:90]}")
    engine.dispose()


async def explain(url: str, statement: str) -> dict[str, Any]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))).scalars().all()
            await conn.rollback()
    finally:
        await engine.dispose()
    execution = next((r for r in rows if r.startswith("Execution Time")), "")
    return {"plan": list(rows), "execution_ms": float(execution.split(":")[1].split()[0]) if execution else None}


async def sweep(url: str, schedulers: int, batch: int) -> dict[str, Any]:
    settings = Settings(database_url=url, log_json=False)
    clock = ManualClock(T)
    engines = [create_engine(url, pool_size=2, max_overflow=0) for _ in range(schedulers)]
    runtimes = [Runtime(engine=engine, settings=settings, clock=clock) for engine in engines]
    try:
        started = time.perf_counter()
        fired = await asyncio.gather(*(run_due(rt, batch) for rt in runtimes))
        seconds = time.perf_counter() - started
        async with engines[0].connect() as conn:
            notifications = dict(
                (await conn.execute(text("SELECT kind, count(*) FROM sla_notifications GROUP BY kind"))).all()
            )
            duplicates = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT data->>'clockId', type FROM ticket_events"
                        " WHERE type IN ('SLA_WARNING', 'SLA_BREACHED') GROUP BY 1, 2 HAVING count(*) > 1) d"
                    )
                )
            ).scalar_one()
    finally:
        for engine in engines:
            await engine.dispose()
    return {
        "schedulers": schedulers,
        "batch": batch,
        "seconds": round(seconds, 2),
        "notifications_fired": sum(fired),
        "fired_per_scheduler": fired,
        "notifications_per_second": round(sum(fired) / seconds, 1),
        "notifications_stored": notifications,
        "duplicate_events": duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open-tickets", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--schedulers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    base = (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )
    if not base:
        sys.exit("set HELPDESK_BENCH_DATABASE_URL (or HELPDESK_TEST_DATABASE_URL / DATABASE_URL)")
    url = bench_url(base, args.open_tickets)
    params = {"n": args.open_tickets, "due": args.due, "t": T}
    load_seconds = None
    if not prepare_database(base, url, args.reload):
        log(f"loading {args.open_tickets} open tickets with clocks ...")
        started = time.perf_counter()
        run_sql(url, LOAD, params)
        load_seconds = round(time.perf_counter() - started, 1)
    log("resetting the due clocks ...")
    run_sql(url, RESET, params)
    claim = due_claim_query(T, args.batch).compile(
        dialect=create_engine(url).dialect, compile_kwargs={"literal_binds": True}
    )
    claim_plan = asyncio.run(explain(url, str(claim)))
    look = look_query(T).compile(dialect=create_engine(url).dialect, compile_kwargs={"literal_binds": True})
    wake_plan = asyncio.run(explain(url, str(look)))
    log(f"sweeping {args.due} due clocks with {args.schedulers} scheduler(s) ...")
    result = asyncio.run(sweep(url, args.schedulers, args.batch))
    print(
        json.dumps(
            {
                "benchmark": "sla_scheduler",
                "open_tickets": args.open_tickets,
                "due_clocks": args.due,
                "load_seconds": load_seconds,
                "claim_query": {
                    "uses_index": any("ix_sla_clocks_next_check" in line for line in claim_plan["plan"]),
                    **claim_plan,
                },
                "wake_up_query": {
                    "uses_index": any("ix_sla_clocks_next_check" in line for line in wake_plan["plan"]),
                    **wake_plan,
                },
                "sweep": result,
                "exactly_once": result["notifications_stored"] == {"WARNING": args.due, "BREACHED": args.due}
                and result["duplicate_events"] == 0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
