"""Opaque bearer secrets: random, shown once, stored only as a sha256 digest.

The prefix says which table holds the digest, so authentication is one lookup.
"""

from __future__ import annotations

import hashlib
import secrets

SESSION_PREFIX = "hds_"
API_TOKEN_PREFIX = "hdp_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
