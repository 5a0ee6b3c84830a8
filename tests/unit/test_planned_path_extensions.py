"""Compiled plans (resolvers/compiled.py) run without Strawberry's extensions, so each extension
must be accounted for on that path. This list fails when an extension is added that nobody has
looked at from the planned path's side."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from resolvers.schema import build_schema

COMPILED_AFTER_AN_ORDINARY_ANSWER = (
    "a document is compiled only after the ordinary executor answered its exact text without "
    "errors, with this extension applied; a plan is found by that exact text"
)
# Extension -> how the planned path keeps what it guarantees (tests/api/test_compiled_documents.py
# and tests/security test each of these through the server).
ACCOUNTED_FOR = {
    "MaxTokensLimiter": COMPILED_AFTER_AN_ORDINARY_ANSWER,
    "ParseDocument": COMPILED_AFTER_AN_ORDINARY_ANSWER,
    "ValidateDocument": COMPILED_AFTER_AN_ORDINARY_ANSWER,
    "QueryCostLimiter": "Plan.within_cost checks the cost again for each request's variables",
    "RejectNulCharacters": "execute_plan gives the request to the ordinary executor on a NUL in its variables",
    "LoadersPerOperation": "the HTTP view gives the context fresh loaders before running a plan",
    "MaskUnexpectedErrors": "a resolver error abandons the plan; the ordinary executor answers and masks it",
}


def _name(extension: Any) -> str:
    made = extension if isinstance(extension, type) else type(extension())
    return made.__name__


def test_every_schema_extension_is_accounted_for_on_the_planned_path() -> None:
    schema = build_schema(Settings())
    try:
        names = [_name(e) for e in schema.extensions]
    finally:
        schema.close()
    assert sorted(names) == sorted(ACCOUNTED_FOR), "account for the new extension in resolvers/compiled.py"
