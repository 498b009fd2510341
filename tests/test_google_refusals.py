"""Every refusal of a Google sign-in ends on the front end's sign-in page with an error code,
never a 500, and leaves nobody signed in and nothing stored."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.applications import Starlette

from api.app import create_app
from core.settings import Environment
from tests.support.client import ORIGIN, GraphQLClient
from tests.support.google import (  # noqa: F401 (fixtures, known by their short names)
    CLIENT_ID,
    CLIENT_SECRET,
    SIGN_IN_PAGE,
    VIEWER,
    Browser,
    Landing,
    browser_fixture,
    google_app_fixture,
    new_browser_fixture,
    oidc_provider_fixture,
    provider_fixture,
    signed_up_with_google,
    user_row,
)
from tests.support.oidc_provider import REMOVE, OidcProvider
from tests.support.world import World


async def assert_nobody_signed_in(world: World, browser: Browser, landing: Landing) -> None:
    assert landing.location.startswith(f"{SIGN_IN_PAGE}?error=")
    assert all(response.status_code == 302 for response in landing.hops)
    assert "orgward_session" not in {cookie.name for cookie in browser.cookies.jar}
    assert (await browser(VIEWER))["viewer"] is None
    assert await user_row(world, email="ada@example.com") is None


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return parts._replace(query=urlencode(query)).geturl()


async def provider_answer(browser: Browser) -> str:
    """Start a flow and let the provider answer; returns the callback URL, not yet visited."""
    authorize = await browser.start()
    answer = await browser.get(authorize)
    return answer.headers["location"]


# --- the provider's answer ------------------------------------------------------------------


async def test_an_unverified_google_email_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.signs_in(sub="g-ada", email="ada@example.com", email_verified=False)

    landing = await browser.sign_in_with_google()

    assert landing.error == "email_unverified"
    await assert_nobody_signed_in(world, browser, landing)


async def test_an_id_token_without_email_verified_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.signs_in(sub="g-ada", email="ada@example.com", email_verified=None)

    landing = await browser.sign_in_with_google()

    assert landing.error == "email_unverified"
    await assert_nobody_signed_in(world, browser, landing)


async def test_access_denied_at_the_provider_is_an_error_code(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.behaviour.deny = True

    landing = await browser.sign_in_with_google()

    assert landing.error == "access_denied"
    assert provider.token_requests == []
    await assert_nobody_signed_in(world, browser, landing)


# --- state ----------------------------------------------------------------------------------


async def test_a_callback_without_state_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    callback = await provider_answer(browser)

    landing = await browser.visit(with_query(callback, state=None))

    assert landing.error == "invalid_state"
    assert provider.token_requests == []  # the code was never exchanged
    await assert_nobody_signed_in(world, browser, landing)


async def test_a_mismatched_state_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    callback = await provider_answer(browser)

    landing = await browser.visit(with_query(callback, state="forged-state-value"))

    assert landing.error == "invalid_state"
    assert provider.token_requests == []
    await assert_nobody_signed_in(world, browser, landing)


async def test_a_callback_in_a_browser_that_did_not_start_the_flow_is_refused(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    # Login CSRF: an attacker's own code and state, delivered to the victim's browser.
    attacker = new_browser()
    callback = await provider_answer(attacker)

    landing = await browser.visit(callback)

    assert landing.error == "invalid_state"
    assert provider.token_requests == []
    await assert_nobody_signed_in(world, browser, landing)


async def test_replaying_the_callback_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    provider.reset()
    callback = await provider_answer(browser)
    await browser.visit(callback)

    replay = await browser.visit(callback)

    assert replay.error == "invalid_state"
    assert len(provider.token_requests) == 1


async def test_a_replayed_code_is_refused(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    # The code of a finished sign-in, sent back with a fresh state of the same browser: the
    # state check passes, so the provider itself must refuse the second exchange.
    laptop = new_browser()
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    used = await provider_answer(laptop)
    assert (await laptop.visit(used)).location == f"{ORIGIN}/"
    fresh = parse_qs(urlsplit(await laptop.start()).query)["state"][0]

    replayed = await laptop.visit(with_query(used, state=fresh))

    assert replayed.error == "invalid_code"
    assert provider.token_requests[-1].answer == "code already used"
    assert [request.answer for request in provider.token_requests].count("issued") == 2


# --- the ID token ---------------------------------------------------------------------------


async def refused_id_token(world: World, browser: Browser) -> Landing:
    landing = await browser.sign_in_with_google()
    assert [request.answer for request in browser.provider.token_requests] == ["issued"]
    await assert_nobody_signed_in(world, browser, landing)
    return landing


async def test_an_id_token_for_another_audience_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    # azp still names us: only the audience check itself can catch this token.
    provider.behaviour.id_token_changes = {"aud": ["another-client.example"], "azp": CLIENT_ID}

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


async def test_an_id_token_from_another_issuer_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.behaviour.id_token_changes = {"iss": "https://accounts.evil.example"}

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


async def test_an_expired_id_token_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.behaviour.expired_id_tokens = True

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


async def test_an_id_token_with_another_nonce_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.behaviour.id_token_changes = {"nonce": "a-nonce-from-another-flow"}

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


async def test_an_id_token_without_a_nonce_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.behaviour.id_token_changes = {"nonce": REMOVE}

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


async def test_an_id_token_signed_with_another_key_is_refused(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    provider.behaviour.sign_with_foreign_key = True

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


@pytest.mark.parametrize(
    "subject",
    ["1102484\x0095921", "g-ada\n", "g-\u200bada", "gé-ada", "a" * 256, ""],
    ids=["nul", "newline", "zero-width-space", "non-ascii", "too-long", "empty"],
)
async def test_an_id_token_whose_subject_is_not_printable_ascii_is_refused(
    world: World, browser: Browser, provider: OidcProvider, subject: str
) -> None:
    # A NUL byte reached PostgreSQL as text and came back as a 500.
    provider.behaviour.id_token_changes = {"sub": subject}

    landing = await refused_id_token(world, browser)

    assert landing.error == "invalid_id_token"


# --- the provider itself --------------------------------------------------------------------


async def test_an_unreachable_provider_is_an_error_code(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = world.settings.model_copy(
        update={
            "google_client_id": CLIENT_ID,
            "google_client_secret": CLIENT_SECRET,
            "google_discovery_url": f"http://127.0.0.1:{closed_port}/.well-known/openid-configuration",
        }
    )
    app: Starlette = create_app(
        settings, engine=world.engine, clock=world.clock, run_worker=False, apply_migrations=False
    )
    client = GraphQLClient(app)
    try:
        response = await client.http.get("/auth/google/login")
    finally:
        await client.aclose()

    assert response.status_code == 302
    assert response.headers["location"] == f"{SIGN_IN_PAGE}?error=provider_unavailable"


async def test_google_routes_are_absent_until_configured(world: World) -> None:
    response = await world.client().http.get("/auth/google/login")

    assert response.status_code == 404


def test_production_refuses_google_sign_in_over_plain_http(world: World) -> None:
    settings = world.settings.model_copy(
        update={
            "environment": Environment.PRODUCTION,
            "google_client_id": CLIENT_ID,
            "google_client_secret": CLIENT_SECRET,
            "public_base_url": "http://api.example.com",
        }
    )

    with pytest.raises(ValueError, match="https"):
        settings.check_startable()
