"""Settings from environment variables (every one is documented in the README)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.rate_limits import RateLimit


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", extra="ignore")

    # PostgreSQL URL (postgresql://user@host:port/db). Unset: an embedded PostgreSQL in data_dir.
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    # Pub/sub backend: postgres (default, the same database), memory://, or redis://host:port.
    broadcast_url: str | None = Field(default=None, validation_alias=AliasChoices("BROADCAST_URL"))
    data_dir: Path = Path(".helpdesk")
    timezone: str = "UTC"
    log_level: str = "INFO"
    log_json: bool = True

    # Sessions and login throttling.
    session_ttl_hours: int = 12
    login_slowdown_after: int = 3
    login_lockout_after: int = 10
    login_window_minutes: int = 15

    # The customer side: links in mail start with this (sign-in links, surveys); customer
    # sessions (signed in by a mailed link) last this long; sign-in links asked for per address
    # and per client address within the window, beyond which requestCustomerSignIn is refused.
    public_url: str = "http://127.0.0.1:8000"
    customer_session_ttl_hours: int = Field(default=168, ge=1)
    customer_sign_in_per_address: int = Field(default=5, ge=1)
    customer_sign_in_per_client: int = Field(default=20, ge=1)
    customer_sign_in_window_minutes: int = Field(default=15, ge=1)
    # The From address (and Message-ID domain) of system mail sent through HELPDESK_SMTP_URL:
    # sign-in links, and acknowledgements and surveys of tickets that came by no mailbox.
    mail_from: str = "helpdesk@localhost"

    # VIP customers get at least this priority on intake.
    vip_min_priority: str = "HIGH"

    # GraphQL abuse limits.
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_page_size: int = 100
    # Static cost of an operation: each field 1, times the `first` of every list above it.
    max_query_cost: int = 10_000
    # Document size with every fragment spread expanded, checked before validation walks it:
    # fields selected, fragment spreads, and nested selection sets (fields, inline fragments
    # and spreads alike).
    max_expanded_fields: int = 500
    max_fragment_spreads: int = 200
    max_selection_nesting: int = 64
    # How deeply a request body's JSON (its variables above all) may nest; deeper is a 400.
    max_json_nesting: int = 64
    max_request_bytes: int = 1_000_000
    # When set, GET /metrics requires `Authorization: Bearer <this token>`; unset, it is open.
    metrics_token: SecretStr | None = None
    # Browser origins allowed to call the API cross-site (comma-separated); empty: none (closed).
    cors_origins: str = ""
    # Realtime: live subscriptions per websocket connection; seconds between log polls.
    max_subscriptions_per_connection: int = 20
    event_poll_seconds: float = 1.0
    # Largest websocket message a client may send; a bigger one closes the socket with 1009.
    max_ws_message_bytes: int = 1_048_576
    # Long-lived connections re-read their caller's credential (revoked, expired, deactivated,
    # role and groups) at most this many seconds late: websockets close with 4403, every
    # operation and every delivered event uses the caller as re-read.
    credential_recheck_seconds: float = Field(default=5.0, gt=0)

    # Input limits.
    max_subject_length: int = 500
    max_description_length: int = 50_000
    max_tags: int = 20
    max_tag_length: int = 50
    max_attachment_bytes: int = 25 * 1024 * 1024
    # Inbound mail: a bigger raw message is REJECTED (and quarantined) before it is parsed.
    max_email_bytes: int = 40 * 1024 * 1024

    # Outgoing mail of mailboxes without SMTP settings, and system mail (sign-in links, surveys,
    # notifications): smtp://[user:pass@]host:port[?starttls=true] or smtps://...; unset, such
    # mail fails like a temporary failure and is retried (app.domain.email.delivery).
    smtp_url: SecretStr | None = None
    # IMAP: seconds between polls of a server without IDLE (and the longest an IDLE waits).
    mail_poll_seconds: float = Field(default=30.0, gt=0)
    # Extra CA certificates (a PEM file) trusted for IMAP and SMTP over TLS, for mail servers
    # with a private CA; the system's CAs are trusted either way, and certificates are verified.
    mail_ca_file: Path | None = None
    # Run the IMAP fetcher and the mail sender inside `helpdesk serve` (the worker always does).
    run_mail: bool = True

    # The public web form: accepted submissions per client address and per email address,
    # written count/seconds; parsed at startup (a bad value stops serve with a clear message).
    web_form_limit: str = "5/600"
    # A satisfaction survey's link works once, for this many days after the resolution.
    survey_days: int = Field(default=14, ge=1)

    # Set by `helpdesk serve --demo`: the spool of its local mail sink, listed at GET /demo/mail
    # (the "sent mail" example page). Unset: no such endpoint.
    demo_mail_dir: Path | None = None

    # Encrypts secrets stored in the database (mailbox passwords): a Fernet key (32 url-safe
    # base64 bytes). Unset with an embedded database: generated once into data_dir/secret.key.
    secret_key: SecretStr | None = None

    # Outbound webhooks: consecutive failed deliveries that disable a webhook; whether URLs may
    # point at loopback, private, link-local or reserved addresses (tests and the demo only).
    webhook_max_failures: int = Field(default=10, ge=1)
    webhook_allow_private: bool = False

    auto_close_after_hours: float = Field(
        default=72.0, validation_alias=AliasChoices("HELPDESK_AUTO_CLOSE_AFTER_HOURS", "HELPDESK_AUTO_CLOSE_AFTER")
    )

    # Connections are kept, not opened per request: under load, an overflow connection is opened
    # for one request and closed after it (a PostgreSQL backend started each time), which halved
    # the console list's throughput at concurrency 64. So the pool holds them all, no overflow.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    # Ping each pooled connection before use (a round trip each time); see app/db/engine.py.
    db_pre_ping: bool = True

    # SLA: run the scheduler (warnings, breaches, re-evaluation) inside `helpdesk serve`; the
    # longest it sleeps between looks for due clocks; open tickets re-evaluated inside the
    # admin's request after a policy change (the scheduler does the rest).
    run_scheduler: bool = True
    sla_tick_seconds: float = 1.0
    sla_reevaluate_inline: int = 2000

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.session_ttl_hours)

    @property
    def customer_session_ttl(self) -> timedelta:
        return timedelta(hours=self.customer_session_ttl_hours)

    @field_validator("web_form_limit")
    @classmethod
    def _check_web_form_limit(cls, value: str) -> str:
        try:
            RateLimit.parse(value)
        except ValueError as exc:
            raise ValueError(f"HELPDESK_WEB_FORM_LIMIT: {exc}") from exc
        return value

    @property
    def web_form_rate_limit(self) -> RateLimit:
        return RateLimit.parse(self.web_form_limit)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read once per process, on first use (never at import time)."""
    return Settings()
