"""GraphQL documents and steps for partner apps, installations and the token endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.client import GraphQLClient
from tests.support.world import Person, TeamRef, World

ERRORS = "errors { __typename code field message }"

REGISTER_APP = f"""
mutation Register($input: RegisterAppInput!) {{
  registerApp(input: $input) {{
    app {{ id name homepageUrl requestedScopes clientId createdAt secretRotatedAt }}
    clientSecret
    {ERRORS}
  }}
}}"""

ROTATE_SECRET = f"""
mutation Rotate($input: AppIdInput!) {{
  rotateAppSecret(input: $input) {{ app {{ id clientId secretRotatedAt }} clientSecret {ERRORS} }}
}}"""

DELETE_APP = f"""
mutation Delete($input: AppIdInput!) {{
  deleteApp(input: $input) {{ deletedId {ERRORS} }}
}}"""

MY_APPS = """
query { viewer { apps(first: 10) {
  edges { node { id name homepageUrl requestedScopes clientId createdAt } }
} } }"""

INSTALLATION_FIELDS = (
    "id appName clientId scopes installedAt uninstalledAt installedBy { username }"
)

INSTALL_APP = f"""
mutation Install($input: InstallAppInput!) {{
  installApp(input: $input) {{ installation {{ {INSTALLATION_FIELDS} }} {ERRORS} }}
}}"""

UNINSTALL_APP = f"""
mutation Uninstall($input: InstallationIdInput!) {{
  uninstallApp(input: $input) {{ installation {{ {INSTALLATION_FIELDS} }} {ERRORS} }}
}}"""

UPDATE_SCOPES = f"""
mutation Rescope($input: UpdateInstallationScopesInput!) {{
  updateInstallationScopes(input: $input) {{ installation {{ id scopes }} {ERRORS} }}
}}"""

TEAM_INSTALLATIONS = f"""
query($slug: String!) {{ team(slug: $slug) {{
  installations(first: 10) {{ edges {{ node {{ {INSTALLATION_FIELDS} }} }} }}
}} }}"""

TEAM_MEMBERS = """
query($slug: String!) { team(slug: $slug) {
  slug members(first: 10) { edges { node { role user { username } } } }
} }"""


@dataclass
class Credentials:
    app_id: str
    client_id: str
    secret: str


async def register_app(
    person: Person,
    *,
    name: str = "Pipeline",
    scopes: list[str] | None = None,
    homepage_url: str | None = "https://pipeline.example.com",
) -> Credentials:
    data = await person(
        REGISTER_APP,
        input={
            "name": name,
            "homepageUrl": homepage_url,
            "requestedScopes": scopes or ["teams:read", "members:manage", "audit:read"],
        },
    )
    payload = data["registerApp"]
    assert payload["errors"] == [], payload["errors"]
    app = payload["app"]
    return Credentials(app["id"], app["clientId"], payload["clientSecret"])


async def install(
    person: Person, team: TeamRef, client_id: str, scopes: list[str] | None = None
) -> dict[str, Any]:
    data = await person(
        INSTALL_APP,
        input={
            "teamId": team.id,
            "clientId": client_id,
            "scopes": ["teams:read"] if scopes is None else scopes,
        },
    )
    return data["installApp"]


async def installed(
    person: Person, team: TeamRef, client_id: str, scopes: list[str] | None = None
) -> str:
    """Install and return the installation's id."""
    payload = await install(person, team, client_id, scopes)
    assert payload["errors"] == [], payload["errors"]
    return payload["installation"]["id"]


class Partner:
    """The partner's server: no browser, no cookies; client credentials and bearer tokens."""

    def __init__(self, world: World, *, address: str = "127.0.0.1") -> None:
        self.client: GraphQLClient = world.client(user_agent="partner-server/2.1")
        if address != "127.0.0.1":
            # Another caller's address (loopback still), for per-address limits.
            self.client.http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=world.app, client=(address, 50001)),
                base_url=str(self.client.http.base_url),
                headers=dict(self.client.http.headers),
            )
        self.http = self.client.http
        # A server-to-server caller sends no Origin.
        self.http.headers.pop("origin", None)

    async def token_request(
        self,
        data: dict[str, str] | None = None,
        *,
        basic: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        if content is not None:
            return await self.http.post("/oauth/token", content=content, headers=headers)
        return await self.http.post(
            "/oauth/token",
            data=data or {},
            auth=httpx.BasicAuth(*basic) if basic else None,
            headers=headers,
        )

    async def token(self, app: Credentials, *, team: str, **params: str) -> str:
        response = await self.token_request(
            {"grant_type": "client_credentials", "team": team, **params},
            basic=(app.client_id, app.secret),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def graphql(self, token: str, query: str, **variables: Any) -> httpx.Response:
        return await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
