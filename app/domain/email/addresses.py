"""Mail addresses as the helpdesk compares them."""

from __future__ import annotations

from dataclasses import dataclass


def normalize_address(address: str) -> str:
    """The form addresses are compared in: local parts are case-insensitive in practice."""
    return address.strip().lower()


def same_address(a: str, b: str) -> bool:
    return normalize_address(a) == normalize_address(b)


def address_domain(address: str) -> str:
    """The part after the last `@` ('' when there is none)."""
    _, at, domain = address.strip().rpartition("@")
    return domain if at else ""


@dataclass(frozen=True)
class MailAddress:
    """One mailbox from an address header: `name` is the decoded display name ('' when absent)."""

    address: str
    name: str = ""

    @property
    def key(self) -> str:
        return normalize_address(self.address)
