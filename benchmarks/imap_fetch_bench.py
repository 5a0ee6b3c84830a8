"""The IMAP fetcher draining a mailbox: N new messages in a private dovecot's INBOX, taken by a
real `helpdesk worker` (one fetcher: one per mailbox at a time), each ingested as a new ticket and
flagged. The target in issue 17: 1,000 messages in under 60 s.

Timed from the moment the mailbox is created (the worker is already running and finds it on its
next look, within HELPDESK_MAIL_POLL_SECONDS = 1 s here) until every message has its row in
inbound_messages; then every message must carry the taken flags. Prints JSON.

The database (`helpdesk_bench_email_imap` next to HELPDESK_BENCH_DATABASE_URL, else
HELPDESK_TEST_DATABASE_URL, else DATABASE_URL) is recreated on every run.

    .venv/bin/python -m benchmarks.imap_fetch_bench --messages 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from app.auth.secrets import secret_box
from app.db import tables
from app.db.engine import create_engine
from app.settings import Settings
from benchmarks.databases import prepare_database
from tests.dovecot import PrivateDovecot, private_dovecot
from tests.fixtures.inbound_mail import customer_mail

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-imap"
POLL_SECONDS = 1.0
BOUND = 600.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_url(base: str) -> str:
    return make_url(base).set(database="helpdesk_bench_email_imap").render_as_string(hide_password=False)


def start_worker(url: str, env: dict[str, str], data_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    script = Path(sys.executable).parent / "helpdesk"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]
    log_path = data_dir / "worker.log"
    full_env = {**os.environ, "DATABASE_URL": url, "HELPDESK_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **env}
    with log_path.open("wb") as out:
        process = subprocess.Popen([*command, "worker"], cwd=ROOT, env=full_env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while "worker running" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start:\n{log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    return process, log_path


async def drain(url: str, settings: Settings, dovecot: PrivateDovecot, total: int) -> dict[str, Any]:
    engine = create_engine(url, pool_size=1, max_overflow=1)
    im = tables.inbound_messages
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(
                insert(tables.mailboxes).values(
                    name="Support",
                    address="support@bench.example.cn",
                    imap_host="127.0.0.1",
                    imap_port=dovecot.imap_port,
                    imap_security="STARTTLS",
                    imap_username="support",
                    imap_password_encrypted=secret_box(settings).encrypt(PASSWORD),
                    imap_folder="INBOX",
                )
            )
        first_at = None
        taken = 0
        while taken < total:
            if time.perf_counter() - started > BOUND:
                raise RuntimeError(f"only {taken} of {total} messages taken within {BOUND:.0f} s")
            await asyncio.sleep(0.05)
            async with engine.connect() as conn:
                taken = int(await conn.scalar(select(func.count()).select_from(im)) or 0)
            if taken and first_at is None:
                first_at = time.perf_counter()
        seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            outcomes = dict((await conn.execute(select(im.c.outcome, func.count()).group_by(im.c.outcome))).all())
            tickets = int(await conn.scalar(select(func.count()).select_from(tables.tickets)) or 0)
        draining = seconds - ((first_at or started) - started)
        return {
            "total_seconds": round(seconds, 2),
            "messages_per_second": round(total / seconds, 1),
            "first_message_after_seconds": round((first_at or started) - started, 2),
            "messages_per_second_after_the_first": round((total - 1) / draining, 1) if draining > 0 else None,
            "outcomes": outcomes,
            "tickets": tickets,
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    base = (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )
    if not base:
        sys.exit("set HELPDESK_BENCH_DATABASE_URL (or HELPDESK_TEST_DATABASE_URL / DATABASE_URL)")
    url = bench_url(base)
    prepare_database(base, url, reload=True, loaded_table="mailboxes")
    key = Fernet.generate_key().decode()
    with private_dovecot({"support": PASSWORD}) as dovecot, tempfile.TemporaryDirectory() as data_dir:
        log(f"delivering {args.messages} messages to the private dovecot ...")
        started = time.perf_counter()
        mails = [customer_mail(f"<bench-{i}@mail.example.cn>", f"订单 SO-{i} 没有收到") for i in range(args.messages)]
        dovecot.deliver("support", mails)
        deliver_seconds = time.perf_counter() - started
        env = {
            "HELPDESK_SECRET_KEY": key,
            "HELPDESK_MAIL_POLL_SECONDS": str(POLL_SECONDS),
            "HELPDESK_MAIL_CA_FILE": str(dovecot.ca_file),
            "HELPDESK_LOG_LEVEL": "WARNING",
        }
        worker, _ = start_worker(url, env, Path(data_dir))
        try:
            log("draining the mailbox with one helpdesk worker ...")
            settings = Settings(database_url=url, secret_key=key)
            result = asyncio.run(drain(url, settings, dovecot, args.messages))
            deadline = time.monotonic() + 60
            while True:
                flags = dovecot.flags("support")
                flagged = sum(1 for f in flags if "\\Seen" in f and "$HelpdeskTaken" in f)
                if flagged == args.messages or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
    print(
        json.dumps(
            {
                "benchmark": "email_imap",
                "messages": args.messages,
                "message_bytes": len(mails[0]),
                "deliver_seconds": round(deliver_seconds, 2),
                "poll_seconds": POLL_SECONDS,
                **result,
                "flagged": flagged,
                "target": "1000 messages in under 60 s",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
