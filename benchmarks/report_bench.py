"""How long `report` takes over a large helpdesk.

Bulk-loads N tickets (COPY through asyncpg) spread over `--days` days, with what reports
read: first responses, resolutions, reopens, SLA clocks (some under a business calendar),
ratings, CREATED events, knowledge-base searches and feedback. Then times the report over
the last 90 days, for the whole helpdesk and for one group, and prints JSON.

    .venv/bin/python benchmarks/report_bench.py --tickets 1000000

The database (`helpdesk_bench_<N>_<days>d` next to HELPDESK_BENCH_DATABASE_URL, else
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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db.engine import async_url, create_engine
from app.services.reports import helpdesk_report
from benchmarks import databases

END = datetime(2026, 6, 1, tzinfo=UTC)
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
    engine = create_engine(url, pool_size=2)
    period = (END - timedelta(days=90), END)
    results: dict[str, Any] = {}
    try:
        for label, group in (("whole helpdesk", None), ("one group", 3)):
            timings = []
            report = None
            for _ in range(runs):
                began = time.perf_counter()
                report = await helpdesk_report(engine, period[0], period[1], group, "Asia/Shanghai", now=END)
                timings.append(time.perf_counter() - began)
            assert report is not None
            results[label] = {
                "tickets_created": report.tickets_created,
                "seconds_min": round(min(timings), 3),
                "seconds_median": round(statistics.median(timings), 3),
                "seconds_max": round(max(timings), 3),
            }
            log(f"{label}: {results[label]}")
    finally:
        await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=120, help="days the tickets are spread over (at least 90)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reload", action="store_true", help="drop and load the data set again")
    args = parser.parse_args()
    base = (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )
    if not base:
        parser.error("set HELPDESK_BENCH_DATABASE_URL (or HELPDESK_TEST_DATABASE_URL / DATABASE_URL)")
    days = max(args.days, 90)
    url = bench_url(base, args.tickets, days)
    if not prepare_database(base, url, args.reload):
        asyncio.run(load(url, args.tickets, days))
    results = asyncio.run(measure(url, args.runs))
    summary = {
        "benchmark": "report",
        "tickets": args.tickets,
        "spread_over_days": days,
        "range_days": 90,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "results": results,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
