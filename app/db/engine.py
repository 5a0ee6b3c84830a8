"""The async engine (services open transactions through Runtime.transaction, which owns the outbox)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """Accept plain postgresql:// URLs (as libpq users write them) and use asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(async_url(url))
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pre_ping: bool = True, echo: bool = False
) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # Errors and logs name the statement, never its parameters: they hold customers'
        # emails and phone numbers, and the bound values of every other query.
        hide_parameters=True,
        echo=echo,
        connect_args={"server_settings": {"application_name": "helpdesk", "timezone": "UTC"}},
    )
    if pre_ping:
        # On by default (HELPDESK_DB_PRE_PING): a round trip per checkout, but a connection that
        # died with a database restart is noticed before a request uses it.
        event.listen(engine.sync_engine.pool, "checkout", _ping_on_checkout)
    return engine


def _ping_on_checkout(dbapi_connection: Any, connection_record: object, connection_proxy: object) -> None:
    """SQLAlchemy's own pool_pre_ping wraps its asyncpg ping in BEGIN and ROLLBACK (for pgbouncer's
    transaction mode, which we do not support): three round trips per checkout, about a tenth of
    an intake's server CPU. This is one, `SELECT 1` by the simple protocol. A connection that
    fails it is dropped and the pool connects afresh (up to three times, then the error shows)."""
    try:
        dbapi_connection.run_async(_select_one)
    except Exception as error:
        raise sa_exc.DisconnectionError("the pooled connection failed its ping") from error


async def _select_one(connection: asyncpg.Connection) -> None:
    await connection.execute("SELECT 1")


# What asyncpg raises when the server is gone, shutting down or not yet accepting connections.
# OSError covers a refused or reset TCP connection and the missing unix socket of a stopped
# embedded server (FileNotFoundError).
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    sa_exc.TimeoutError,  # no pool connection free within pool_timeout
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached right now (restarting, down, or the
    pool exhausted) rather than a fault of the request: worth a 503, not a 500."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


class StatementCounter:
    """Counts SQL statements sent through an engine (the N+1 guard and the benchmarks use it).
    `ignore` leaves out statements whose SQL contains it, or any of them (e.g. the event hub's
    log reads)."""

    def __init__(self, engine: AsyncEngine, ignore: str | tuple[str, ...] | None = None) -> None:
        self.count = 0
        self._engine = engine
        self._ignore = (ignore,) if isinstance(ignore, str) else ignore or ()
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: object, cursor: object, statement: str, *args: object, **kwargs: object) -> None:
        if not any(ignored in statement for ignored in self._ignore):
            self.count += 1

    def close(self) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._on_execute)
