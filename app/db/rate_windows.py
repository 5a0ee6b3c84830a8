"""Counting uses within a sliding window, per subject, in the database: the rate limits of
sign-in requests and web-form submissions. One row per use, in a table of (subject, time); each
subject's uses are counted one at a time across processes (a transaction lock per subject,
taken in sorted order so two subjects never deadlock), and the rows that fell out of the window
are deleted as they are met, so a table holds about one window."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Column, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.locks import lock_for_transaction


async def take_within_window(
    conn: AsyncConnection,
    table: Table,
    at: Column[datetime],
    limits: Mapping[str, int],
    window_start: datetime,
    now: datetime,
) -> bool:
    """Counts one use against every subject of `limits` (subject -> uses allowed in the window),
    in the caller's transaction, and True; or False, with nothing counted, when a subject already
    has its limit of uses after `window_start`. The locks hold until the caller commits."""
    subjects = sorted(limits)
    for subject in subjects:
        await lock_for_transaction(conn, f"{table.name}:{subject}")
    subject_column = table.c.subject
    await conn.execute(delete(table).where(subject_column.in_(subjects), at <= window_start))
    rows = await conn.execute(
        select(subject_column, func.count())
        .where(subject_column.in_(subjects), at > window_start)
        .group_by(subject_column)
    )
    if any(count >= limits[subject] for subject, count in rows):
        return False
    await conn.execute(insert(table), [{subject_column.key: subject, at.key: now} for subject in subjects])
    return True
