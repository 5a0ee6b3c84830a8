"""Where a string is still held: every text, JSON, array and search-vector column of every table,
and every stored blob. The generic check behind erasure tests: it needs no list of the tables
that hold personal data, so a table added later is searched too."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_SEARCHED_TYPES = ("text", "character varying", "json", "jsonb", "ARRAY", "tsvector")


async def columns_holding(conn: AsyncConnection, needle: str) -> list[str]:
    """ "table.column" of every column with a value that contains `needle` (case-insensitive)."""
    columns = await conn.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = ANY(:types) "
            "AND table_name <> 'alembic_version' ORDER BY table_name, column_name"
        ),
        {"types": list(_SEARCHED_TYPES)},
    )
    found = []
    for table, column in columns.all():
        hit = await conn.scalar(
            text(f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE strpos(lower("{column}"::text), lower(:n)) > 0)'),
            {"n": needle},
        )
        if hit:
            found.append(f"{table}.{column}")
    return found


def blobs_holding(root: Path, needle: str) -> list[Path]:
    """Stored files (attachments, raw mail) whose bytes contain `needle` as UTF-8."""
    wanted = needle.encode()
    return [p for p in sorted(root.rglob("*")) if p.is_file() and wanted in p.read_bytes()]
