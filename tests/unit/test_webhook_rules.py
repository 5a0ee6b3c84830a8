"""The pure webhook rules: URL shape, address classes, the signature, the retry schedule."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.domain import validation as v
from app.domain.webhooks.endpoint import address_refusal, parse_url
from app.domain.webhooks.retries import next_attempt, stored_response, succeeded
from app.domain.webhooks.signature import signature, verify

T0 = datetime(2031, 1, 1, tzinfo=UTC)


def test_a_url_is_split_into_what_the_deliverer_connects_to() -> None:
    endpoint = parse_url(v.Problems(), "HTTPS://Hooks.Example.cn:8443/in?x=1", ["url"])
    assert endpoint is not None
    assert (endpoint.scheme, endpoint.host, endpoint.port, endpoint.target) == (
        "https",
        "hooks.example.cn",
        8443,
        "/in?x=1",
    )
    plain = parse_url(v.Problems(), "http://example.cn", ["url"])
    assert plain is not None and (plain.port, plain.target) == (80, "/")


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("127.0.0.2", "loopback"),
        ("172.16.5.4", "private"),
        ("fd00::1", "private"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("224.0.0.1", "reserved"),
        ("240.0.0.1", "private"),
    ],
)
def test_only_public_addresses_are_allowed(address: str, refused: str | None) -> None:
    reason = address_refusal(ipaddress.ip_address(address))
    assert (reason is None) if refused is None else (reason is not None and refused in reason)


def test_the_signature_covers_time_and_body() -> None:
    header = signature("whsec_k", b'{"a":1}', 1_900_000_000)
    assert header.startswith("t=1900000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify("whsec_k", b'{"a":1}', header, now=1_900_000_100)
    assert not verify("whsec_k", b'{"a":2}', header, now=1_900_000_100)
    assert not verify("whsec_k", b'{"a":1}', header, now=1_900_000_301)
    assert not verify("whsec_k", b'{"a":1}', "v1=" + header.split("v1=")[1], now=1_900_000_000)


def test_retries_back_off_then_give_up_within_a_day() -> None:
    assert next_attempt(1, T0, T0) == T0 + timedelta(seconds=10)
    assert next_attempt(2, T0, T0) == T0 + timedelta(minutes=1)
    assert next_attempt(9, T0, T0 + timedelta(hours=12)) == T0 + timedelta(hours=18)
    assert next_attempt(9, T0, T0 + timedelta(hours=19)) is None


def test_only_2xx_succeeds_and_a_kilobyte_of_the_answer_is_kept() -> None:
    assert [succeeded(s) for s in (200, 204, 301, 302, 404, 500)] == [True, True, False, False, False, False]
    assert stored_response(b"x" * 5000) == "x" * 1024
    assert stored_response(b"a\x00b") == "a\ufffdb"
