"""previewAutomation over a million tickets: how long the answer takes through the real server,
by kind of condition.

The database of benchmarks/million_tickets.py (half the tickets open, so every count covers
500k of them); an admin asks previewAutomation (the count of matching open tickets and a sample
of the newest), one request at a time, for each set of conditions below in turn.

    .venv/bin/python -m benchmarks.automation_preview_bench            # 1M tickets
    .venv/bin/python -m benchmarks.automation_preview_bench --quick    # 100k tickets
    python -m benchmarks run --scenario automation_preview

Prints JSON. Target: every kind under 300 ms (p50 and p95 are reported for each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.csv_export_bench import login, serving
from benchmarks.loadgen import percentile
from benchmarks.million_tickets import ensure_loaded

QUERY = """query($input: AutomationInput!) { previewAutomation(input: $input) {
  matchingOpenTickets sample { id number subject status priority } } }"""
TARGET_MS = 300.0
WARMUP = 2


def _c(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


KINDS: dict[str, list[dict[str, Any]]] = {
    "none (every open ticket)": [],
    "priority IN + status": [_c("priority", "IN", ["URGENT", "HIGH"]), _c("status", "EQUALS", "NEW")],
    "priority GREATER_THAN": [_c("priority", "GREATER_THAN", "NORMAL")],
    "channel + category": [_c("channel", "EQUALS", "EMAIL"), _c("category", "EQUALS", "billing")],
    "category IS_NOT_SET + unassigned": [_c("category", "IS_NOT_SET"), _c("assigneeId", "IS_NOT_SET")],
    "customer.tier": [_c("customer.tier", "EQUALS", "VIP")],
    "tags CONTAINS (1 in 7)": [_c("tags", "CONTAINS", "overdue")],
    "tags NOT_CONTAINS": [_c("tags", "NOT_CONTAINS", "vip")],
    "subject CONTAINS, common word": [_c("subject", "CONTAINS", "damaged")],
    "subject CONTAINS, rare (Chinese)": [_c("subject", "CONTAINS", "账户 12347 无法")],
    "description CONTAINS": [_c("description", "CONTAINS", "描述 9999")],
    "customFields EQUALS (1 in 5)": [_c("customFields.region", "EQUALS", "华东")],
    "customFields EQUALS (1 in 50)": [_c("customFields.vip", "EQUALS", True)],
    "customFields CONTAINS": [_c("customFields.orderId", "CONTAINS", "so-77")],
}


def measure(base: str, token: str, rounds: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
    counts: dict[str, int] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for n in range(WARMUP + rounds):
            for kind, conditions in KINDS.items():
                variables = {
                    "input": {
                        "name": "preview",
                        "trigger": "TICKET_UPDATED",
                        "conditions": conditions,
                        "actions": [{"type": "ADD_TAGS", "value": {"tags": ["preview"]}}],
                    }
                }
                started = time.perf_counter()
                response = client.post("/graphql", json={"query": QUERY, "variables": variables})
                elapsed = (time.perf_counter() - started) * 1000
                body = response.json()
                if body.get("errors"):
                    raise RuntimeError(f"{kind}: {response.text[:500]}")
                counts[kind] = body["data"]["previewAutomation"]["matchingOpenTickets"]
                if n >= WARMUP:
                    timings[kind].append(elapsed)
    by_kind = {
        kind: {
            "matching": counts[kind],
            "p50_ms": round(statistics.median(ts), 1),
            "p95_ms": round(percentile(sorted(ts), 95), 1),
        }
        for kind, ts in timings.items()
    }
    return {"rounds": rounds, "by_kind": by_kind, "worst_p50_ms": max(k["p50_ms"] for k in by_kind.values())}


def run(tickets: int, rounds: int, reload: bool) -> dict[str, Any]:
    url, load_seconds = ensure_loaded(tickets, reload)
    with serving(url) as server:
        token = login(server.url)
        result = measure(server.url, token, rounds)
    return {
        "benchmark": "automation_preview",
        "tickets": tickets,
        "load_seconds": load_seconds,
        **result,
        "target_ms": TARGET_MS,
        "met": result["worst_p50_ms"] < TARGET_MS,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k tickets, fewer rounds")
    parser.add_argument("--rounds", type=int, default=10, help="requests per kind of condition")
    parser.add_argument("--reload", action="store_true", help="load the data set again")
    args = parser.parse_args(argv)
    tickets = 100_000 if args.quick else args.tickets
    rounds = 3 if args.quick else args.rounds
    print(json.dumps(run(tickets, rounds, args.reload), indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
