"""Google sign-in end to end: a headless browser goes login → loopback provider → callback →
session cookie → `viewer`, with PKCE, state and nonce on the way."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.support.client import ORIGIN
from tests.support.google import (  # noqa: F401 (fixtures, known by their short names)
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    VIEWER,
    Browser,
    audit_events,
    browser_fixture,
    google_app_fixture,
    new_browser_fixture,
    oidc_provider_fixture,
    provider_fixture,
    signed_up_with_google,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.world import World

SESSIONS = "{ viewer { sessions { current } } }"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_a_new_google_user_confirms_a_birth_date_and_is_signed_in(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.signs_in(
        sub="g-ada",
        email="Ada@Example.com",
        name="Ada Lovelace",
        picture="https://lh3.googleusercontent.com/a/ada",
    )

    landing = await browser.sign_in_with_google()

    assert landing.location == f"{ORIGIN}/sign-in?signup=google&username=ada"
    assert (await browser(VIEWER))["viewer"] is None
    done = await browser(
        'mutation { completeSignup(input: {birthDate: "1990-05-17", country: "GB"}) {'
        " viewer { username } errors { code } } }"
    )
    assert done["completeSignup"] == {"viewer": {"username": "ada"}, "errors": []}
    assert (await browser(VIEWER))["viewer"] == {
        "username": "ada",
        "email": "ada@example.com",
        "emailVerified": True,
        "displayName": "Ada Lovelace",
        "avatarUrl": "https://lh3.googleusercontent.com/a/ada",
    }


async def test_a_returning_google_user_signs_in_with_a_session_cookie(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    laptop = new_browser()

    landing = await laptop.sign_in_with_google()

    assert landing.location == f"{ORIGIN}/"
    assert "orgward_session" in landing.hops[-1].headers["set-cookie"]
    assert (await laptop(VIEWER))["viewer"]["username"] == "ada"
    assert (await laptop(SESSIONS))["viewer"]["sessions"].count({"current": True}) == 1


async def test_sign_up_and_sign_in_are_audited_with_address_and_user_agent(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    await new_browser().sign_in_with_google()

    events = await audit_events(world, "user.signed_up", "user.signed_in", "user.email_verified")

    assert [(event.action, event.details.get("via")) for event in events] == [
        ("user.signed_up", "google"),
        ("user.email_verified", "google"),
        ("user.signed_in", "google"),
        ("user.signed_in", "google"),
    ]
    assert {(event.ip_address, event.user_agent) for event in events} == {
        ("127.0.0.1", "pytest-browser/1.0")
    }


async def test_the_app_sends_an_s256_challenge_and_the_matching_verifier(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    provider.reset()

    await new_browser().sign_in_with_google()

    (asked,) = provider.authorization_requests
    assert asked["code_challenge_method"] == "S256"
    assert asked["scope"].split() == ["openid", "email", "profile"]
    assert asked["state"] and asked["nonce"]
    (exchange,) = provider.token_requests
    assert exchange.answer == "issued"
    assert s256(exchange.form["code_verifier"]) == asked["code_challenge"]


async def test_the_loopback_provider_refuses_a_code_without_its_verifier(
    provider: OidcProvider,
) -> None:
    # What makes the test above meaningful: without the verifier, no token.
    query = urlencode(
        {
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid email",
            "state": "s",
            "nonce": "n",
            "code_challenge": s256("the-verifier-" * 4),
            "code_challenge_method": "S256",
        }
    )
    async with httpx.AsyncClient() as web:
        authorized = await web.get(f"{provider.issuer}/authorize?{query}")
        code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
        answer = await web.post(
            f"{provider.issuer}/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert provider.token_requests[-1].answer == "code_verifier missing"


async def test_the_loopback_provider_refuses_an_authorization_without_pkce(
    provider: OidcProvider,
) -> None:
    query = urlencode(
        {
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
        }
    )
    async with httpx.AsyncClient() as web:
        authorized = await web.get(f"{provider.issuer}/authorize?{query}")

    assert parse_qs(urlsplit(authorized.headers["location"]).query)["error"] == ["invalid_request"]


async def test_signing_in_rotates_the_session_the_browser_came_with(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    bob = await world.sign_up("bob")
    shared = new_browser()
    authorize = await shared.start()
    shared.adopt(bob)  # bob signs in on this browser while the Google flow is under way
    bobs_token = shared.cookies["orgward_session"]

    landing = await shared.visit(authorize)

    assert landing.location == f"{ORIGIN}/"
    assert shared.cookies["orgward_session"] != bobs_token
    assert (await shared(VIEWER))["viewer"]["username"] == "ada"
    assert (await bob(VIEWER))["viewer"] is None  # bob's old session was revoked


async def test_the_flow_cookie_is_scoped_to_the_callback_and_cleared_after_use(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    started = await browser.get(f"{ORIGIN}/auth/google/login")
    flow_cookie = started.headers["set-cookie"]

    landing = await browser.sign_in_with_google()

    assert "orgward_google_flow=" in flow_cookie
    assert "path=/auth/google" in flow_cookie.lower() and "httponly" in flow_cookie.lower()
    assert "samesite=lax" in flow_cookie.lower()
    assert landing.query["signup"] == "google"
    assert "orgward_google_flow" not in {cookie.name for cookie in browser.cookies.jar}
