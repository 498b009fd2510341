"""A dashboard-like GraphQL client over the real HTTP app (httpx, ASGI transport)."""

from __future__ import annotations

from typing import Any

import httpx

ORIGIN = "http://127.0.0.1:8000"


class GraphQLClient:
    def __init__(self, app: Any, *, user_agent: str = "pytest-browser/1.0") -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
            base_url=ORIGIN,
            headers={"origin": ORIGIN, "user-agent": user_agent},
        )
        self.username: str | None = None

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, **kwargs
        )

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run an operation that must succeed at the GraphQL level; returns `data`."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def raw(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.post(query, variables)
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()
