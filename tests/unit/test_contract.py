"""The exported schema keeps the public API contract.

Breaks of the kind "this is not built yet" (a type, field or enum value missing) are listed
in tests/contract_pending.txt while later work lands; that list may only shrink. Any other
break (a renamed, retyped or stricter thing) fails now.

The contract is kept in the repository (schema/contract.graphql) so that a plain clone can run
the tests; where the steering copy (../shared/api/contract.graphql) is beside the checkout,
the two must be the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import BreakingChangeType, build_schema, find_breaking_changes

from app.settings import Settings
from resolvers.schema import build_schema as build_helpdesk_schema

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "schema" / "contract.graphql"
SHARED_CONTRACT = ROOT.parent / "shared" / "api" / "contract.graphql"
PENDING = ROOT / "tests" / "contract_pending.txt"
NOT_YET_BUILT = {
    BreakingChangeType.TYPE_REMOVED,
    BreakingChangeType.FIELD_REMOVED,
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
}


def _breaks() -> dict[str, BreakingChangeType]:
    contract = build_schema(CONTRACT.read_text())
    exported = build_schema(build_helpdesk_schema(Settings(database_url="postgresql://unused")).as_str())
    return {f"{c.type.name}: {c.description}": c.type for c in find_breaking_changes(contract, exported)}


@pytest.fixture(scope="module")
def breaks() -> dict[str, BreakingChangeType]:
    if not CONTRACT.exists():
        pytest.fail(f"the contract is missing at {CONTRACT}")
    return _breaks()


def test_the_copy_of_the_contract_is_the_shared_one() -> None:
    if not SHARED_CONTRACT.exists():
        pytest.skip("no ../shared beside this checkout: the repository's copy is the contract")
    assert CONTRACT.read_text() == SHARED_CONTRACT.read_text(), "copy ../shared/api/contract.graphql to schema/"


def test_no_break_other_than_not_yet_built(breaks: dict[str, BreakingChangeType]) -> None:
    wrong = sorted(text for text, kind in breaks.items() if kind not in NOT_YET_BUILT)
    assert wrong == [], "the exported schema breaks the contract"


def test_every_missing_piece_is_listed_as_pending(breaks: dict[str, BreakingChangeType]) -> None:
    pending = {line.strip() for line in PENDING.read_text().splitlines() if line.strip()}
    unlisted = sorted(set(breaks) - pending)
    assert unlisted == [], "missing from the schema and not listed in tests/contract_pending.txt"


def test_pending_list_only_shrinks(breaks: dict[str, BreakingChangeType]) -> None:
    """Entries that are built now must leave the list."""
    pending = {line.strip() for line in PENDING.read_text().splitlines() if line.strip()}
    done = sorted(pending - set(breaks))
    assert done == [], "built now: remove these lines from tests/contract_pending.txt"
