"""TicketFilter.customFields over a million tickets: p95 latency of the ticket list filtered by
custom fields, through the real server.

The database of benchmarks/million_tickets.py (every ticket has orderId, region, plan and vip);
an admin (who sees every ticket) asks one page of 20, newest first, one request at a time, for
three kinds of filter: a unique `orderId` (1 match), `region` + `plan` (1 in 15: about 67k
matches) and `vip` + `plan` (1 in 150: about 6.7k). PostgreSQL answers containment (`@>`) from
the GIN index ix_tickets_custom_fields, or walks the created-at index when matches are common.

    .venv/bin/python -m benchmarks.custom_field_filter_bench            # 1M tickets
    .venv/bin/python -m benchmarks.custom_field_filter_bench --tickets 100000
    python -m benchmarks run --scenario custom_field_filter

Prints JSON. Target: p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.csv_export_bench import login, serving
from benchmarks.million_tickets import PLANS, REGIONS, ensure_loaded

QUERY = """query($f: TicketFilter) { tickets(filter: $f, first: 20) {
  edges { node { id number subject status customFields } } pageInfo { hasNextPage endCursor } } }"""
TARGET_P95_MS = 50.0
WARMUP = 20


def _filters(kind: str, tickets: int, rng: random.Random) -> dict[str, Any]:
    if kind == "orderId":
        return {"orderId": f"SO-{rng.randint(1, tickets)}"}
    if kind == "region+plan":
        return {"region": rng.choice(REGIONS), "plan": rng.choice(PLANS)}
    return {"vip": True, "plan": rng.choice(PLANS)}


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(base: str, token: str, tickets: int, per_kind: int) -> dict[str, Any]:
    rng = random.Random(18)
    kinds = ["orderId", "region+plan", "vip+plan"]
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for i in range(WARMUP + per_kind * len(kinds)):
            kind = kinds[i % len(kinds)]
            variables = {"f": {"customFields": _filters(kind, tickets, rng)}}
            started = time.perf_counter()
            response = client.post("/graphql", json={"query": QUERY, "variables": variables})
            elapsed = (time.perf_counter() - started) * 1000
            data = response.json()
            if data.get("errors") or not data["data"]["tickets"]["edges"]:
                raise RuntimeError(f"{variables}: {response.text[:500]}")
            if i >= WARMUP:
                timings[kind].append(elapsed)
    every = sorted(t for ts in timings.values() for t in ts)
    return {
        "requests": len(every),
        "p50_ms": round(statistics.median(every), 1),
        "p95_ms": round(_percentile(every, 0.95), 1),
        "p99_ms": round(_percentile(every, 0.99), 1),
        "by_filter": {
            kind: {
                "p50_ms": round(statistics.median(ts), 1),
                "p95_ms": round(_percentile(sorted(ts), 0.95), 1),
            }
            for kind, ts in timings.items()
        },
    }


def run(tickets: int, per_kind: int, reload: bool) -> dict[str, Any]:
    url, load_seconds = ensure_loaded(tickets, reload)
    with serving(url) as server:
        token = login(server.url)
        result = measure(server.url, token, tickets, per_kind)
    return {
        "benchmark": "custom_field_filter",
        "tickets": tickets,
        "load_seconds": load_seconds,
        "document": QUERY,
        **result,
        "target_p95_ms": TARGET_P95_MS,
        "met": result["p95_ms"] < TARGET_P95_MS,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k tickets, fewer requests")
    parser.add_argument("--requests", type=int, default=200, help="per kind of filter")
    parser.add_argument("--reload", action="store_true", help="load the data set again")
    args = parser.parse_args(argv)
    tickets = 100_000 if args.quick else args.tickets
    per_kind = 50 if args.quick else args.requests
    print(json.dumps(run(tickets, per_kind, args.reload), indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
