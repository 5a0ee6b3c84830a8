"""Expected failures, typed: each carries an ErrorCode and the input path at fault.

The GraphQL layer maps every DomainError to a `userErrors` entry in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.enums import ErrorCode


class DomainError(Exception):
    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, field: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field)


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION


class VersionConflict(DomainError):
    code = ErrorCode.VERSION_CONFLICT


class Duplicate(DomainError):
    code = ErrorCode.DUPLICATE


class PreconditionFailed(DomainError):
    code = ErrorCode.PRECONDITION_FAILED


class ValidationErrors(DomainError):
    """Several input problems reported together, so a form can show them all at once."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)
