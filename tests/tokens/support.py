"""Bearer clients and token factories for the token tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from auth import scopes as scope_catalog
from auth import token_format
from auth.secrets import token_hash
from core.db import session_factory
from models import ApiToken, App, Installation, TokenKind, User
from tests.support.client import ORIGIN
from tests.support.world import Person, TeamRef, World

CREATE_TOKEN = """
mutation Create($input: CreatePersonalAccessTokenInput!) {
  createPersonalAccessToken(input: $input) {
    token
    personalAccessToken { id name scopes hint createdAt expiresAt lastUsedAt revokedAt }
    errors { __typename code field message }
  }
}"""

REVOKE_TOKEN = """
mutation Revoke($id: ID!) {
  revokePersonalAccessToken(input: {tokenId: $id}) {
    personalAccessToken { id revokedAt }
    errors { code field message }
  }
}"""


class Bearer:
    """An API client holding one token: no cookies, no Origin header."""

    def __init__(self, world: World, token: str, app: Any = None) -> None:
        self.token = token
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app or world.app, client=("127.0.0.1", 50001)),
            base_url=ORIGIN,
            headers={"authorization": f"Bearer {token}", "user-agent": "integration/1.0"},
        )
        world_clients: list[Any] = getattr(world, "_bearers", [])
        world_clients.append(self)
        world._bearers = world_clients  # type: ignore[attr-defined]

    async def post(self, query: str, **variables: Any) -> httpx.Response:
        return await self.http.post("/graphql", json={"query": query, "variables": variables})

    async def raw(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.post(query, **variables)
        assert response.status_code == 200, response.text
        return response.json()

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.raw(query, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def aclose(self) -> None:
        await self.http.aclose()


async def create_token(
    person: Person, scopes: list[str], *, days: int = 30, name: str = "ci"
) -> tuple[str, str]:
    """A personal access token of `person`: (secret, global id)."""
    data = await person(CREATE_TOKEN, input={"name": name, "scopes": scopes, "expiresInDays": days})
    payload = data["createPersonalAccessToken"]
    assert payload["errors"] == [], payload["errors"]
    return payload["token"], payload["personalAccessToken"]["id"]


async def bearer_for(world: World, person: Person, scopes: list[str]) -> Bearer:
    token, _ = await create_token(person, scopes)
    return Bearer(world, token)


async def install_app(
    world: World, team: TeamRef, scopes: list[str], *, name: str = "Partner"
) -> tuple[Bearer, int]:
    """An app installed in `team` with `scopes` and an access token, inserted directly (the
    client-credentials endpoint has tests of its own): (client, installation id)."""
    now = world.clock.now()
    column = scope_catalog.to_column(scope_catalog.parse(scopes))
    token = token_format.new_token(TokenKind.INSTALLATION)
    async with session_factory(world.engine)() as db:
        owner = await db.scalar(select(User.id).limit(1))
        app = App(
            owner_id=owner,
            name=name,
            requested_scopes=column,
            client_id=f"client-{name}-{team.pk}",
            client_secret_hash="x" * 64,
            created_at=now,
        )
        db.add(app)
        await db.flush()
        installation = Installation(
            app_id=app.id,  # type: ignore[arg-type]
            team_id=team.pk,
            scopes=column,
            installed_at=now,
        )
        db.add(installation)
        await db.flush()
        db.add(
            ApiToken(
                kind=TokenKind.INSTALLATION,
                token_hash=token_hash(world.settings.secret_key, token),
                hint=token[:8],
                installation_id=installation.id,
                team_id=team.pk,
                scopes=column,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        await db.commit()
        return Bearer(world, token), installation.id  # type: ignore[return-value]
