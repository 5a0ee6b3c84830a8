"""Shared pieces: the Node interface, PageInfo, UserError, scalars and page-size rules."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from app.domain.errors import DomainError, ValidationErrors
from schema.enums import ErrorCode

__all__ = ["JSON", "Node", "PageInfo", "Upload", "UserError", "page_size", "user_errors"]


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


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, ValidationErrors) else [error]
    return [UserError(field=e.field, message=e.message, code=e.code) for e in errors]


def page_size(first: int | None, limit: int = 100, *, argument: str = "first") -> int:
    """`first` above the limit is refused with a GraphQL error naming the limit."""
    if first is None:
        return 20
    if first < 0:
        raise GraphQLError(f"`{argument}` must not be negative", extensions={"code": "BAD_USER_INPUT"})
    if first > limit:
        raise GraphQLError(
            f"`{argument}` must be at most {limit}", extensions={"code": "BAD_USER_INPUT", "limit": limit}
        )
    return first
