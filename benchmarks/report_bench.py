"""How long `report` takes over a large helpdesk.

Bulk-loads N tickets (COPY through asyncpg) spread over `--days` days, with what reports
read: first responses, resolutions, reopens, SLA clocks (some under a business calendar),
ratings, CREATED events, knowledge-base searches and feedback. Then times the report over
the last 90 days, for the whole helpdesk and for one group, and prints JSON.

    .venv/bin/python -m benchmarks.report_bench            # 1M tickets over 120 and over 360 days
    .venv/bin/python -m benchmarks.report_bench --quick    # 10k tickets
    .venv/bin/python -m benchmarks.report_bench --tickets 100000 --days 120

`run(quick)` is the same as a coroutine returning the document. Each data set's database
(`helpdesk_bench_<N>_<days>d` next to HELPDESK_BENCH_DATABASE_URL, else
HELPDESK_TEST_DATABASE_URL, else DATABASE_URL) is kept, and reused by the next run with the
same N and days unless `--reload`. The load average is printed too: the figures are wall-clock
times on a machine that may be busy with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db.engine import async_url, create_engine
from app.reads.reports import helpdesk_report
from benchmarks import databases

END = datetime(2026, 6, 1, tzinfo=UTC)
RANGE_DAYS = 90
# The performance target (README, "Reports"): the 90-day report over a million tickets.
TARGET_SECONDS = 2.0
CHANNELS = ["EMAIL", "PHONE", "WEB_FORM", "CHAT", "SOCIAL", "APP", "API"]
CHANNEL_WEIGHTS = [30, 15, 20, 20, 5, 7, 3]
CATEGORIES = ["billing", "shipping", "returns", "account", "technical", "orders", "warranty", "other", None]
PRIORITIES = ["LOW", "NORMAL", "HIGH", "URGENT"]
PRIORITY_WEIGHTS = [20, 55, 20, 5]
GROUPS = 8
AGENTS = 200
CUSTOMERS = 50_000
ARTICLES = 300
# (first response, resolution) targets in seconds per priority; NORMAL and LOW run on a calendar.
TARGETS = {
    "URGENT": (900, 4 * 3600),
    "HIGH": (3600, 8 * 3600),
    "NORMAL": (4 * 3600, 24 * 3600),
    "LOW": (8 * 3600, 72 * 3600),
}
CALENDAR_PRIORITIES = {"NORMAL", "LOW"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_url(base: str, tickets: int, days: int) -> str:
    name = f"helpdesk_bench_{tickets}_{days}d"
    return make_url(async_url(base)).set(database=name).render_as_string(False)


def prepare_database(base: str, url: str, reload: bool) -> bool:
    return databases.prepare_database(base, url, reload, "tickets")


def _seconds(rng: random.Random, mean: float) -> int:
    return max(30, int(rng.expovariate(1 / mean)))


def generate(n: int, days: int, seed: int = 7) -> dict[str, list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    start = END - timedelta(days=days)
    span = (END - start).total_seconds()
    members = {g: [a for a in range(1, AGENTS + 1) if a % GROUPS == g - 1] for g in range(1, GROUPS + 1)}
    rows: dict[str, list[tuple[Any, ...]]] = {
        "tickets": [],
        "sla_clocks": [],
        "satisfaction_ratings": [],
        "ticket_events": [],
        "article_searches": [],
        "article_feedback": [],
    }
    clock_id = 0
    for ticket_id in range(1, n + 1):
        created = start + timedelta(seconds=span * (ticket_id - 1) / n + rng.random())
        group = rng.randint(1, GROUPS)
        assignee = rng.choice(members[group]) if rng.random() < 0.9 else None
        priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        category = rng.choice(CATEGORIES)
        responded = created + timedelta(seconds=_seconds(rng, 3 * 3600)) if rng.random() < 0.9 else None
        resolved = None
        if responded is not None and rng.random() < 0.8:
            resolved = responded + timedelta(seconds=_seconds(rng, 20 * 3600))
        if resolved is not None and resolved > END:
            resolved = None
        if responded is not None and responded > END:
            responded = None
        status = rng.choice(["RESOLVED", "CLOSED"]) if resolved else rng.choice(["NEW", "OPEN", "PENDING", "ON_HOLD"])
        reopens = 1 if resolved and rng.random() < 0.05 else 0
        rows["tickets"].append(
            (
                ticket_id,
                ticket_id + 999,
                f"Order {ticket_id} question about {category or 'something'}",
                "The customer wrote a few sentences about what went wrong and what they expect.",
                status,
                priority,
                channel,
                category,
                rng.randint(1, CUSTOMERS),
                assignee,
                group,
                reopens,
                created,
                created,
                responded,
                resolved,
            )
        )
        rows["ticket_events"].append(
            (ticket_id, 1, ticket_id, group, "CREATED", assignee if channel == "PHONE" else None, created)
        )
        policy = PRIORITIES.index(priority) + 1
        for target, seconds, met in zip(
            ("FIRST_RESPONSE", "RESOLUTION"), TARGETS[priority], (responded, resolved), strict=True
        ):
            clock_id += 1
            calendar_factor = 0.35 if priority in CALENDAR_PRIORITIES else 1.0
            due = created + timedelta(seconds=seconds / calendar_factor)
            elapsed = int(((met or END) - created).total_seconds() * calendar_factor)
            breached = due if (met or END) > due else None
            state = "BREACHED" if breached else ("MET" if met else "RUNNING")
            rows["sla_clocks"].append(
                (clock_id, ticket_id, policy, target, 1, state, seconds, elapsed, created, due, breached, met)
            )
        if resolved is not None and rng.random() < 0.3:
            rows["satisfaction_ratings"].append(
                (ticket_id, rng.choices([1, 2, 3, 4, 5], [5, 5, 10, 30, 50])[0], resolved + timedelta(hours=2))
            )
        if ticket_id % 8 == 0:
            searched = created - timedelta(minutes=rng.randint(1, 120))
            search_id = len(rows["article_searches"]) + 1
            caller = rng.randint(1, AGENTS) if rng.random() < 0.3 else None
            key = f"agent:{caller}" if caller else f"client:{rng.getrandbits(64):016x}"
            kind = rng.choice(["SEARCH", "SUGGEST"])
            # Four in ten callers go on to open the ticket they asked about.
            question = rows["tickets"][-1][2] if rng.random() < 0.4 else f"question {ticket_id}"
            shown = [rng.randint(1, ARTICLES) for _ in range(3)]
            rows["article_searches"].append((search_id, kind, question, caller, 3, searched, key, shown))
            if rng.random() < 0.25:
                rows["article_feedback"].append(
                    (
                        len(rows["article_feedback"]) + 1,
                        rng.randint(1, ARTICLES),
                        rng.random() < 0.7,
                        search_id,
                        searched + timedelta(minutes=2),
                    )
                )
    return rows


COLUMNS = {
    "tickets": [
        "id",
        "number",
        "subject",
        "description",
        "status",
        "priority",
        "channel",
        "category",
        "customer_id",
        "assignee_id",
        "group_id",
        "reopen_count",
        "created_at",
        "updated_at",
        "first_responded_at",
        "resolved_at",
    ],
    "sla_clocks": [
        "id",
        "ticket_id",
        "policy_id",
        "target",
        "cycle",
        "state",
        "target_seconds",
        "elapsed_seconds",
        "started_at",
        "due_at",
        "breached_at",
        "met_at",
    ],
    "satisfaction_ratings": ["ticket_id", "score", "rated_at"],
    "ticket_events": ["id", "txid", "ticket_id", "group_id", "type", "actor_agent_id", "occurred_at"],
    "article_searches": ["id", "kind", "query", "agent_id", "result_count", "created_at", "caller_key", "article_ids"],
    "article_feedback": ["id", "article_id", "helpful", "search_id", "created_at"],
}


def _people() -> dict[str, list[tuple[Any, ...]]]:
    return {
        "groups": [(g, f"Group {g}") for g in range(1, GROUPS + 1)],
        "agents": [(a, f"Agent {a}", f"agent{a}@bench.test", "-", "AGENT") for a in range(1, AGENTS + 1)],
        "group_members": [((a - 1) % GROUPS + 1, a) for a in range(1, AGENTS + 1)],
        "customers": [(c, f"Customer {c}") for c in range(1, CUSTOMERS + 1)],
        "knowledge_articles": [(k, f"Article {k}", "How to ...", "PUBLISHED") for k in range(1, ARTICLES + 1)],
    }


PEOPLE_COLUMNS = {
    "groups": ["id", "name"],
    "agents": ["id", "name", "email", "password_hash", "role"],
    "group_members": ["group_id", "agent_id"],
    "customers": ["id", "name"],
    "knowledge_articles": ["id", "title", "body", "status"],
}


def _chunks(records: list[tuple[Any, ...]], size: int = 200_000) -> Iterator[list[tuple[Any, ...]]]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


async def load(url: str, n: int, days: int) -> None:
    started = time.perf_counter()
    rows = generate(n, days)
    log(f"generated {n} tickets in {time.perf_counter() - started:.1f}s")
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        for table, records in _people().items():
            await conn.copy_records_to_table(table, records=records, columns=PEOPLE_COLUMNS[table])
        await conn.execute(
            """
            INSERT INTO business_calendars (id, name, timezone, hours)
            VALUES (1, 'Office', 'Asia/Shanghai',
                    (SELECT jsonb_agg(jsonb_build_object('weekday', d, 'start', '09:00', 'end', '18:00'))
                     FROM generate_series(0, 4) d));
            INSERT INTO sla_policies (id, name, position, first_response_seconds, resolution_seconds, calendar_id)
            VALUES (1, 'Low', 4, 28800, 259200, 1), (2, 'Normal', 3, 14400, 86400, 1),
                   (3, 'High', 2, 3600, 28800, NULL), (4, 'Urgent', 1, 900, 14400, NULL);
            """
        )
        for table in ("tickets", "sla_clocks", "satisfaction_ratings", "ticket_events", "article_searches"):
            for i, chunk in enumerate(_chunks(rows[table])):
                await conn.copy_records_to_table(table, records=chunk, columns=COLUMNS[table])
                log(f"{table}: {min((i + 1) * 200_000, len(rows[table]))}/{len(rows[table])}")
        await conn.copy_records_to_table(
            "article_feedback", records=rows["article_feedback"], columns=COLUMNS["article_feedback"]
        )
        for table in ("tickets", "sla_clocks", "ticket_events", "article_searches", "article_feedback"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        log("vacuum analyze")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    log(f"loaded in {time.perf_counter() - started:.1f}s")


async def measure(url: str, runs: int) -> dict[str, Any]:
    """`runs` reports over the last 90 days, for the whole helpdesk and for one group (after one
    unmeasured report, so every timed run finds the same warm caches)."""
    engine = create_engine(url, pool_size=3)
    period = (END - timedelta(days=RANGE_DAYS), END)
    results: dict[str, Any] = {}
    try:
        for label, group in (("whole_helpdesk", None), ("one_group", 3)):
            await helpdesk_report(engine, period[0], period[1], group, "Asia/Shanghai", now=END)
            timings = []
            report = None
            for _ in range(runs):
                began = time.perf_counter()
                report = await helpdesk_report(engine, period[0], period[1], group, "Asia/Shanghai", now=END)
                timings.append(time.perf_counter() - began)
            assert report is not None
            results[label] = {
                "tickets_created": report.tickets_created,
                "runs": runs,
                "seconds_min": round(min(timings), 3),
                "seconds_median": round(statistics.median(timings), 3),
                "seconds_max": round(max(timings), 3),
            }
            log(f"{label}: {results[label]}")
    finally:
        await engine.dispose()
    return results


async def run_data_set(base: str, tickets: int, days: int, runs: int, reload: bool = False) -> dict[str, Any]:
    """Loads (or reuses) `tickets` spread over `days` days and times the 90-day report on them."""
    days = max(days, RANGE_DAYS)
    url = bench_url(base, tickets, days)
    load_seconds = None
    # Alembic runs its own event loop: in a thread, so this can be awaited from one.
    if not await asyncio.to_thread(prepare_database, base, url, reload):
        began = time.perf_counter()
        await load(url, tickets, days)
        load_seconds = round(time.perf_counter() - began, 1)
    load_before = os.getloadavg()[0]
    results = await measure(url, runs)
    whole = results["whole_helpdesk"]["seconds_median"]
    return {
        "tickets": tickets,
        "spread_over_days": days,
        "range_days": RANGE_DAYS,
        "database": make_url(url).database,
        "load_seconds": load_seconds,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "results": results,
        "meets_target": whole < TARGET_SECONDS,
    }


def base_url() -> str | None:
    return (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )


async def run(
    quick: bool,
    *,
    base: str | None = None,
    tickets: int | None = None,
    days: Sequence[int] | None = None,
    runs: int | None = None,
    reload: bool = False,
) -> dict[str, Any]:
    """The report benchmark as one JSON-ready document.

    Full: one million tickets spread over 120 days (750,000 fall in the 90-day range) and over
    360 days (250,000 do), five timed reports each. Quick: 10,000 tickets over 120 days, three
    runs. `tickets`, `days` and `runs` override either. The server is `base` or the first of
    HELPDESK_BENCH_DATABASE_URL, HELPDESK_TEST_DATABASE_URL, DATABASE_URL."""
    base = base or base_url()
    if not base:
        raise RuntimeError("set HELPDESK_BENCH_DATABASE_URL (or HELPDESK_TEST_DATABASE_URL / DATABASE_URL)")
    tickets = tickets or (10_000 if quick else 1_000_000)
    spreads = list(days or ((120,) if quick else (120, 360)))
    runs = runs or (3 if quick else 5)
    data_sets = [await run_data_set(base, tickets, d, runs, reload) for d in spreads]
    return {
        "benchmark": "report",
        "profile": "quick" if quick else "full",
        "target_seconds": TARGET_SECONDS,
        "cpus": os.cpu_count(),
        "note": "wall-clock seconds of helpdesk_report(); the load averages show how busy the machine was",
        "data_sets": data_sets,
        "meets_target": all(d["meets_target"] for d in data_sets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 tickets over 120 days, three runs")
    parser.add_argument("--tickets", type=int, help="tickets to load (default 1,000,000; quick 10,000)")
    parser.add_argument(
        "--days",
        type=int,
        action="append",
        help="days the tickets are spread over (at least 90; repeat for several data sets; default 120 and 360)",
    )
    parser.add_argument("--runs", type=int, help="timed reports per data set and scope (default 5; quick 3)")
    parser.add_argument("--reload", action="store_true", help="drop and load the data set again")
    args = parser.parse_args()
    if not base_url():
        parser.error("set HELPDESK_BENCH_DATABASE_URL (or HELPDESK_TEST_DATABASE_URL / DATABASE_URL)")
    summary = asyncio.run(run(args.quick, tickets=args.tickets, days=args.days, runs=args.runs, reload=args.reload))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
