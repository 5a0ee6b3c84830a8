"""The load client: a separate process that drives HTTP/1.1 keep-alive POSTs over loopback.

It shares the machine's cores with the server, so it does as little as it can per request: one
raw asyncio connection per virtual user, requests written as prepared bytes, responses read by
Content-Length (or chunks), no JSON parsing beyond a byte search for errors. It reads one job
(JSON) on stdin and prints one result (JSON) on stdout:

    {"host": "127.0.0.1", "port": 8000, "path": "/graphql", "headers": {"Authorization": "Bearer ..."},
     "concurrency": 16, "warmup": 2.0, "duration": 10.0,
     "chains": [[body, body, ...], ...], "cycle": false}

Each virtual user takes the next chain and sends its bodies in order (a chain is one ticket's
transitions; a single-body chain is one request). With `cycle`, the chains repeat forever;
otherwise a user stops when none are left (`exhausted` in the result). Requests completed during
the warm-up are not counted; throughput and latencies cover the `duration` after it.

A response is an error when its status is not 200, when it has top-level GraphQL `errors`, or
when a payload's `userErrors` is not empty.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

# Top-level GraphQL errors, or a payload's non-empty userErrors (either JSON spacing).
_ERRORS = re.compile(rb'"errors":\s*\[|"userErrors":\s*\[\s*\{')


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    exhausted: bool = False
    last_done: float = 0.0


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            return status, b"".join(parts)
        return status, await self.reader.readexactly(length) if length >= 0 else b""


def prepare(job: dict[str, Any]) -> list[list[bytes]]:
    host, path = job["host"], job.get("path", "/graphql")
    headers = "".join(f"{k}: {v}\r\n" for k, v in (job.get("headers") or {}).items())
    prefix = f"POST {path} HTTP/1.1\r\nHost: {host}:{job['port']}\r\nContent-Type: application/json\r\n{headers}"
    prepared = []
    for chain in job["chains"]:
        requests = []
        for body in chain:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            requests.append(f"{prefix}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        prepared.append(requests)
    return prepared


async def run(job: dict[str, Any]) -> dict[str, Any]:
    chains = prepare(job)
    cycle = bool(job.get("cycle"))
    warmup, duration = float(job["warmup"]), float(job["duration"])
    tally = Tally()
    state = {"next": 0}
    started = time.perf_counter()
    measure_from = started + warmup
    measure_to = measure_from + duration

    async def user() -> None:
        reader, writer = await asyncio.open_connection(job["host"], job["port"])
        conn = Connection(reader, writer)
        try:
            while time.perf_counter() < measure_to:
                index = state["next"]
                if index >= len(chains):
                    if not cycle:
                        tally.exhausted = True
                        return
                    index = 0
                state["next"] = index + 1
                for raw in chains[index]:
                    sent = time.perf_counter()
                    status, body = await conn.request(raw)
                    done = time.perf_counter()
                    if measure_from <= done <= measure_to:
                        tally.latencies.append(done - sent)
                        tally.last_done = done
                        if status != 200 or _ERRORS.search(body):
                            tally.errors += 1
                            if len(tally.samples) < 3:
                                tally.samples.append(f"{status}: {body[:300].decode(errors='replace')}")
                    if done > measure_to:
                        return
        finally:
            writer.close()

    users = [asyncio.create_task(user()) for _ in range(int(job["concurrency"]))]
    outcomes = await asyncio.gather(*users, return_exceptions=True)
    failures = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    # Out of chains early: the window ends with the last response.
    end = tally.last_done if tally.exhausted and tally.last_done else min(time.perf_counter(), measure_to)
    elapsed = end - measure_from
    ordered = sorted(tally.latencies)
    ms = [x * 1000 for x in ordered]
    result: dict[str, Any] = {
        "concurrency": int(job["concurrency"]),
        "requests": len(ordered),
        "seconds": round(max(elapsed, 1e-9), 2),
        "rps": round(len(ordered) / max(elapsed, 1e-9), 1),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "errors": tally.errors + len(failures),
    }
    if tally.exhausted:
        result["exhausted"] = True
    samples = tally.samples + failures[:3]
    if samples:
        result["error_samples"] = samples[:3]
    return result


def main() -> None:
    job = orjson.loads(sys.stdin.buffer.read())
    result = asyncio.run(run(job))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
