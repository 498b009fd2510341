"""Keyset pages: rows after a cursor, ordered by a unique, increasing key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int
    after: int | None  # the key of the last row already seen

    @classmethod
    def of(cls, first: int | None, after: int | None) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if size < 0 or size > MAX_PAGE_SIZE:
            raise InvalidInput(f"first must be between 0 and {MAX_PAGE_SIZE}.", field="first")
        return cls(first=size, after=after)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    keys: list[int]
    has_next: bool
    has_previous: bool

    @classmethod
    def from_rows(cls, rows: list[tuple[int, T]], request: PageRequest) -> Page[T]:
        """`rows` holds up to first + 1 (key, item) pairs; the extra one proves a next page."""
        visible = rows[: request.first]
        return cls(
            items=[item for _, item in visible],
            keys=[key for key, _ in visible],
            has_next=len(rows) > request.first,
            has_previous=request.after is not None,
        )
