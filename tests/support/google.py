"""Google sign-in under test: the loopback OpenID provider, an app configured for it, and a
headless browser that walks the redirects (app over ASGI with its cookies, provider over HTTP).

Test modules import the `*_fixture` functions; pytest knows them by their short names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col
from starlette.applications import Starlette

from api.app import create_app
from core.db import session_factory
from models import AuditEvent, Identity, User
from tests.support.client import ORIGIN, GraphQLClient
from tests.support.oidc_provider import OidcProvider
from tests.support.world import Person, World

CLIENT_ID = "orgward-test.apps.googleusercontent.example"
CLIENT_SECRET = "loopback-client-secret"
CALLBACK = f"{ORIGIN}/auth/google/callback"
SIGN_IN_PAGE = f"{ORIGIN}/sign-in"
DASHBOARD = "https://dashboard.example.com"

VIEWER = "{ viewer { username email emailVerified displayName avatarUrl } }"

COMPLETE_SIGNUP = """
mutation CompleteSignup($input: CompleteSignupInput!) {
  completeSignup(input: $input) {
    viewer { username email emailVerified }
    errors { __typename code field message }
  }
}"""


@dataclass
class Landing:
    """Where the flow left the browser: the first redirect out of the app's /auth routes and
    the provider, with every response on the way."""

    location: str
    hops: list[httpx.Response]

    @property
    def query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.location).query).items()}

    @property
    def error(self) -> str | None:
        return self.query.get("error") if self.location.startswith(SIGN_IN_PAGE) else None

    def hop_to(self, prefix: str) -> httpx.Response:
        """The response that redirected to `prefix` (e.g. the provider's /authorize)."""
        for response in self.hops:
            if response.headers.get("location", "").startswith(prefix):
                return response
        raise AssertionError(f"no redirect to {prefix}")


class Browser:
    def __init__(self, app: Starlette, provider: OidcProvider) -> None:
        self.graphql = GraphQLClient(app)
        self.provider = provider
        self.web = httpx.AsyncClient(timeout=10)

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.graphql(query, **variables)

    async def raw(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.graphql.raw(query, **variables)

    def adopt(self, person: Person) -> Browser:
        """Carry `person`'s session cookie over: this browser is signed in as them."""
        self.graphql.http.cookies.update(person.client.http.cookies)
        return self

    @property
    def cookies(self) -> httpx.Cookies:
        return self.graphql.http.cookies

    async def get(self, url: str) -> httpx.Response:
        if url.startswith(self.provider.issuer):
            return await self.web.get(url)
        assert url.startswith(ORIGIN), f"the browser left for {url}"
        return await self.graphql.http.get(url)

    async def visit(self, url: str) -> Landing:
        hops: list[httpx.Response] = []
        while len(hops) < 10:
            response = await self.get(url)
            hops.append(response)
            location = response.headers.get("location")
            assert response.is_redirect and location, (response.status_code, response.text)
            if not self._in_flow(location):
                return Landing(location=location, hops=hops)
            url = location
        raise AssertionError("redirect loop")

    async def sign_in_with_google(self, next: str | None = None) -> Landing:
        return await self.visit(login_url(next=next))

    async def link_google(self, next: str | None = None) -> Landing:
        """The signed-in user links a Google account (`?link=1`)."""
        return await self.visit(login_url(next=next, link=True))

    async def start(self, next: str | None = None, *, link: bool = False) -> str:
        """Start a flow without going to the provider; returns the authorization URL."""
        response = await self.get(login_url(next=next, link=link))
        assert response.status_code == 302
        return response.headers["location"]

    def _in_flow(self, url: str) -> bool:
        return url.startswith((self.provider.issuer, f"{ORIGIN}/auth/google/"))

    async def aclose(self) -> None:
        await self.graphql.aclose()
        await self.web.aclose()


def login_url(*, next: str | None = None, link: bool = False) -> str:
    params = {"next": next} if next is not None else {}
    if link:
        params["link"] = "1"
    return f"{ORIGIN}/auth/google/login" + (f"?{urlencode(params)}" if params else "")


@pytest.fixture(scope="session", name="oidc_provider")
def oidc_provider_fixture() -> Iterator[OidcProvider]:
    provider = OidcProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=CALLBACK)
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(name="provider")
def provider_fixture(oidc_provider: OidcProvider) -> OidcProvider:
    oidc_provider.reset()
    return oidc_provider


@pytest.fixture(name="google_app")
def google_app_fixture(world: World, provider: OidcProvider) -> Starlette:
    settings = world.settings.model_copy(
        update={
            "google_client_id": CLIENT_ID,
            "google_client_secret": CLIENT_SECRET,
            "google_discovery_url": provider.discovery_url,
            "sign_in_redirect_origins": [DASHBOARD],
        }
    )
    return create_app(
        settings, engine=world.engine, clock=world.clock, run_worker=False, apply_migrations=False
    )


@pytest.fixture(name="browser")
async def browser_fixture(google_app: Starlette, provider: OidcProvider) -> AsyncIterator[Browser]:
    opened = Browser(google_app, provider)
    yield opened
    await opened.aclose()


@pytest.fixture(name="new_browser")
async def new_browser_fixture(google_app: Starlette, provider: OidcProvider) -> AsyncIterator[Any]:
    """A factory of more browsers (another device, or a person signed up with a password)."""
    opened: list[Browser] = []

    def make(person: Person | None = None) -> Browser:
        browser = Browser(google_app, provider)
        opened.append(browser)
        return browser.adopt(person) if person else browser

    yield make
    for browser in opened:
        await browser.aclose()


async def identities_of(world: World, username: str) -> list[Identity]:
    async with session_factory(world.engine)() as db:
        rows = await db.execute(
            select(Identity)
            .join(User, User.id == Identity.user_id)  # type: ignore[arg-type]
            .where(col(User.username) == username)
            .order_by(Identity.id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def user_row(world: World, **where: Any) -> User | None:
    async with session_factory(world.engine)() as db:
        statement = select(User)
        for name, value in where.items():
            column: Any = getattr(User, name)
            statement = statement.where(column == value)
        return (await db.execute(statement)).scalar_one_or_none()


async def signed_up_with_google(
    browser: Browser, *, birth_date: str = "1990-05-17", **claims: Any
) -> dict[str, Any]:
    """A Google account signs in for the first time and confirms an adult birth date; returns
    the new viewer. The browser stays signed in."""
    browser.provider.signs_in(**claims)
    landing = await browser.sign_in_with_google()
    assert landing.query.get("signup") == "google", landing.location
    data = await browser(COMPLETE_SIGNUP, input={"birthDate": birth_date})
    assert data["completeSignup"]["errors"] == [], data
    return data["completeSignup"]["viewer"]


async def audit_events(world: World, *actions: str) -> list[AuditEvent]:
    async with session_factory(world.engine)() as db:
        statement = select(AuditEvent).order_by(AuditEvent.id)  # type: ignore[arg-type]
        if actions:
            statement = statement.where(AuditEvent.action.in_(actions))  # type: ignore[attr-defined]
        return list((await db.execute(statement)).scalars())
