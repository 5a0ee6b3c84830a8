"""Shared pieces: the Node interface, PageInfo, UserError, scalars and page-size rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, get_args

import strawberry
from graphql import ValueNode
from starlette.datastructures import UploadFile
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from app.domain.errors import DomainError, ValidationErrors
from schema import errors
from schema.enums import ErrorCode

__all__ = [
    "JSON",
    "SCALARS",
    "Node",
    "PageInfo",
    "Payload",
    "Upload",
    "UserError",
    "lazy_class",
    "page_size",
    "user_errors",
]


def _file(value: Any) -> UploadFile:
    # Strawberry puts a multipart request's files into the variables; any other value given as an
    # Upload (a string in a JSON body) is not a file and must not reach a resolver.
    if not isinstance(value, UploadFile):
        raise errors.invalid_document("an Upload must be a file part of a multipart request")
    return value


def _no_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    raise errors.invalid_document("an Upload cannot be written in the query: send the file in a multipart request")


# A zone offset moves an instant by less than a day: within a day of the ends of Python's
# calendar an input may lie outside it once in UTC (0001-01-01T00:00+14:00 is in year 0), where
# nothing can compute with it. No helpdesk instant is anywhere near.
_EARLIEST = datetime.min + timedelta(days=1)
_LATEST = datetime.max - timedelta(days=1)


def _datetime(value: Any) -> datetime:
    moment: datetime = DateTimeDefinition.parse_value(value)  # type: ignore[misc]
    if not _EARLIEST <= moment.replace(tzinfo=None) <= _LATEST:
        raise StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{value}". Out of range.')
    return moment


# Strawberry's own Upload scalar passes any value through; ours takes files only. Its DateTime
# takes instants that cannot be converted to UTC; ours refuses them.
SCALARS: dict[object, ScalarDefinition] = {
    datetime: strawberry.scalar(
        name="DateTime",
        description=DateTimeDefinition.description,
        serialize=datetime.isoformat,
        parse_value=_datetime,
    ),
    Upload: strawberry.scalar(
        name="Upload",
        description="Represents a file upload.",
        serialize=lambda v: v,
        parse_value=_file,
        parse_literal=_no_literal,
    ),
}


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], has_next: bool, has_previous: bool) -> PageInfo:
        return cls(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type
class UserError:
    field: list[str]
    message: str
    code: ErrorCode


@strawberry.type
class Payload:
    """What every mutation answers besides its object: why it changed nothing, when it did not."""

    user_errors: list[UserError] = strawberry.field(default_factory=list)


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, ValidationErrors) else [error]
    return [UserError(field=e.field, message=e.message, code=e.code) for e in errors]


def page_size(first: int | None, limit: int = 100, *, argument: str = "first") -> int:
    """`first` above the limit is refused with a GraphQL error naming the limit."""
    if first is None:
        return 20
    if first < 0:
        raise errors.invalid_argument(f"`{argument}` must not be negative")
    if first > limit:
        raise errors.invalid_argument(f"`{argument}` must be at most {limit}", limit=limit)
    return first


def lazy_class(annotation: Any) -> type[Any]:
    """The class a `strawberry.lazy` annotation names, imported on first use. Types import each
    other one way only; a type on the other side builds the objects it returns (a Node must be an
    instance of its class) from the same annotation its field declares."""
    forward_ref, reference = get_args(annotation)
    found: type[Any] = reference.resolve_forward_ref(forward_ref).resolve_type()
    return found
