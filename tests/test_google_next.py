"""`next` after Google sign-in: only allow-listed origins, never an open redirect."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.redirects import safe_next
from tests.support.client import ORIGIN
from tests.support.google import (  # noqa: F401 (fixtures, known by their short names)
    DASHBOARD,
    Browser,
    browser_fixture,
    google_app_fixture,
    new_browser_fixture,
    oidc_provider_fixture,
    provider_fixture,
    signed_up_with_google,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.world import World

ALLOWED = frozenset({ORIGIN, DASHBOARD})

HOSTILE = [
    "https://evil.example/",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:\\\\evil.example",
    "https:/\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "javascript:alert(document.cookie)",
    "JavaScript://dashboard.example.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://dashboard.example.com.evil.example/",
    "https://dashboard.example.com@evil.example/",
    "https://evil.example#@dashboard.example.com",
    "https://user:pass@dashboard.example.com/",
    "http://dashboard.example.com/",
    "https://dashboard.example.com:8443/",
    "https://dashboard.example.com:99999/",
    "ftp://dashboard.example.com/",
    "dashboard.example.com/teams",
    "",
]


@pytest.mark.parametrize("next_url", HOSTILE)
async def test_a_next_outside_the_allow_list_is_refused_before_the_provider(
    world: World, browser: Browser, provider: OidcProvider, next_url: str
) -> None:
    landing = await browser.sign_in_with_google(next=next_url)

    assert landing.error == "invalid_next"
    assert provider.authorization_requests == []


async def test_sign_in_lands_on_an_allowed_origin(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")

    landing = await new_browser().sign_in_with_google(next=f"{DASHBOARD}/teams/acme?tab=members")

    assert landing.location == f"{DASHBOARD}/teams/acme?tab=members"


async def test_a_path_lands_on_the_front_end(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")

    landing = await new_browser().sign_in_with_google(next="/teams/acme")

    assert landing.location == f"{ORIGIN}/teams/acme"


async def test_a_new_user_is_sent_on_to_next_after_the_sign_up_page(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.signs_in(sub="g-ada", email="ada@example.com")

    landing = await browser.sign_in_with_google(next=f"{DASHBOARD}/welcome")

    assert landing.query == {"signup": "google", "username": "ada", "next": f"{DASHBOARD}/welcome"}


@pytest.mark.parametrize("next_url", HOSTILE)
def test_safe_next_refuses_hostile_values(next_url: str) -> None:
    assert safe_next(next_url, allowed_origins=ALLOWED, base_url=ORIGIN) is None


@given(st.text(max_size=80))
def test_whatever_safe_next_accepts_is_on_an_allowed_origin(value: str) -> None:
    accepted = safe_next(value, allowed_origins=ALLOWED, base_url=ORIGIN)

    if accepted is not None:
        parts = urlsplit(accepted)
        assert f"{parts.scheme}://{parts.netloc}" in ALLOWED
        assert "\\" not in accepted and not any(ord(ch) < 33 for ch in accepted)
