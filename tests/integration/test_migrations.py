"""The migration chain goes up, down and up again, and agrees with app.db.tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect

from app.db import migrate
from app.db.engine import sync_url
from app.db.tables import metadata
from tests.support import own_test_database


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    yield from own_test_database()


def _tables(url: str) -> set[str]:
    engine = create_sync_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    assert _tables(scratch_url) == set(metadata.tables)
    migrate.downgrade(scratch_url, "base")
    assert _tables(scratch_url) == set()
    migrate.upgrade(scratch_url, "head")
    assert _tables(scratch_url) == set(metadata.tables)


def test_models_and_migrations_agree(scratch_url: str) -> None:
    engine = create_sync_engine(sync_url(scratch_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []
