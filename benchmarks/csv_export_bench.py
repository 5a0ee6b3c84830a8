"""GET /exports/tickets.csv over a million tickets: rows per second, and the server's memory as
the rows stream (it must stay flat: compare RSS after 100k rows with RSS at the end).

One `helpdesk serve` process (one uvicorn worker, scheduler off) on the database of
benchmarks/million_tickets.py; an admin (who sees every ticket) downloads the whole list with
no filter, then with a custom-field filter. The client counts rows as bytes arrive; a thread
samples the server's RSS (psutil) every 20 ms.

    .venv/bin/python -m benchmarks.csv_export_bench                     # 1M tickets
    .venv/bin/python -m benchmarks.csv_export_bench --tickets 100000
    python -m benchmarks run --scenario csv_export

Prints JSON. Targets: at least 20,000 rows/s; RSS at the end within 20 MB of RSS at 100k rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.million_tickets import ensure_loaded
from benchmarks.servers import helpdesk_with_admin, rss_mb
from tests.processes import ServerProcess

ADMIN_EMAIL, ADMIN_PASSWORD = "bench-admin@example.cn", "bench admin password 1"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token userErrors { code } } }"
TARGET_ROWS_PER_SECOND = 20_000
FLAT_MB = 20.0


def serving(url: str) -> AbstractContextManager[ServerProcess]:
    return helpdesk_with_admin(url, ADMIN_EMAIL, ADMIN_PASSWORD)


def login(base: str) -> str:
    response = httpx.post(
        f"{base}/graphql", json={"query": LOGIN, "variables": {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}}
    )
    token = response.json()["data"]["login"]["token"]
    if not token:
        raise RuntimeError(f"login failed: {response.text}")
    return str(token)


class RssSampler(threading.Thread):
    """The server's RSS every 20 ms, and its peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)


def download(server: ServerProcess, token: str, filter: dict[str, Any] | None) -> dict[str, Any]:
    params = {"filter": json.dumps(filter)} if filter else {}
    pid = server.process.pid
    before = rss_mb(pid)
    sampler = RssSampler(pid)
    sampler.start()
    rows, size, at_100k = -1, 0, None  # the header is not a row
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{server.url}/exports/tickets.csv", params=params, headers=headers, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            size += len(chunk)
            # The benchmark's subjects hold no line breaks: one LF per row (a CRLF may be split
            # between two chunks, an LF never).
            rows += chunk.count(b"\n")
            if at_100k is None and rows >= 100_000:
                at_100k = rss_mb(pid)
    seconds = time.perf_counter() - started
    at_end = rss_mb(pid)
    sampler.done.set()
    sampler.join()
    return {
        "filter": filter,
        "rows": rows,
        "megabytes": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "server_rss_mb": {
            "before": round(before, 1),
            "after_100k_rows": round(at_100k, 1) if at_100k is not None else None,
            "at_end": round(at_end, 1),
            "peak": round(max(sampler.peak, at_end), 1),
        },
    }


def run(tickets: int, reload: bool) -> dict[str, Any]:
    url, load_seconds = ensure_loaded(tickets, reload)
    with serving(url) as server:
        token = login(server.url)
        whole = download(server, token, None)
        filtered = download(server, token, {"customFields": {"region": "华东"}, "status": ["RESOLVED"]})
    rss = whole["server_rss_mb"]
    flat = rss["after_100k_rows"] is not None and rss["at_end"] - rss["after_100k_rows"] <= FLAT_MB
    return {
        "benchmark": "csv_export",
        "tickets": tickets,
        "load_seconds": load_seconds,
        "whole_list": whole,
        "filtered": filtered,
        "targets": {
            "rows_per_second": TARGET_ROWS_PER_SECOND,
            "met_rows_per_second": whole["rows_per_second"] >= TARGET_ROWS_PER_SECOND,
            "flat_memory_mb": FLAT_MB,
            "met_flat_memory": flat,
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k tickets")
    parser.add_argument("--reload", action="store_true", help="load the data set again")
    args = parser.parse_args(argv)
    tickets = 100_000 if args.quick else args.tickets
    print(json.dumps(run(tickets, args.reload), indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
