"""When a failed delivery is tried again: about 10 s, 1 min, 10 min, 1 h, then every 6 h, for
at most 24 hours after it was queued; then it has FAILED."""

from __future__ import annotations

from datetime import datetime, timedelta

BACKOFF = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
GIVE_UP_AFTER = timedelta(hours=24)
# At most this much of a response is kept in the delivery log.
MAX_RESPONSE_BYTES = 1024
TIMEOUT_SECONDS = 10.0


def next_attempt(attempts: int, queued_at: datetime, now: datetime) -> datetime | None:
    """After the `attempts`-th failed attempt (1 for the first): when to try again, or None to
    give up (the next try would fall more than 24 hours after the delivery was queued)."""
    delay = BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]
    moment = now + delay
    return moment if moment <= queued_at + GIVE_UP_AFTER else None


def succeeded(status_code: int) -> bool:
    """Only 2xx counts: a redirect is not followed, so it is a failure like any other."""
    return 200 <= status_code < 300


def stored_response(raw: bytes) -> str:
    """What the log keeps of a response body: its first KB as text (NUL cannot be stored)."""
    return raw[:MAX_RESPONSE_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
