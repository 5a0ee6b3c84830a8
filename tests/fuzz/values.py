"""Input values for generated operations: mostly plausible, often hostile.

hypothesis-graphql builds the operations from the schema; these strategies supply the scalar
literals it puts in them (built-in scalars included, so IDs can be real ones). Plausible values
reach the business rules (a real ticket id, a real email, a known tag); hostile ones check the
edges (wrong ID types, huge strings, NUL bytes, boundary integers, malformed dates and JSON).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from app.domain.global_ids import decode, encode

# Words the services recognise somewhere (languages, time zones, clock times, categories).
WORDS = (
    "billing",
    "refund",
    "urgent",
    "vip",
    "en",
    "zh",
    "de",
    "UTC",
    "Europe/Berlin",
    "Asia/Shanghai",
    "Not/AZone",
    "09:00",
    "18:00",
    "24:00",
    "25:61",
    "2026-12-25",
    "2026-02-30",
    "password",
    "退款",
    "我的订单没有到",
    "a",
    "",
    " ",
    "\t\n",
    "\u200b",
    "'; DROP TABLE tickets; --",
    "%",
    "_",
    "\\",
    "${x}",
    "<script>alert(1)</script>",
    "🙂",
    "\ud7ff",
    "-1",
    "0",
    "null",
    "NaN",
)
EMAILS = ("fuzz@example.com", "FUZZ@EXAMPLE.COM", "not-an-email", "a@b", "x" * 300 + "@example.com")
NO_NUL = st.characters(codec="utf-8", min_codepoint=1, exclude_categories=["Cs"])
ANY_CHAR = st.characters(codec="utf-8", min_codepoint=0, exclude_categories=["Cs"])
HUGE = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", "字", " ", "\u0301"]),
    # Past subject (500), description (50,000) and request-size (1 MB) limits.
    st.sampled_from([201, 501, 5_001, 50_001, 400_000]),
)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """Picks a strategy with the given integer weights."""
    table = [s for w, s in choices for _ in range(w)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_INTS = st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, 2**63, 10**30, "1", 1.5, None, True])
_CURSOR_TIMES = st.sampled_from(
    ["2026-12-04T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-12-04", "x"]
)
# Cursors with our tags (tickets, customers, articles, events) around hostile contents: they
# pass the tag check, so what is inside reaches the decoding and, if that lets it by, the SQL.
FORGED_CURSORS = st.one_of(
    st.builds(
        lambda f, d, key: _b64(b"tk1:" + json.dumps([f, d, *key]).encode()),
        st.sampled_from(["CREATED_AT", "UPDATED_AT", "PRIORITY", "SLA_DUE_AT", "NUMBER", "x"]),
        st.sampled_from(["ASC", "DESC"]),
        st.lists(st.one_of(_CURSOR_INTS, _CURSOR_TIMES.map(lambda t: {"t": t})), max_size=3),
    ),
    st.builds(
        lambda name, pk: _b64(b"cu1:" + json.dumps([name, pk]).encode()),
        st.sampled_from(["Carl", "\x00", "é" * 300, 5]),
        _CURSOR_INTS,
    ),
    st.builds(lambda t, pk: _b64(b"ka1:" + json.dumps([t, pk]).encode()), _CURSOR_TIMES, _CURSOR_INTS),
    st.builds(lambda a, b: _b64(f"ev1:{a}:{b}".encode()), _CURSOR_INTS, _CURSOR_INTS),
)

TEXT = weighted(
    (6, st.sampled_from(WORDS)),
    (2, st.sampled_from(EMAILS)),
    (5, st.text(NO_NUL, max_size=30)),
    (1, st.text(ANY_CHAR, min_size=1, max_size=10)),
    (1, HUGE),
    (1, FORGED_CURSORS),
)

INT = weighted(
    (6, st.integers(-2, 25)),
    (2, st.sampled_from([1, 3, 5, 99, 100, 101, 1000, 3600, 86_400, 2**31 - 1, -(2**31)])),
    (1, st.integers(-(2**31), 2**31 - 1)),
)


def _id_garbage() -> st.SearchStrategy[str]:
    names = st.sampled_from(["Ticket", "Agent", "Group", "Customer", "Comment", "Nope", "ticket", "Tické"])
    pks = st.sampled_from([0, -1, 1, 2, 999_999, 2**31, 2**63 - 1, 2**63, 10**30])
    raw = st.builds(lambda n, p: f"{n}:{p}", names, pks)
    return st.one_of(
        st.builds(lambda n, p: encode(n, p) if 0 < p < 2**63 else "", names, pks),
        raw,
        raw.map(lambda s: base64.urlsafe_b64encode(s.encode()).decode()),
        st.binary(max_size=12).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
        st.text(NO_NUL, max_size=12),
        st.sampled_from(["", "=", "====", "VGlja2V0OjE", "VGlja2V0OjE=", "VGlja2V0Oi0x", "VGlja2V0OjFl"]),
    )


def ids(pool: Callable[[], Sequence[str]]) -> st.SearchStrategy[str]:
    """Mostly an ID the server handed out (a ticket's half the time: most arguments are ticket
    IDs), sometimes a malformed or unknown one. `pool` is read when drawing, so IDs created during
    the run come into play."""

    def pick(i: int, tickets_only: bool) -> st.SearchStrategy[str]:
        current = pool()
        if tickets_only:
            current = [g for g in current if (decode(g) or ("",))[0] == "Ticket"] or current
        return st.just(current[i % len(current)]) if current else _id_garbage()

    handed_out = st.builds(pick, st.integers(0, 2**16), st.booleans()).flatmap(lambda s: s)
    return weighted((5, handed_out), (1, _id_garbage()))


def datetimes() -> st.SearchStrategy[str]:
    base = datetime(2026, 12, 4, tzinfo=UTC)
    near = st.integers(-400 * 86_400, 400 * 86_400).map(lambda s: (base + timedelta(seconds=s)).isoformat())
    return weighted(
        (5, near),
        (1, st.datetimes().map(lambda d: d.isoformat())),  # naive, years 1..9999
        (1, st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())),
        (
            1,
            st.sampled_from(
                [
                    "",
                    "now",
                    "1",
                    "2026-13-01T00:00:00Z",
                    "0000-01-01T00:00:00Z",
                    # Valid, but a step from the ends of time: in UTC they are years 0 and 10000.
                    "0001-01-01T00:00:00+14:00",
                    "9999-12-31T23:59:59-14:00",
                    "0001-01-01T00:00:00Z",
                    "9999-12-31T23:59:59.999999Z",
                    "2026-12-04T12:00:00+23:59",
                    "2026-12-04T12:00:00.123456789Z",
                ]
            ),
        ),
        (1, TEXT),
    )


def _json_values() -> st.SearchStrategy[graphql.ValueNode]:
    leaves = st.one_of(
        TEXT.map(nodes.String),
        INT.map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.booleans().map(nodes.Boolean),
        st.just(nodes.Null),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(nodes.List),
            st.dictionaries(
                st.text(st.characters(categories=["Ll", "Lu"]), min_size=1, max_size=8), inner, max_size=4
            ).map(
                lambda d: nodes.Object(
                    [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()]
                )
            ),
        ),
        max_leaves=12,
    )


def scalar_literals(pool: Callable[[], Sequence[str]]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """custom_scalars for hypothesis-graphql: every scalar of the schema, built-ins included."""
    return {
        "String": TEXT.map(nodes.String),
        "Int": INT.map(nodes.Int),
        "ID": weighted((9, ids(pool).map(nodes.String)), (1, INT.map(nodes.Int))),
        "DateTime": datetimes().map(nodes.String),
        "JSON": _json_values(),
        # Files only travel in multipart requests; a literal in a JSON body is never one.
        "Upload": TEXT.map(nodes.String),
    }
