"""Benchmark databases: created and migrated once, reused across runs unless asked to reload."""

from __future__ import annotations

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.db.engine import sync_url
from app.db.migrate import upgrade


def prepare_database(base: str, url: str, reload: bool, loaded_table: str) -> bool:
    """Creates (or, with `reload`, recreates) and migrates the database at `url` on the server of
    `base`; True when `loaded_table` already holds rows, i.e. the data set need not be loaded again."""
    admin = create_sync_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and reload:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    upgrade(url)
    if not exists:
        return False
    engine = create_sync_engine(sync_url(url))
    with engine.connect() as conn:
        loaded = conn.execute(text(f'SELECT count(*) FROM "{loaded_table}"')).scalar_one()
    engine.dispose()
    return bool(loaded)
