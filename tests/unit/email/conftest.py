"""The email rules are pure: these tests need no database, so the suite's per-test emptying
(and the database itself) is switched off here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Overrides tests/conftest.py's autouse fixture: nothing to empty."""
