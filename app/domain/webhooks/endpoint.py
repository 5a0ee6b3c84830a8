"""Where a webhook may POST: the URL's shape, and which addresses are off limits.

The address rule is applied to every address a host resolves to, when the webhook is saved and
again before each delivery (DNS can change between the two); the services do the resolving.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from app.domain import validation as v

MAX_URL = 2000
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A checked URL, split into what the deliverer needs to connect to it."""

    url: str
    scheme: str
    host: str
    port: int
    # Path and query, as sent in the request line.
    target: str


def parse_url(problems: v.Problems, url: str, field: list[str]) -> Endpoint | None:
    """The endpoint, or None and one problem at `field`: http and https only, at most 2,000
    characters, a host, no spaces or control characters."""
    text = url.strip()
    if not text:
        problems.add("must not be empty", field)
        return None
    if len(text) > MAX_URL:
        problems.add(f"must be at most {MAX_URL} characters", field)
        return None
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in text):
        problems.add("must not contain spaces or control characters", field)
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        problems.add("is not a valid URL", field)
        return None
    if parts.scheme.lower() not in SCHEMES:
        problems.add("must be an http or https URL", field)
        return None
    if not parts.hostname:
        problems.add("must name a host", field)
        return None
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would be shown to every admin who lists webhooks: use the secret.
        problems.add("must not contain a user name or password", field)
        return None
    return _endpoint(text, parts, port)


def _endpoint(text: str, parts: SplitResult, port: int | None) -> Endpoint:
    scheme = parts.scheme.lower()
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    host = parts.hostname or ""
    return Endpoint(text, scheme, host, port or (443 if scheme == "https" else 80), target)


def literal_address(host: str) -> IPAddress | None:
    """The host as an IP address, when it is one (no DNS needed)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_refusal(address: IPAddress) -> str | None:
    """Why a delivery must not go to this address (loopback, private, link-local, multicast or
    otherwise reserved), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "resolves to a loopback address"
    if address.is_link_local:
        return "resolves to a link-local address"
    if address.is_private:
        return "resolves to a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified or not address.is_global:
        return "resolves to a reserved address"
    return None
