"""Composition root: settings -> engine -> runtime -> Strawberry schema -> Starlette app.

The one module of `app` that knows the GraphQL layer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app import metrics
from app.background import (
    AutomationsTask,
    MailFetcherTask,
    MailSenderTask,
    SlaSchedulerTask,
    WebhooksTask,
    housekeeping,
)
from app.clock import Clock, SystemClock
from app.db.engine import create_engine, database_unavailable
from app.events.broadcast import HelpdeskBroadcast, broadcast_url
from app.events.credential_changes import CredentialChanges
from app.events.hub import EventHub
from app.events.wallboard_feed import WallboardFeed
from app.limits import BodySizeLimit
from app.logging_setup import configure_logging
from app.metrics import MetricsMiddleware, metrics_endpoint
from app.reads.wallboard import wallboard_numbers
from app.services.live_access import LiveAccess
from app.services.runtime import Runtime
from app.settings import Settings, get_settings
from app.static_site import SecurityHeaders, examples_directory
from app.web import demo_sent_mail, download_attachment, healthz, root, static_files
from resolvers.http import HelpdeskGraphQL
from resolvers.schema import build_schema
from resolvers.ticket_csv import ticket_csv_endpoint

log = logging.getLogger("helpdesk")


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, *, background_tasks: bool = True
) -> Starlette:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (the `helpdesk` command sets it for the embedded database)")
    database_url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(
            database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=settings.db_pre_ping,
        )
        rt = Runtime(engine=engine, settings=settings, clock=clock or SystemClock())
        broadcast = HelpdeskBroadcast(broadcast_url(database_url, settings.broadcast_url))
        await broadcast.connect()
        hub = EventHub(engine, broadcast, poll_interval=settings.event_poll_seconds)
        await hub.start()
        rt.publisher = hub
        metrics.watch(engine, hub)
        wallboard = WallboardFeed(
            hub, lambda group_id: wallboard_numbers(engine, group_id, rt.clock.now(), settings.timezone)
        )
        app.state.runtime, app.state.hub, app.state.wallboard = rt, hub, wallboard
        app.state.access = access = LiveAccess(rt)
        credential_changes = CredentialChanges(broadcast, access.forget_credentials)
        await credential_changes.start()
        rt.credentials_changed = credential_changes.announce
        # First: a bad HELPDESK_SMTP_URL stops the start before any other task runs.
        mail_sender = MailSenderTask(rt) if background_tasks and settings.run_mail else None
        sweeps = asyncio.create_task(housekeeping(rt)) if background_tasks else None
        sla_scheduler = SlaSchedulerTask(rt) if background_tasks and settings.run_scheduler else None
        app.state.sla_scheduler = sla_scheduler
        mail_fetcher = MailFetcherTask(rt) if background_tasks and settings.run_mail else None
        # The webhook fan-out and deliverer, on a small pool of their own like the scheduler.
        webhook_task = WebhooksTask(rt) if background_tasks else None
        automations_task = AutomationsTask(rt) if background_tasks else None
        try:
            yield
        finally:
            if automations_task is not None:
                await automations_task.stop()
            if webhook_task is not None:
                await webhook_task.stop()
            if mail_fetcher is not None:
                await mail_fetcher.stop()
            if mail_sender is not None:
                await mail_sender.stop()
            if sla_scheduler is not None:
                await sla_scheduler.stop()
            if sweeps is not None:
                sweeps.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeps
            await wallboard.stop()
            await credential_changes.stop()
            await hub.stop()
            await broadcast.disconnect()
            await engine.dispose()
            schema.close()

    schema = build_schema(settings)
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    graphql = HelpdeskGraphQL(
        schema,
        max_json_nesting=settings.max_json_nesting,
        graphql_ide="graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        multipart_uploads_enabled=True,
        keep_alive=True,
        keep_alive_interval=15,
    )
    return Starlette(
        routes=[
            Route("/", root),
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint(metrics_token)),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/attachments/{attachment_id}", download_attachment),
            Route("/exports/tickets.csv", ticket_csv_endpoint(schema)),
            *([Route("/demo/mail", demo_sent_mail)] if settings.demo_mail_dir else []),
            WebSocketRoute("/graphql", graphql),
            Mount("/static", app=static_files(), name="static"),
            *(
                [Mount("/examples", app=SecurityHeaders(StaticFiles(directory=folder, html=True)), name="examples")]
                if (folder := examples_directory())
                else []
            ),
        ],
        middleware=middleware(settings),
        # One handler for both kinds of connection (starlette types them separately).
        exception_handlers=dict.fromkeys(DATABASE_ERRORS, cast(ExceptionHandler, unavailable)),
        lifespan=lifespan,
    )


DATABASE_ERRORS = (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def unavailable(conn: HTTPConnection, exc: Exception) -> Response | None:
    """A database error that escaped the GraphQL layer (e.g. reading the caller's session while
    the database restarts): 503 with Retry-After, without the exception's text, when the
    database is unreachable (a websocket is closed with 1013, "try again later"); anything else
    goes on to the usual 500."""
    if not database_unavailable(exc):
        raise exc
    log.warning("database unavailable: %s on %s", type(exc).__name__, conn.url.path)
    if isinstance(conn, WebSocket):
        with contextlib.suppress(Exception):  # it may be closed already
            await conn.close(code=1013, reason="database unavailable")
        return None
    return JSONResponse(
        {"errors": [{"message": "service temporarily unavailable", "extensions": {"code": "UNAVAILABLE"}}]},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def middleware(settings: Settings) -> list[Middleware]:
    stack = [
        Middleware(MetricsMiddleware),
        Middleware(
            BodySizeLimit,
            max_bytes=settings.max_request_bytes,
            # A multipart request may carry a few files of up to the attachment limit each, or one
            # raw mail message (ingestEmail).
            max_upload_bytes=max(settings.max_attachment_bytes * 5, settings.max_email_bytes)
            + settings.max_request_bytes,
        ),
    ]
    origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
    if origins:
        stack.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            ),
        )
    return stack


def create_app_from_env() -> Starlette:
    """uvicorn factory for `helpdesk serve` (and its worker processes)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
