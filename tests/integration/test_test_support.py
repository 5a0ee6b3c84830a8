"""What the test suite itself promises: an interrupted run's database is dropped by the next run
(a concurrent run's is not), unit tests run without a database, and the tests' data directory
(attachments) is a temporary folder, not the checkout's ./.helpdesk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from app.db.engine import sync_url
from app.settings import Settings
from tests.support import ROOT, base_database_url, drop_stale_test_databases, stale_test_databases


def ended_process_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_an_interrupted_runs_database_is_dropped_and_a_running_ones_is_kept() -> None:
    base = base_database_url()
    now = int(time.time())
    dead = f"helpdesk_test_{ended_process_pid()}_{now}_a1b2c3"
    alive = f"helpdesk_test_{os.getpid()}_{now}_d4e5f6"
    # This process's pid, but two days before it started: the pid was reused, the creator is gone.
    reused = f"helpdesk_test_{os.getpid()}_{now - 2 * 86_400}_0a0b0c"
    admin = create_sync_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in (dead, alive, reused):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            dropped = drop_stale_test_databases(base)
            assert {dead, reused} <= set(dropped) and alive not in dropped
            with admin.connect() as conn:
                left = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
            assert alive in left and dead not in left and reused not in left
        finally:
            with admin.connect() as conn:
                for name in (dead, alive, reused):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def test_on_another_machines_server_only_age_makes_a_database_stale() -> None:
    now = time.time()
    gone = f"helpdesk_test_{ended_process_pid()}_{int(now)}_a1b2c3"
    old = f"helpdesk_test_{os.getpid()}_{int(now) - 2 * 86_400}_d4e5f6"
    names = [gone, old, "helpdesk_tpl_0123456789ab", "helpdesk_test_kb_search"]
    assert stale_test_databases(names, now, local=False) == [old]
    assert stale_test_databases(names, now, local=True) == [gone, old]


def test_the_tests_keep_their_data_out_of_the_checkout(settings: Settings) -> None:
    for data_dir in (settings.data_dir, Settings().data_dir):
        assert not data_dir.resolve().is_relative_to(ROOT), data_dir
    assert settings.data_dir == Settings().data_dir


@pytest.mark.slow
def test_unit_tests_need_no_database(tmp_path: Path) -> None:
    # Nothing listens on port 1: a unit test that touched the database would fail.
    env = {**os.environ, "HELPDESK_TEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_lifecycle_rules.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
