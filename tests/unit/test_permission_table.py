"""README "Permission table" is the authorisation matrix (tests/api/test_authorization_matrix.py),
row for row and in its order: a row added to one without the other fails here.

`python -m tests.unit.test_permission_table` prints the table as the matrix has it, to paste.
"""

from __future__ import annotations

from pathlib import Path

from tests.api.test_authorization_matrix import MATRIX, Row

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### Permission table"
WORDS = {
    "OK": "yes",
    "HIDDEN": "hidden",
    "FORBIDDEN": "FORBIDDEN",
    "UNAUTHENTICATED": "UNAUTH",
    "NOT_FOUND": "NOT_FOUND error",
}
# The README's columns, after the operation: the matrix's callers, two pairs shown in one column each.
COLUMNS = (
    ("anonymous",),
    ("other_group_agent",),
    ("group_agent",),
    ("supervisor",),
    ("admin",),
    ("partner_token",),
    ("revoked_token", "expired_token"),
    ("customer", "other_customer"),
)
# How a column of two callers reads when they differ.
PAIRS = {
    ("revoked_token", "expired_token"): ("revoked", "expired"),
    ("customer", "other_customer"): ("own", "another's"),
}


def operation(row: Row) -> str:
    name = f"`{row.field}`" + (f" ({row.label})" if row.label else "")
    return name + (" (subscription)" if row.kind == "subscription" else "")


def cell(row: Row, callers: tuple[str, ...]) -> str:
    words = [WORDS[row.outcomes[c]] for c in callers]
    if len(set(words)) == 1:
        return words[0]
    return " / ".join(f"{word} ({PAIRS[callers][i]})" for i, word in enumerate(words))


def matrix_lines() -> list[str]:
    return ["| " + " | ".join([operation(row), *(cell(row, c) for c in COLUMNS)]) + " |" for row in MATRIX]


def readme_lines() -> list[str]:
    """The table's rows of GraphQL operations (the HTTP downloads below them have their own test)."""
    section = README.read_text().split(HEADING, 1)[1].split("\n#", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `") and not line.startswith("| `GET ")]


def test_the_readme_permission_table_is_the_authorisation_matrix() -> None:
    readme, matrix = readme_lines(), matrix_lines()
    missing = [line for line in matrix if line not in readme]
    extra = [line for line in readme if line not in matrix]
    assert not missing and not extra, (
        "README rows missing:\n" + "\n".join(missing) + "\nREADME rows not in the matrix:\n" + "\n".join(extra)
    )
    assert readme == matrix, "the README lists the matrix's rows in another order"


if __name__ == "__main__":
    print("\n".join(matrix_lines()))
