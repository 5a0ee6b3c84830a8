"""Every document in frontend_examples/ parses and validates against the served schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, validate

from app.settings import Settings
from resolvers.schema import build_schema
from tests.support import EXAMPLES

DOCUMENTS = sorted(EXAMPLES.rglob("*.graphql"))


@pytest.fixture(scope="module")
def graphql_schema():  # type: ignore[no-untyped-def]
    return build_schema(Settings(database_url="postgresql://unused"))._schema


def test_there_are_example_documents() -> None:
    assert len(DOCUMENTS) >= 20


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(Path(p).relative_to(EXAMPLES)))
def test_document_validates(path: Path, graphql_schema) -> None:  # type: ignore[no-untyped-def]
    errors = validate(graphql_schema, parse(path.read_text()))
    assert errors == []
