"""How fast `ingestEmail` takes mail, and how much memory a 25 MB message costs the server.

One `helpdesk serve` process (one uvicorn worker, scheduler off) on a fresh database
`helpdesk_bench_email`, with a mailbox whose tickets routing rules send to three groups. Then:

- throughput: realistic mixed messages (Chinese and English, GBK and UTF-8, some HTML-only,
  about a fifth with a 20-300 KB attachment, a third replies to earlier messages) handed in
  by 8 concurrent relays over HTTP, as `helpdesk mailgate` or an MTA would; messages/s and
  latency. Target: at least 50 messages/s.
- memory: one 25 MB message (an 18.5 MB attachment) while the server's RSS (psutil) is
  sampled every few milliseconds; the growth over the RSS just before. Target: under 60 MB.

    .venv/bin/python -m benchmarks.email_ingest_bench            # 2,000 messages
    .venv/bin/python -m benchmarks.email_ingest_bench --quick    # 200 messages
    .venv/bin/python -m benchmarks.email_ingest_bench --large-only  # the 25 MB message alone
    python -m benchmarks run --scenario email_ingest

Prints JSON. The figures are wall-clock on a machine that may be busy: the load average is in
the document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db.engine import async_url
from benchmarks import databases
from benchmarks.servers import helpdesk_with_admin, log, rss_mb
from tests.processes import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "frontend_examples"
DATABASE = "helpdesk_bench_email"
SUPPORT = "support@bench.example.cn"
ADMIN_EMAIL, ADMIN_PASSWORD = "bench-admin@example.cn", "bench admin password 1"
CONCURRENCY = 8
TARGET_PER_SECOND = 50.0
TARGET_RSS_GROWTH_MB = 60.0
BIG_ATTACHMENT_BYTES = 18_500_000  # base64 makes it a 25 MB message
STATEMENTS = re.compile(r'^helpdesk_db_statements_total\{path="/graphql"\} ([0-9.e+]+)$', re.MULTILINE)

SUBJECTS_ZH = ["订单 {n} 没有收到", "申请退款：订单 {n}", "快递显示已签收但我没收到 {n}", "发票抬头填错了", "无法登录"]
SUBJECTS_EN = ["Order {n} has not arrived", "Refund request for order {n}", "Cannot log in", "Invoice {n} is wrong"]
BODY_ZH = (
    "您好，\n\n我在上周下单（订单号 {n}），到现在物流一直没有更新，客服电话也打不通。请尽快帮我查一下，谢谢！\n\n李雷"
)
BODY_EN = (
    "Hello,\n\nI ordered last week (order {n}) and the tracking has not moved since. "
    "Please look into it.\n\nThanks,\nJane"
)
QUOTE = "\n\n在 2026年12月7日 10:00，客服中心 <{s}> 写道：\n> 您好，我们正在处理您的问题。\n> 请耐心等待。\n"
RULES = [
    ("退款与发票", ["退款", "refund", "发票", "invoice"], "HIGH"),
    ("物流", ["快递", "物流", "arrived", "tracking"], None),
]


def bench_url(base: str) -> str:
    return make_url(async_url(base)).set(database=DATABASE).render_as_string(False)


# ---------------------------------------------------------------- the messages


@dataclass
class Mix:
    """Messages to hand in, built before the clock starts, and the Message-IDs replies may answer."""

    rng: random.Random
    sent_ids: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def message(self, n: int) -> bytes:
        roll = self.rng.random()
        if self.sent_ids and roll < 0.33:
            return self._reply(n)
        chinese = self.rng.random() < 0.6
        m = EmailMessage()
        m["From"] = f"李雷 <customer{self.rng.randrange(400)}@example.cn>" if chinese else f"Jane <jane{n}@example.com>"
        m["To"] = SUPPORT
        m["Subject"] = self.rng.choice(SUBJECTS_ZH if chinese else SUBJECTS_EN).format(n=f"SO-{n}")
        m["Date"] = format_datetime(datetime.now(UTC))
        m["Message-ID"] = make_msgid(domain="mail.example.cn")
        body = (BODY_ZH if chinese else BODY_EN).format(n=f"SO-{n}")
        if self.rng.random() < 0.1:
            m.set_content(f"<html><body><p>{body.replace(chr(10), '<br>')}</p></body></html>", subtype="html")
            self.kinds["html_only"] += 1
        else:
            m.set_content(body, charset="gb18030" if chinese and self.rng.random() < 0.5 else "utf-8")
        if self.rng.random() < 0.2:
            size = self.rng.randrange(20_000, 300_000)
            m.add_attachment(self.rng.randbytes(size), maintype="application", subtype="pdf", filename=f"收据-{n}.pdf")
            self.kinds["with_attachment"] += 1
        self.kinds["chinese" if chinese else "english"] += 1
        self.sent_ids.append(str(m["Message-ID"]))
        return m.as_bytes()

    def _reply(self, n: int) -> bytes:
        answered = self.rng.choice(self.sent_ids)
        m = EmailMessage()
        # Replies come from someone else than the first sender here: threading is by Message-ID.
        m["From"] = f"李雷 <customer{self.rng.randrange(400)}@example.cn>"
        m["To"] = SUPPORT
        m["Subject"] = "Re: 订单没有收到"
        m["Message-ID"] = make_msgid(domain="mail.example.cn")
        m["In-Reply-To"] = answered
        m["References"] = answered
        m.set_content(f"还是没有收到，麻烦再查一下（{n}）。" + QUOTE.format(s=SUPPORT))
        self.kinds["reply"] += 1
        return m.as_bytes()


def big_message(rng: random.Random) -> bytes:
    m = EmailMessage()
    m["From"] = "王芳 <wang.fang@example.cn>"
    m["To"] = SUPPORT
    m["Subject"] = "监控录像（大附件）"
    m["Message-ID"] = make_msgid(domain="mail.example.cn")
    m.set_content("录像见附件。")
    m.add_attachment(rng.randbytes(BIG_ATTACHMENT_BYTES), maintype="video", subtype="mp4", filename="录像.mp4")
    return m.as_bytes()


# ---------------------------------------------------------------- the server


def server(url: str) -> AbstractContextManager[ServerProcess]:
    return helpdesk_with_admin(url, ADMIN_EMAIL, ADMIN_PASSWORD)


def graphql(client: httpx.Client, base: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{base}/graphql", json={"query": document, "variables": variables})
    data = response.json()
    if data.get("errors"):
        raise RuntimeError(data["errors"])
    payload: dict[str, Any] = next(iter(data["data"].values()))
    if payload.get("userErrors"):
        raise RuntimeError(payload["userErrors"])
    return payload


def set_up(base: str) -> tuple[str, str]:
    """Logs in, creates the groups, the routing rules and the mailbox. Returns (token, mailbox id)."""
    doc = {p.stem: p.read_text() for p in EXAMPLES.glob("console/**/*.graphql")}
    with httpx.Client(timeout=30) as client:
        token = str(graphql(client, base, doc["Login"], {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})["token"])
        client.headers["Authorization"] = f"Bearer {token}"
        home = graphql(client, base, doc["CreateGroup"], {"input": {"name": "邮件客服"}})["group"]["id"]
        for position, (name, keywords, priority) in enumerate(RULES):
            group = graphql(client, base, doc["CreateGroup"], {"input": {"name": name}})["group"]["id"]
            rule = {"name": name, "position": position, "matchKeywords": keywords, "routeToGroupId": group}
            if priority:
                rule["setPriority"] = priority
            graphql(client, base, doc["CreateRoutingRule"], {"input": rule})
        box = {"name": "售后邮箱", "address": SUPPORT, "groupId": home}
        mailbox = graphql(client, base, doc["CreateMailbox"], {"input": box})["mailbox"]["id"]
    return token, str(mailbox)


# ---------------------------------------------------------------- the load


async def hand_in(client: httpx.AsyncClient, base: str, mailbox: str, raw: bytes) -> str:
    document = (EXAMPLES / "partner" / "IngestEmail.graphql").read_text()
    operations = {"query": document, "variables": {"mailboxId": mailbox, "message": None}}
    response = await client.post(
        f"{base}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.message"]})},
        files={"0": ("message.eml", raw, "message/rfc822")},
    )
    data = response.json()
    if response.status_code != 200 or data.get("errors") or data["data"]["ingestEmail"]["userErrors"]:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return str(data["data"]["ingestEmail"]["outcome"])


async def statements(client: httpx.AsyncClient, base: str) -> float:
    """The server's count of SQL statements sent for /graphql requests so far."""
    found = STATEMENTS.search((await client.get(f"{base}/metrics")).text)
    return float(found.group(1)) if found else 0.0


async def throughput(base: str, token: str, mailbox: str, pid: int, messages: list[bytes]) -> dict[str, Any]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for raw in messages:
        queue.put_nowait(raw)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=120, headers=headers) as client:

        async def relay() -> None:
            while not queue.empty():
                raw = queue.get_nowait()
                started = time.perf_counter()
                outcomes[await hand_in(client, base, mailbox, raw)] += 1
                latencies.append(time.perf_counter() - started)

        server = psutil.Process(pid)
        statements_before = await statements(client, base)
        cpu_before, started = sum(server.cpu_times()[:2]), time.perf_counter()
        await asyncio.gather(*(relay() for _ in range(CONCURRENCY)))
        seconds = time.perf_counter() - started
        cpu = sum(server.cpu_times()[:2]) - cpu_before
        statements_sent = await statements(client, base) - statements_before
    latencies.sort()
    return {
        "messages": len(messages),
        "concurrency": CONCURRENCY,
        "seconds": round(seconds, 2),
        "messages_per_second": round(len(messages) / seconds, 1),
        "target_messages_per_second": TARGET_PER_SECOND,
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
            "max": round(latencies[-1] * 1000, 1),
        },
        # The server's own CPU per message: on a machine shared with the load generator (and other
        # work), 1000 / this is what one fully busy server process would take per second.
        "server_cpu_ms_per_message": round(cpu / len(messages) * 1000, 1),
        # What each message's request sent to PostgreSQL (authentication and the payload's reads
        # included; transaction control and pool pings are not counted).
        "sql_statements_per_message": round(statements_sent / len(messages), 2),
        "outcomes": dict(outcomes),
        "mean_message_kb": round(sum(map(len, messages)) / len(messages) / 1024, 1),
    }


def memory(base: str, token: str, mailbox: str, pid: int, raw: bytes) -> dict[str, Any]:
    """The server's RSS while it takes `raw`, sampled every 2 ms from another thread."""
    before = rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_mb(pid))
            except psutil.Error:
                return
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def send() -> str:
        async with httpx.AsyncClient(timeout=300, headers={"Authorization": f"Bearer {token}"}) as client:
            return await hand_in(client, base, mailbox, raw)

    started = time.perf_counter()
    outcome = asyncio.run(send())
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "message_mb": round(len(raw) / 2**20, 1),
        "outcome": outcome,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak[0], 1),
        "rss_after_mb": round(rss_mb(pid), 1),
        "rss_growth_mb": round(peak[0] - before, 1),
        "target_rss_growth_mb": TARGET_RSS_GROWTH_MB,
    }


def run(quick: bool, base: str, large_only: bool = False) -> dict[str, Any]:
    url = bench_url(base)
    databases.prepare_database(base, url, True, "tickets")  # a fresh database every run
    rng = random.Random(17)
    mix = Mix(rng)
    warmup = [mix.message(n) for n in range(40)]
    measured = [] if large_only else [mix.message(n) for n in range(40, 40 + (200 if quick else 2000))]
    document: dict[str, Any] = {
        "benchmark": "email_ingest",
        "profile": "large message only" if large_only else "quick" if quick else "full",
        "server": "helpdesk serve, 1 uvicorn worker, SLA scheduler off",
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "mix": dict(mix.kinds),
    }
    with server(url) as process:
        token, mailbox = set_up(process.url)
        log(f"email_ingest: {len(warmup)} warm-up, {len(measured)} measured messages")
        asyncio.run(throughput(process.url, token, mailbox, process.process.pid, warmup))
        if measured:
            document["throughput"] = asyncio.run(throughput(process.url, token, mailbox, process.process.pid, measured))
            log(f"email_ingest: {document['throughput']['messages_per_second']} messages/s")
        # A first large message warms what a large one needs (buffers, imports) before measuring.
        memory(process.url, token, mailbox, process.process.pid, big_message(rng)[: 2 * 2**20] + b"\r\n")
        document["large_message"] = memory(process.url, token, mailbox, process.process.pid, big_message(rng))
        log(f"email_ingest: 25 MB message, RSS growth {document['large_message']['rss_growth_mb']} MB")
    document["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 messages instead of 2,000")
    parser.add_argument("--large-only", action="store_true", help="the warm-up, then only the 25 MB message")
    args = parser.parse_args()
    base = (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    print(json.dumps(run(args.quick, base, args.large_only), indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
