"""The SQL forms of global ids and DateTimes (app/reads/node_json.py) write what the Python side
writes (app.domain.global_ids.encode, the DateTime scalar's isoformat), for generated values."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, DateTime, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.global_ids import encode
from app.reads.node_json import global_id, iso_datetime

TYPE_NAMES = ["Ticket", "Customer", "Agent", "Group", "Comment", "TicketEvent", "SlaPolicy"]


async def test_sql_global_ids_and_datetimes_equal_pythons(engine: AsyncEngine) -> None:
    cases: list[tuple[str, int, datetime]] = []

    @hypothesis_settings(max_examples=200, derandomize=True, database=None)
    @given(
        st.sampled_from(TYPE_NAMES),
        st.integers(min_value=1, max_value=2**63 - 1),
        st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)),
    )
    def collect(type_name: str, pk: int, moment: datetime) -> None:
        cases.append((type_name, pk, moment))

    collect()
    cases.append(("Ticket", 1, datetime(2031, 3, 1, 8, 0, 0, tzinfo=UTC)))  # no fraction: none written
    async with engine.connect() as conn:
        for type_name, pk, moment in cases:
            pk_param = bindparam("pk", pk, type_=BigInteger)
            at_param = bindparam("at", moment, type_=DateTime(timezone=True))
            row = (await conn.execute(select(global_id(type_name, pk_param), iso_datetime(at_param)))).one()
            assert row[0] == encode(type_name, pk)
            assert row[1] == moment.isoformat()
