"""The GraphQL endpoint's request: Starlette's, with headers looked up in a dict and the body
read straight from the ASGI messages.

A GraphQL request asks for six to eight headers (content type, cookie, origin, authorization,
request id, user agent, accept), most of them absent; Starlette's `Headers` scans the header list
for each and raises a KeyError inside `get` for every absent one. Built once, a dict answers
each in one lookup (SPEC 10, issue 7). Everything else is Starlette's own.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request


class _Headers(Headers):
    """Starlette's Headers, with single-value lookups from a dict (a repeated header answers
    with its first value, as Starlette's own lookup does)."""

    __slots__ = ("_first",)

    def __init__(self, scope: dict) -> None:  # type: ignore[type-arg]
        super().__init__(scope=scope)
        self._first = dict(reversed(self._list))

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._first.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __getitem__(self, key: str) -> str:
        value = self._first.get(key.lower().encode("latin-1"))
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._first


class GraphQLRequest(Request):
    @property
    def headers(self) -> Headers:
        headers = self.__dict__.get("_headers")
        if headers is None:
            headers = self._headers = _Headers(self.scope)  # type: ignore[arg-type]
        return headers

    async def body(self) -> bytes:
        body = self.__dict__.get("_body")
        if body is None:
            if self._stream_consumed:
                raise RuntimeError("Stream consumed")
            chunks: list[bytes] = []
            while not self._stream_consumed:
                message = await self._receive()
                kind = message["type"]
                if kind == "http.request":
                    chunks.append(message.get("body", b""))
                    self._stream_consumed = not message.get("more_body", False)
                elif kind == "http.disconnect":
                    self._is_disconnected = True
                    raise ClientDisconnect()
            body = self._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return body
