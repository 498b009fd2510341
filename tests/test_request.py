"""The GraphQL endpoint's request (api/request.py) answers as Starlette's own does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from api.request import GraphQLRequest

NAMES = ["content-type", "cookie", "origin", "Authorization", "x-request-id", "accept", "X-A"]
header_names = st.sampled_from(NAMES).map(str.lower)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=12)


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}


@given(st.lists(st.tuples(header_names, header_values), max_size=8), st.sampled_from(NAMES))
def test_headers_answer_as_starlettes(pairs: list[tuple[str, str]], asked: str) -> None:
    raw = [(name.encode(), value.encode("latin-1")) for name, value in pairs]
    ours = GraphQLRequest(_scope(list(raw))).headers
    theirs = Headers(raw=list(raw))
    # A repeated header answers with its first value; names in any case.
    assert ours.get(asked) == theirs.get(asked)
    assert ours.get(asked, "none") == theirs.get(asked, "none")
    assert (asked in ours) == (asked in theirs)
    if asked in theirs:
        assert ours[asked] == theirs[asked]
    else:
        with pytest.raises(KeyError):
            ours[asked]
    assert ours.getlist(asked) == theirs.getlist(asked) and ours.items() == theirs.items()


def _receiving(messages: list[dict[str, Any]]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def test_the_body_is_read_once_from_every_chunk() -> None:
    chunks = [
        {"type": "http.request", "body": b'{"query": ', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b'"{ viewer { id } }"}', "more_body": False},
    ]
    request = GraphQLRequest(_scope([]), _receiving(chunks))

    async def read_twice() -> tuple[bytes, bytes]:
        return await request.body(), await request.body()

    first, again = asyncio.run(read_twice())
    assert first == again == b'{"query": "{ viewer { id } }"}'


def test_a_client_gone_mid_body_is_a_disconnect() -> None:
    messages = [
        {"type": "http.request", "body": b'{"query"', "more_body": True},
        {"type": "http.disconnect"},
    ]
    request = GraphQLRequest(_scope([]), _receiving(messages))
    with pytest.raises(ClientDisconnect):
        asyncio.run(request.body())
    assert request._is_disconnected
