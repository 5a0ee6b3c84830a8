"""Prometheus metrics: HTTP requests by route and status, latency, SQL statements, the process's
own figures (RSS, open file descriptors: prometheus_client's process collector), the database
pool, live subscription streams and asyncio tasks (what a soak watches for leaks), and a
/metrics endpoint."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.tokens import bearer

REQUESTS = Counter("helpdesk_http_requests_total", "HTTP requests", ["method", "path", "status"])
LATENCY = Histogram(
    "helpdesk_http_request_seconds",
    "HTTP request latency",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
_KNOWN_PATHS = {"/graphql", "/healthz", "/metrics"}
# Read when scraped; they describe the process's most recently started app.
DB_POOL_CHECKED_OUT = Gauge("helpdesk_db_pool_checked_out", "Database connections in use")
DB_POOL_OPEN = Gauge("helpdesk_db_pool_open", "Database connections the pool holds (in use and idle)")
EVENT_LISTENERS = Gauge("helpdesk_event_listeners", "Subscription streams registered on the event hub")
ASYNCIO_TASKS = Gauge("helpdesk_asyncio_tasks", "asyncio tasks alive on the event loop")


class _HasListeners(Protocol):
    @property
    def listener_count(self) -> int: ...


def _running_tasks() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # scraped off the event loop
        return float("nan")


ASYNCIO_TASKS.set_function(_running_tasks)


def watch(engine: AsyncEngine, hub: _HasListeners) -> None:
    """Reports this app's pool and hub on /metrics."""
    pool = engine.sync_engine.pool
    DB_POOL_CHECKED_OUT.set_function(lambda: float(pool.checkedout()))  # type: ignore[attr-defined]
    DB_POOL_OPEN.set_function(lambda: float(pool.checkedin() + pool.checkedout()))  # type: ignore[attr-defined]
    EVENT_LISTENERS.set_function(lambda: float(hub.listener_count))


STATEMENTS = Counter(
    "helpdesk_db_statements_total",
    "SQL statements sent to PostgreSQL, by the HTTP path whose request sent them ('background' outside requests)",
    ["path"],
)
# The path of the HTTP request being served; SQLAlchemy carries it into its greenlets.
_request_path: ContextVar[str] = ContextVar("helpdesk_request_path", default="background")


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*args: object, **kwargs: object) -> None:
    STATEMENTS.labels(_request_path.get()).inc()


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in _KNOWN_PATHS else "other"
        method = scope["method"]
        status = 500
        started = time.perf_counter()
        token = _request_path.set(path)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            _request_path.reset(token)
            REQUESTS.labels(method, path, str(status)).inc()
            LATENCY.labels(method, path).observe(time.perf_counter() - started)


def metrics_endpoint(token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics: open when `token` is None or empty, else only to `Authorization: Bearer <token>`
    (compared in constant time, so the answer's timing tells nothing about the token)."""
    expected = token.encode() if token else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = bearer(request.headers.get("authorization"))
            if given is None or not hmac.compare_digest(given.encode(), expected):
                return Response(
                    "metrics require Authorization: Bearer <metrics token>",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics
