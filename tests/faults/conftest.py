"""Fault tests run on private PostgreSQL and Redis servers of their own; they need no
emptying of the shared test database between tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Overrides tests/conftest.py's: nothing here uses the shared test database."""
