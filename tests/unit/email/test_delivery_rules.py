"""When an outgoing mail is retried, given up, suppressed or rate-limited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.email.delivery import (
    ACKNOWLEDGEMENT_LIMIT,
    RETRY_DELAYS,
    acknowledgement_allowed,
    next_attempt_at,
    smtp_failure,
    suppression_reason,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_retries_follow_the_schedule_then_stop() -> None:
    waits = [next_attempt_at(n, NOW) for n in range(1, 7)]
    assert waits[:5] == [
        NOW + timedelta(minutes=1),
        NOW + timedelta(minutes=5),
        NOW + timedelta(minutes=30),
        NOW + timedelta(hours=2),
        NOW + timedelta(hours=6),
    ]
    assert waits[5] is None and len(RETRY_DELAYS) == 5
    assert next_attempt_at(0, NOW) is None


def test_5xx_is_permanent_4xx_and_no_code_are_not() -> None:
    assert smtp_failure(550, "5.1.1 no such user").permanent
    assert smtp_failure(554, "rejected").reason == "554 rejected"
    assert not smtp_failure(451, "try later").permanent
    assert not smtp_failure(None, "connection refused").permanent
    assert smtp_failure(421, "a\r\n  b").reason == "421 a b"


def test_suppression() -> None:
    assert suppression_reason("li@example.cn", None) is None
    assert suppression_reason(None, None) == "the customer has no email address"
    assert suppression_reason("  ", None) == "the customer has no email address"
    reason = suppression_reason("li@example.cn", NOW)
    assert reason is not None and "bounced" in reason and "2026-12-07" in reason


def test_acknowledgement_limit() -> None:
    assert [acknowledgement_allowed(n) for n in range(5)] == [True] * ACKNOWLEDGEMENT_LIMIT + [False] * (
        5 - ACKNOWLEDGEMENT_LIMIT
    )
