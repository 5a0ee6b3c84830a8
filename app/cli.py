"""The `helpdesk` command: serve, worker, migrate, seed-demo, create-admin, export-schema, mailgate,
mail quarantine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from app.storage import IncomingFile

T = TypeVar("T")
log = logging.getLogger("helpdesk.cli")
LOG_FILE_NAME = "helpdesk.log"


def configure_command_logging(settings: Settings) -> Path | None:
    """The log of a long-running command. Piped or redirected (CI, systemd, containers): on stderr,
    as configured. At a terminal, where a person reads the few lines that say where to go, the
    log goes to helpdesk.log in the data directory and only warnings and errors to the terminal.
    Returns the log file, if one is used."""
    from app.logging_setup import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    if not sys.stdout.isatty():
        return None
    root = logging.getLogger()
    log_file = settings.data_dir / LOG_FILE_NAME
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write %s (%s): logging to the terminal", log_file, exc)
        return None
    to_file.setFormatter(root.handlers[0].formatter)
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.WARNING)
    to_terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [to_file, to_terminal]
    return log_file


def create_app_for_command() -> Starlette:
    """uvicorn factory for `helpdesk serve` (and its worker processes, which share its terminal)."""
    from app.main import create_app

    settings = get_settings()
    configure_command_logging(settings)
    return create_app(settings)


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded PostgreSQL in the data directory, started
    (or joined, when another helpdesk command already runs it) and stopped when the last
    command using it exits. Child processes (uvicorn workers) inherit the URL."""
    if settings.database_url:
        return settings.database_url
    from app.db.embedded import ensure_embedded_database, install_signal_handlers

    install_signal_handlers()
    started = time.perf_counter()
    url = ensure_embedded_database(settings.data_dir)
    print(
        f"embedded PostgreSQL ready in {time.perf_counter() - started:.1f}s (data in {settings.data_dir})", flush=True
    )
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return url


def _with_runtime(settings: Settings, url: str, work: Callable[..., Awaitable[T]]) -> T:
    from app.db.engine import create_engine
    from app.services.runtime import Runtime

    async def main() -> T:
        engine = create_engine(url, pool_size=2, max_overflow=2)
        try:
            return await work(Runtime(engine=engine, settings=settings))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from app.db.migrate import upgrade

    url = resolve_database_url(settings)
    upgrade(url)
    print("database migrated to the latest revision", flush=True)
    return 0


def _seed(settings: Settings, url: str) -> None:
    from app.demo import seed_demo

    result = _with_runtime(settings, url, seed_demo)
    print(result.summary(), flush=True)


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.db.migrate import upgrade

    url = resolve_database_url(settings)
    upgrade(url)
    _seed(settings, url)
    return 0


def cmd_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    from app.db.migrate import upgrade
    from app.domain.errors import DomainError
    from app.services.agents import ensure_admin

    url = resolve_database_url(settings)
    upgrade(url)
    try:
        agent, created = _with_runtime(
            settings, url, lambda rt: ensure_admin(rt, args.email, args.password, args.name or "Administrator")
        )
    except DomainError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    print(f"admin {'created' if created else 'updated'}: {agent.email} (id {agent.id})", flush=True)
    return 0


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.schema import build_schema

    sys.stdout.write(build_schema(settings).as_str() + "\n")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from app.background import run_worker
    from app.db.migrate import upgrade

    log_file = configure_command_logging(settings)
    url = resolve_database_url(settings)
    upgrade(url)
    if log_file is not None:
        print(f"Log:       {log_file}", flush=True)
    print(
        "worker running: SLA scheduler, auto-close, attachment sweep (no HTTP); stop with Ctrl-C or SIGTERM",
        flush=True,
    )
    asyncio.run(run_worker(settings, url))
    print("worker stopped", flush=True)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.db.migrate import upgrade
    from app.static_site import examples_directory

    log_file = configure_command_logging(settings)
    url = resolve_database_url(settings)
    upgrade(url)
    print("database migrated", flush=True)
    demo_mail = _start_demo_mail(settings) if args.demo else None
    if args.demo:
        _seed(settings, url)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{args.port}"
    print(f"GraphiQL:  {base}/graphql", flush=True)
    print(f"Health:    {base}/healthz   Metrics: {base}/metrics", flush=True)
    if examples_directory() is not None:
        print(f"Examples:  {base}/examples/  (agent console, wallboard, reports)", flush=True)
        print(f"Console:   {base}/examples/console/", flush=True)
        print(f"Wallboard: {base}/examples/wallboard/", flush=True)
    if args.demo:
        from app.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD

        print(f"Demo admin login: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}", flush=True)
    if demo_mail is not None:
        print(f"Demo mail: sent to {demo_mail}, shown at {base}/examples/mail/", flush=True)
    if log_file is not None:
        print(f"Log:       {log_file}", flush=True)
    uvicorn.run(
        "app.cli:create_app_for_command",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        proxy_headers=False,
        ws_max_size=settings.max_ws_message_bytes,
        timeout_graceful_shutdown=10,
    )
    return 0


def _start_demo_mail(settings: Settings) -> str | None:
    """`serve --demo` without HELPDESK_SMTP_URL: outgoing mail goes to a local sink whose catch
    the "sent mail" example page shows. The app (and any uvicorn worker process) reads both
    settings from the environment, like every other setting."""
    if settings.smtp_url is not None:
        return None
    from app.demo.sent_mail import start_sink_thread

    spool = settings.data_dir / "demo-mail"
    port = start_sink_thread(spool)
    os.environ["HELPDESK_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    os.environ["HELPDESK_DEMO_MAIL_DIR"] = str(spool.resolve())
    get_settings.cache_clear()
    return os.environ["HELPDESK_SMTP_URL"]


# sysexits.h: what a mail server makes of a delivery command's exit status.
EX_NOUSER = 67  # bounced at once: no such mailbox
EX_TEMPFAIL = 75  # kept in the queue and retried later


def cmd_mailgate(args: argparse.Namespace, settings: Settings) -> int:
    """One message on stdin, taken for the mailbox by the same service as ingestEmail. Exit 0
    whatever the outcome (DUPLICATE and REJECTED are recorded too); 67 for an unknown mailbox;
    75 when the database cannot be reached or anything else fails, so the mail server keeps the
    message and tries again: mail is never dropped on our error."""
    from app.db.repositories.mailboxes import mailbox_by_address
    from app.domain.errors import DomainError
    from app.services.email_ingest import ingest_email_file
    from app.services.runtime import Runtime

    async def work(rt: Runtime) -> int:
        async with rt.reader.connect() as conn:
            mailbox = await mailbox_by_address(conn, args.mailbox)
        if mailbox is None:
            print(f"mailgate: no mailbox with the address {args.mailbox}", file=sys.stderr)
            return EX_NOUSER
        result = await ingest_email_file(rt, None, mailbox.id, _piped_message(sys.stdin.buffer))
        ticket = f" ticket #{result.ticket.number}" if result.ticket else ""
        print(f"mailgate: {result.outcome.value}{ticket}", flush=True)
        return 0

    try:
        url = resolve_database_url(settings)
        return _with_runtime(settings, url, work)
    except DomainError as error:
        print(f"mailgate: {error.message}", file=sys.stderr)
        return EX_TEMPFAIL
    except Exception as error:  # the database is down, or a defect: the mail server retries later
        log.exception("mailgate failed")
        print(f"mailgate: temporary failure: {type(error).__name__}: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    finally:
        # Whatever the service did not read (a message over the limit, a refusal) is read and
        # dropped, so the mail server never sees a broken pipe.
        while sys.stdin.buffer.read(1 << 20):
            pass


def _piped_message(stream: BinaryIO) -> IncomingFile:
    """The message on stdin, read a piece at a time as the service stages it."""
    from app.storage import IncomingFile

    async def read(size: int) -> bytes:
        return await asyncio.to_thread(stream.read, size)

    return IncomingFile(filename="message.eml", content_type="message/rfc822", read=read)


def cmd_mail_quarantine(args: argparse.Namespace, settings: Settings) -> int:
    """Lists the held (REJECTED) messages; `--show ID` prints one's headers; `--retry ID` runs it
    through ingest again and prints the outcome. Exit 0, or 1 with a message for an unknown id, a
    message that cannot be retried or is rejected again."""
    from app.domain.errors import DomainError
    from app.services import mail_quarantine
    from app.services.runtime import Runtime

    async def work(rt: Runtime) -> int:
        if args.show is not None:
            sys.stdout.buffer.write(await mail_quarantine.raw_headers(rt, args.show) + b"\n")
            return 0
        if args.retry is not None:
            result = await mail_quarantine.retry(rt, args.retry)
            ticket = f" ticket #{result.ticket.number}" if result.ticket else ""
            why = f" {result.rejected.reason}: {result.rejected.detail}" if result.rejected else ""
            print(f"quarantine {args.retry}: {result.outcome.value}{ticket}{why}", flush=True)
            return 1 if result.rejected else 0
        held = await mail_quarantine.held_messages(rt)
        print("\t".join(("id", "mailbox", "received", "size", "reason", "detail", "retried")))
        for m in held:
            retried = m.retried_at.isoformat(timespec="seconds") if m.retried_at else "-"
            row = (m.id, m.mailbox_address, m.received_at.isoformat(timespec="seconds"), m.size, m.reason)
            print("\t".join(map(str, (*row, " ".join(m.detail.split()), retried))))
        print(f"{len(held)} held", file=sys.stderr)
        return 0

    try:
        return _with_runtime(settings, resolve_database_url(settings), work)
    except DomainError as error:
        print(f"mail quarantine: {error.message}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description="Helpdesk: a GraphQL customer-service ticket system")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve /graphql, /healthz and /metrics")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="seed demo data once (idempotent)")
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(handler=cmd_migrate)
    commands.add_parser(
        "worker", help="run the SLA scheduler and auto-close without serving HTTP (any number may run)"
    ).set_defaults(handler=cmd_worker)
    commands.add_parser("seed-demo", help="load demo data (idempotent)").set_defaults(handler=cmd_seed_demo)

    admin = commands.add_parser("create-admin", help="create an admin, or reset an existing agent to admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--name")
    admin.set_defaults(handler=cmd_create_admin)

    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(handler=cmd_export_schema)

    mailgate = commands.add_parser(
        "mailgate", help="take one raw message from stdin for a mailbox (for a mail server's pipe transport)"
    )
    mailgate.add_argument("--mailbox", required=True, help="the mailbox's address, e.g. support@example.cn")
    mailgate.set_defaults(handler=cmd_mailgate)

    mail = commands.add_parser("mail", help="inbound mail administration").add_subparsers(dest="mail", required=True)
    quarantine = mail.add_parser("quarantine", help="list the rejected messages held in quarantine, show or retry one")
    chosen = quarantine.add_mutually_exclusive_group()
    chosen.add_argument("--show", type=int, metavar="ID", help="print the message's headers")
    chosen.add_argument("--retry", type=int, metavar="ID", help="run the message through ingest again")
    quarantine.set_defaults(handler=cmd_mail_quarantine)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, get_settings())


if __name__ == "__main__":
    sys.exit(main())
