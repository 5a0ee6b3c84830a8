"""`python -m benchmarks run`: seed (or reuse) the data set, start the real server and the
baseline, drive each scenario from a separate load process, and report.

The JSON document goes to stdout (or --output); a summary table goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks import scenarios, seed, servers, summary
from benchmarks.scenarios import FULL, QUICK, Profile, Target
from benchmarks.servers import log

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_SCENARIOS = ("list", "detail", "intake", "lifecycle", "subscriptions")
SCALE_SIZES = ("10k", "100k", "1m")
# The benchmarks of the other modules, run as they are (each prints its own JSON): module,
# arguments in the quick run, arguments in the full run.
EXTRA = {
    "kb": ("benchmarks.kb_search", ["--articles", "2000"], ["--articles", "20000"]),
    "report": ("benchmarks.report_bench", ["--quick"], []),
    "email_ingest": ("benchmarks.email_ingest_bench", ["--quick"], []),
    "sla": (
        "benchmarks.sla_scheduler_bench",
        ["--open-tickets", "10000", "--due", "1000"],
        ["--open-tickets", "100000", "--due", "10000"],
    ),
    "email_imap": ("benchmarks.imap_fetch_bench", ["--messages", "200"], ["--messages", "1000"]),
    "csv_export": ("benchmarks.csv_export_bench", ["--quick"], []),
    "custom_field_filter": ("benchmarks.custom_field_filter_bench", ["--quick"], []),
    "automation_preview": ("benchmarks.automation_preview_bench", ["--quick"], []),
}
ALL_SCENARIOS = (*DEFAULT_SCENARIOS, "web_form", "automations", "scale", *EXTRA)


def base_url() -> str:
    return (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or DEFAULT_BASE
    )


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _postgres_version() -> str | None:
    import asyncpg

    async def version() -> str:
        conn = await asyncpg.connect(seed.plain_url(base_url()))
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    try:
        return asyncio.run(version())
    except Exception:
        return None


def run_on(size: str, names: Sequence[str], profile: Profile, with_baseline: bool = True) -> dict[str, Any]:
    """The scenarios `names` against one data set, one server and one baseline."""
    url, info, loaded = seed.ensure_seeded(base_url(), size)
    asyncio.run(seed.reset(url, info))
    out: dict[str, Any] = {
        "size": size,
        "tickets": info.tickets,
        "database": seed.database_name(size),
        "seeded_now": loaded,
        "seed_seconds": info.seconds,
        "scenarios": {},
    }
    checked = servers.baseline(seed.plain_url(url)) if with_baseline else contextlib.nullcontext()
    with servers.helpdesk(url) as server, checked as base:
        target = Target(server, base, scenarios.login(server), info, url, profile)
        out["server_rss_mb_start"] = round(servers.rss_mb(server.process.pid), 1)
        for name in names:
            started = time.perf_counter()
            log(f"== {name} ({size})")
            try:
                out["scenarios"][name] = scenarios.SCENARIOS[name](target)
            except Exception as error:
                log(f"{name} failed: {type(error).__name__}: {error}")
                out["scenarios"][name] = {"error": f"{type(error).__name__}: {str(error)[:500]}"}
            out["scenarios"][name]["wall_seconds"] = round(time.perf_counter() - started, 1)
        out["server_rss_mb_end"] = round(servers.rss_mb(server.process.pid), 1)
    asyncio.run(seed.reset(url, info))
    return out


def scale(profile: Profile) -> dict[str, Any]:
    """The console list at each size, same concurrency levels: latency should stay flat."""
    levels = replace(profile, list_levels=(1, 16))
    rows = []
    for size in SCALE_SIZES:
        result = run_on(size, ["list"], levels)
        listing = result["scenarios"]["list"]
        rows.append({"size": size, "tickets": result["tickets"], "seed_seconds": result["seed_seconds"], **listing})
    return {"document": "benchmarks/documents/ConsoleList.graphql", "sizes": rows}


def extra(name: str, quick: bool) -> dict[str, Any]:
    module, quick_args, full_args = EXTRA[name]
    command = [sys.executable, "-m", module, *(quick_args if quick else full_args)]
    shown = " ".join(command[1:])
    env = {**os.environ, "HELPDESK_BENCH_DATABASE_URL": base_url()}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=3600, check=False)
    if done.returncode != 0:
        return {"command": shown, "error": done.stderr.decode(errors="replace")[-1500:]}
    text = done.stdout.decode()
    try:
        return {"command": shown, "result": json.loads(text[: text.rindex("}") + 1])}
    except ValueError:
        return {"command": shown, "output": text[-1500:]}


def run(quick: bool, size: str | None, names: Sequence[str] | None) -> dict[str, Any]:
    started = time.perf_counter()
    profile = QUICK if quick else FULL
    size = size or ("10k" if quick else "100k")
    chosen = list(names or (DEFAULT_SCENARIOS if quick else (*DEFAULT_SCENARIOS, "scale")))
    fd_limit = raise_fd_limit()
    document: dict[str, Any] = {
        "benchmark": "helpdesk",
        "profile": profile.name,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "fd_limit": fd_limit},
        "settings": {
            "warmup_seconds": profile.warmup,
            "duration_seconds": profile.duration,
            "server": "helpdesk serve, 1 uvicorn worker, SLA scheduler off",
            "client": "benchmarks/loadgen.py: raw asyncio HTTP/1.1 keep-alive, one connection per virtual user",
        },
    }
    on_size = [n for n in chosen if n in scenarios.SCENARIOS]
    if on_size:
        document["run"] = run_on(size, on_size, profile)
    if "scale" in chosen:
        log("== scale")
        document["scale"] = scale(profile)
    for name in chosen:
        if name in EXTRA:
            log(f"== {name}")
            document.setdefault("extra", {})[name] = extra(name, quick)
    document["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    document["wall_seconds"] = round(time.perf_counter() - started, 1)
    return document


def main(quick: bool, size: str | None, names: Sequence[str] | None, output: str | None) -> int:
    document = run(quick, size, names)
    text = json.dumps(document, indent=2)
    if output:
        Path(output).write_text(text + "\n")
    else:
        print(text, flush=True)
    print(summary.table(document), file=sys.stderr, flush=True)
    return 0
