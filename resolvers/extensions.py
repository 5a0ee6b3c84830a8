"""Schema extensions: fresh loaders per operation, and unexpected errors masked and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import BREAK, DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import MaskErrors, SchemaExtension

from schema import errors
from schema.context import Context

log = logging.getLogger("helpdesk.graphql")


class LoadersPerOperation(SchemaExtension):
    """A websocket connection runs many operations on one context; each gets fresh loaders."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.fresh_loaders()
        yield


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def mask_unexpected(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """An unexpected error as the client sees it (INTERNAL_SERVER_ERROR and the request id), with
    the exception and its traceback logged under that id; any other error as it is."""
    if not is_unexpected(error):
        return error
    log.error(
        "unexpected error in %s (request %s)",
        ".".join(str(p) for p in error.path or []) or "operation",
        request_id,
        exc_info=error.original_error,
        extra={"request_id": request_id},
    )
    return errors.internal(error, request_id)


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected exceptions reach the client as INTERNAL_SERVER_ERROR with a request id;
    the exception and its traceback go to the log under the same id. (An exception raised by
    an extension's hook escapes this extension; HelpdeskSchema masks those the same way.)"""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return mask_unexpected(error, getattr(self.execution_context.context, "request_id", None))


def contains_nul(value: object) -> bool:
    # A walk without recursion: how deep the values nest is the client's choice.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class _NulLiterals(Visitor):
    found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if "\x00" in node.value:
            self.found = True
            return BREAK
        return None


def nul_in_literals(document: DocumentNode | None) -> bool:
    """Whether a string literal of the parsed document holds a NUL, however it was escaped
    (\\u0000, or \\u{0} since the 2021 spec)."""
    if document is None:
        return False
    finder = _NulLiterals()
    visit(document, finder)
    return finder.found


class RejectNulCharacters(SchemaExtension):
    """PostgreSQL text and JSONB cannot hold NUL; no input of ours means one. Refused up front,
    so no resolver ever reaches the database with it."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if nul_in_literals(ctx.graphql_document) or contains_nul(ctx.variables):
            raise errors.invalid_argument("input must not contain NUL characters")
        yield
