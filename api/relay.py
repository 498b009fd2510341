"""Relay conventions: opaque global ids, the Node interface, cursor connections."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import strawberry

from core.errors import InvalidInput
from services.pages import Page

T = TypeVar("T")
V = TypeVar("V")


# URL-safe base64 without the base64 module's layers (pages encode several ids a row).
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _encode(text: str) -> str:
    return binascii.b2a_base64(text.encode(), newline=False).translate(_URL_SAFE).decode()


def to_global_id(type_name: str, key: int) -> strawberry.ID:
    # A plain str: strawberry.ID is a NewType, and calling it cost more than the encoding.
    return cast(strawberry.ID, _encode(f"{type_name}:{key}"))


def from_global_id(value: str) -> tuple[str, int] | None:
    """(type name, key), or None when `value` is not one of our ids."""
    try:
        padded = value + "=" * (-len(value) % 4)
        type_name, _, key = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        number = int(key)
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not type_name or number < 1 or number > 2**63 - 1:
        return None
    return type_name, number


def parse_id(value: str, type_name: str, field: str) -> int:
    """The key of a global id that must name a `type_name`; InvalidInput otherwise."""
    parsed = from_global_id(value)
    if parsed is None or parsed[0] != type_name:
        raise InvalidInput(f"That is not a valid {type_name} id.", field=field)
    return parsed[1]


def to_cursor(key: int) -> str:
    return _encode(f"cursor:{key}")


def from_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    parsed = from_global_id(cursor)
    if parsed is None or parsed[0] != "cursor":
        raise InvalidInput("That cursor is not valid.", field="after")
    return parsed[1]


@strawberry.interface(description="An object with a globally unique id.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection_edges(page: Page[V], convert: Callable[[V], T]) -> tuple[list[Edge[T]], PageInfo]:
    cursors = [to_cursor(key) for key in page.keys]
    edges = [
        Edge(cursor=c, node=convert(item)) for c, item in zip(cursors, page.items, strict=True)
    ]
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
    return edges, info
