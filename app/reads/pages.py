"""A counted page of a plain list (customers, articles): the rows, whether more follow, the total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CountedPage(Generic[T]):
    items: list[T]
    has_next: bool
    total_count: int

    @classmethod
    def of(cls, rows: list[T], first: int, total_count: int) -> CountedPage[T]:
        """From `first + 1` rows read: the extra row, if any, only says that more follow."""
        return cls(rows[:first], len(rows) > first, total_count)
