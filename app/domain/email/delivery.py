"""What becomes of an outgoing mail: retries, giving up, suppression and the acknowledgement limit.

A delivery is QUEUED until the server takes it (SENT), the sender gives up (FAILED: the last
retry failed, or the server refused the recipient for good), or it was never meant to go out
(SUPPRESSED: no address, an address that bounced, a loop guard). Failures the server calls
temporary (4xx), and not reaching the server at all, are retried after about 1 min, 5 min,
30 min, 2 h and 6 h; a 5xx refusal of the recipient or the message is final at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Waits after the 1st, 2nd, ... failed attempt; after the last one the delivery is FAILED.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
# Acknowledgements one address may get per ACKNOWLEDGEMENT_WINDOW: enough for a customer who
# writes in about several things, too few for two robots to keep each other busy.
ACKNOWLEDGEMENT_LIMIT = 3
ACKNOWLEDGEMENT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SendFailure:
    """Why an attempt did not hand the message over; `permanent` ends the retries."""

    reason: str
    permanent: bool = False


def smtp_failure(code: int | None, message: str) -> SendFailure:
    """An SMTP server's refusal: 5xx is permanent, 4xx (and no code: the connection, TLS or a
    garbled answer) is worth trying again."""
    detail = " ".join(message.split())[:500]
    if code is None:
        return SendFailure(detail)
    return SendFailure(f"{code} {detail}".strip(), permanent=500 <= code < 600)


def next_attempt_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None: give up."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[attempts - 1]


def suppression_reason(address: str | None, bounced_at: datetime | None) -> str | None:
    """Why mail to the customer must not be sent, or None when it may."""
    if not address or not address.strip():
        return "the customer has no email address"
    if bounced_at is not None:
        return f"mail to {address} bounced for good on {bounced_at.date().isoformat()}; nothing more is sent to it"
    return None


def acknowledgement_allowed(sent_in_window: int) -> bool:
    """Whether one more acknowledgement may go to an address that got `sent_in_window` (queued or
    sent) within the last ACKNOWLEDGEMENT_WINDOW."""
    return sent_in_window < ACKNOWLEDGEMENT_LIMIT
