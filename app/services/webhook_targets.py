"""The SSRF guard: the address a webhook delivery connects to, checked.

A host is resolved, every address it resolves to must be public (one private answer among public
ones is refused: a rebinding trick may hide it among them), and the delivery then connects to
the address that was checked, never resolving the name again (DNS rebinding: a second lookup
may answer differently). HELPDESK_WEBHOOK_ALLOW_PRIVATE=true lifts the address rule, for tests
and the demo; the delivery still goes to the address resolved here.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from app.domain.webhooks.endpoint import Endpoint, IPAddress, address_refusal, literal_address


class TargetRefused(Exception):
    """The host does not resolve, or resolves to an address deliveries must not reach."""


@dataclass(frozen=True, slots=True)
class Target:
    endpoint: Endpoint
    address: IPAddress

    @property
    def url(self) -> str:
        """The URL with the checked address in place of the host name."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.endpoint.scheme}://{host}:{self.endpoint.port}{self.endpoint.target}"

    @property
    def host_header(self) -> str:
        """The URL's host (an internationalised name in its ASCII form, as DNS and TLS see it)
        and its port unless it is the scheme's default."""
        e = self.endpoint
        default = 443 if e.scheme == "https" else 80
        host = f"[{e.host}]" if ":" in e.host else _ascii(e.host)
        return host if e.port == default else f"{host}:{e.port}"


def _ascii(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        # Such a name does not resolve either: the guard has refused it before a header is made.
        raise TargetRefused("the host name has no ASCII form") from None


async def _addresses(host: str, port: int) -> list[IPAddress]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"the host does not resolve ({exc})") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = literal_address(str(sockaddr[0]).split("%", 1)[0])
        if address is not None and address not in found:
            found.append(address)
    if not found:
        raise TargetRefused("the host does not resolve")
    return found


async def checked_target(endpoint: Endpoint, allow_private: bool) -> Target:
    """The address to connect to, or TargetRefused with the reason."""
    addresses = await _addresses(endpoint.host, endpoint.port)
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise TargetRefused(f"the host {reason} ({address})")
    return Target(endpoint, addresses[0])
