"""Opaque bearer secrets: random, shown once, stored only as a sha256 digest.

The prefix says which table holds the digest, so authentication is one lookup.
"""

from __future__ import annotations

import hashlib
import secrets

SESSION_PREFIX = "hds_"
API_TOKEN_PREFIX = "hdp_"
# Customers: a session signed in by link, and the one-time link token that opens it.
CUSTOMER_SESSION_PREFIX = "hdc_"
SIGN_IN_LINK_PREFIX = "hdl_"
# Not a bearer credential: the single-use token of a satisfaction survey's link.
SURVEY_PREFIX = "hdr_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer(value: object) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` value, or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
