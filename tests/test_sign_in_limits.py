"""Brute force on sign-in: failures are slowed, then refused with RATE_LIMITED; the limiter's
state lives in the database, so it survives rolled-back requests and is shared by replicas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlmodel import col

from api.app import create_app
from models import Throttle, UserSession
from tests.support.client import ORIGIN, GraphQLClient
from tests.support.world import PASSWORD, World

WRONG = "not my password"

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) {
    viewer { username }
    errors { __typename code field message ... on RateLimitedError { retryAfterSeconds } }
  }
}"""

VIEWER = "{ viewer { username } }"


async def attempt(browser: GraphQLClient, identifier: str, password: str) -> dict[str, Any]:
    data = await browser(SIGN_IN, input={"identifier": identifier, "password": password})
    return data["signIn"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


def rate_limit(payload: dict[str, Any]) -> int:
    """The retryAfterSeconds of a RATE_LIMITED answer (asserting that it is one)."""
    [error] = payload["errors"]
    assert payload["viewer"] is None
    assert (error["__typename"], error["code"]) == ("RateLimitedError", "RATE_LIMITED")
    assert error["retryAfterSeconds"] > 0
    return int(error["retryAfterSeconds"])


async def fail(
    world: World,
    identifier: str,
    times: int,
    browser: GraphQLClient | None = None,
) -> None:
    browser = browser or world.client()
    for _ in range(times):
        assert codes(await attempt(browser, identifier, WRONG)) == ["INVALID_INPUT"]


async def browser_at(world: World, address: str) -> GraphQLClient:
    """A browser connecting from another IP address."""
    browser = world.client()
    await browser.http.aclose()
    browser.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app, client=(address, 50000)),
        base_url=ORIGIN,
        headers={"origin": ORIGIN, "user-agent": "pytest-browser/1.0"},
    )
    return browser


async def throttle_row(world: World, key: str) -> tuple[int, datetime | None] | None:
    async with world.engine.connect() as connection:
        row = (
            await connection.execute(
                select(col(Throttle.failures), col(Throttle.blocked_until)).where(
                    col(Throttle.key) == key
                )
            )
        ).first()
    return (row[0], row[1]) if row else None


async def test_an_account_is_rate_limited_after_the_free_failures(world: World) -> None:
    await world.sign_up("alice")
    browser = world.client()

    await fail(world, "alice", world.settings.signin_free_failures, browser)
    payload = await attempt(browser, "alice", PASSWORD)  # even the right password

    assert rate_limit(payload) == 1
    assert "Too many failed attempts" in payload["errors"][0]["message"]
    assert await browser(VIEWER) == {"viewer": None}


async def test_the_right_password_works_again_once_the_wait_is_over(world: World) -> None:
    await world.sign_up("alice")
    await fail(world, "alice", world.settings.signin_free_failures)
    browser = world.client()
    wait = rate_limit(await attempt(browser, "alice", PASSWORD))

    world.clock.advance(seconds=wait)
    payload = await attempt(browser, "alice", PASSWORD)

    assert payload == {"viewer": {"username": "alice"}, "errors": []}


async def test_each_further_failure_doubles_the_wait(world: World) -> None:
    await world.sign_up("alice")
    await fail(world, "alice", world.settings.signin_free_failures - 1)
    waits = []

    for _ in range(4):
        assert codes(await attempt(world.client(), "alice", WRONG)) == ["INVALID_INPUT"]
        wait = rate_limit(await attempt(world.client(), "alice", WRONG))
        waits.append(wait)
        world.clock.advance(seconds=wait)

    assert waits == [1, 2, 4, 8]


async def test_a_patient_attacker_is_locked_out_at_the_maximum(world: World) -> None:
    await world.sign_up("alice")
    attacker = world.client()
    failures = 0

    while failures < world.settings.signin_max_failures:
        payload = await attempt(attacker, "alice", WRONG)
        if codes(payload) == ["RATE_LIMITED"]:
            world.clock.advance(seconds=rate_limit(payload))  # wait out every delay
        else:
            failures += 1

    lockout = rate_limit(await attempt(attacker, "alice", PASSWORD))
    assert lockout == world.settings.signin_lockout_minutes * 60


async def test_the_count_starts_over_after_a_quiet_window(world: World) -> None:
    await world.sign_up("alice")
    await fail(world, "alice", world.settings.signin_free_failures - 1)

    world.clock.advance(minutes=world.settings.signin_window_minutes, seconds=1)
    await fail(world, "alice", world.settings.signin_free_failures - 1)

    assert codes(await attempt(world.client(), "alice", PASSWORD)) == []


async def test_the_limit_survives_the_rolled_back_requests(world: World) -> None:
    await world.sign_up("alice")

    await fail(world, "alice", world.settings.signin_free_failures)

    failures, blocked_until = await throttle_row(world, "signin:account:alice") or (0, None)
    assert failures == world.settings.signin_free_failures
    assert blocked_until is not None and blocked_until > world.clock.now()
    address = await throttle_row(world, "signin:address:127.0.0.1")
    assert address == (world.settings.signin_free_failures, None)


async def test_a_refused_attempt_counts_nothing_and_opens_no_session(world: World) -> None:
    await world.sign_up("alice")
    await fail(world, "alice", world.settings.signin_free_failures)

    rate_limit(await attempt(world.client(), "alice", PASSWORD))
    rate_limit(await attempt(world.client(), "alice", WRONG))

    row = await throttle_row(world, "signin:account:alice")
    assert row is not None and row[0] == world.settings.signin_free_failures
    async with world.engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(UserSession)) == 1


async def test_replicas_share_the_limit(world: World) -> None:
    await world.sign_up("alice")
    await fail(world, "alice", world.settings.signin_free_failures)
    replica = create_app(
        world.settings,
        engine=world.engine,
        clock=world.clock,
        run_worker=False,
        apply_migrations=False,
    )
    browser = world.client()
    await browser.http.aclose()
    browser.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=replica, client=("127.0.0.1", 50001)),
        base_url=ORIGIN,
        headers={"origin": ORIGIN},
    )

    rate_limit(await attempt(browser, "alice", PASSWORD))


async def test_unknown_accounts_are_limited_alike(world: World) -> None:
    await fail(world, "nobody", world.settings.signin_free_failures)

    assert rate_limit(await attempt(world.client(), "nobody", PASSWORD)) == 1


async def test_p1_the_limit_does_not_tell_which_email_belongs_to_a_username(world: World) -> None:
    await world.sign_up("alice")
    await world.sign_up("bob")
    await fail(world, "alice", world.settings.signin_free_failures)
    rate_limit(await attempt(world.client(), "alice", WRONG))

    # Both guesses get the same answer, whether or not the address is alice's.
    right_guess = await attempt(world.client(), "alice@example.org", WRONG)
    wrong_guess = await attempt(world.client(), "bob@example.org", WRONG)

    assert right_guess == wrong_guess
    assert codes(right_guess) == ["INVALID_INPUT"]


async def test_an_address_is_limited_after_many_failures_on_many_accounts(world: World) -> None:
    await world.sign_up("alice")
    attacker = await browser_at(world, "10.0.0.66")
    per_address = world.settings.signin_free_failures * world.settings.signin_ip_factor

    for n in range(per_address):  # never more than one failure per account
        assert codes(await attempt(attacker, f"victim{n}", WRONG)) == ["INVALID_INPUT"]

    rate_limit(await attempt(attacker, "alice", PASSWORD))
    elsewhere = await browser_at(world, "10.0.0.7")
    assert await attempt(elsewhere, "alice", PASSWORD) == {
        "viewer": {"username": "alice"},
        "errors": [],
    }


async def test_a_successful_sign_in_clears_the_accounts_counter(world: World) -> None:
    await world.sign_up("alice")
    almost = world.settings.signin_free_failures - 1

    await fail(world, "alice", almost)
    await fail(world, "alice@example.org", almost)
    assert codes(await attempt(world.client(), "alice", PASSWORD)) == []
    await fail(world, "alice", almost)
    await fail(world, "alice@example.org", almost)

    assert codes(await attempt(world.client(), "alice", PASSWORD)) == []
    assert codes(await attempt(world.client(), "ALICE@example.org", PASSWORD)) == []
    assert await throttle_row(world, "signin:account:alice") == (0, None)


CHANGE_PASSWORD = """
mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) {
    viewer { username }
    errors { __typename code field ... on RateLimitedError { retryAfterSeconds } }
  }
}"""

CHANGE_EMAIL = """
mutation ChangeEmail($input: ChangeEmailInput!) {
  changeEmail(input: $input) {
    viewer { email }
    errors { __typename code field ... on RateLimitedError { retryAfterSeconds } }
  }
}"""


async def test_a_stolen_session_cannot_guess_the_password(world: World) -> None:
    alice = await world.sign_up("alice")
    change = {"currentPassword": WRONG, "newPassword": "a brand new passphrase"}

    for _ in range(world.settings.signin_free_failures):
        data = await alice(CHANGE_PASSWORD, input=change)
        assert codes(data["changePassword"]) == ["INVALID_INPUT"]
    right = await alice(CHANGE_PASSWORD, input={**change, "currentPassword": PASSWORD})
    by_email = await alice(CHANGE_EMAIL, input={"email": "a@new.example", "password": PASSWORD})

    wait = rate_limit(right["changePassword"])
    rate_limit(by_email["changeEmail"])
    world.clock.advance(seconds=wait)
    again = await alice(CHANGE_PASSWORD, input={**change, "currentPassword": PASSWORD})
    assert again["changePassword"] == {"viewer": {"username": "alice"}, "errors": []}


async def test_concurrent_guesses_cannot_outrun_the_limit(world: World) -> None:
    import asyncio

    await world.sign_up("alice")
    answers = await asyncio.gather(
        *(attempt(world.client(), "alice", f"guess number {n}") for n in range(15))
    )
    outcomes = [codes(answer)[0] for answer in answers]
    # Every attempt is counted before its password is checked, so no more than the free
    # allowance is ever checked, however many arrive at once.
    assert outcomes.count("INVALID_INPUT") <= world.settings.signin_free_failures
    assert outcomes.count("RATE_LIMITED") >= 15 - world.settings.signin_free_failures


async def test_an_attack_does_not_starve_other_requests(world: World) -> None:
    import asyncio

    alice = await world.sign_up("alice")
    attackers = [attempt(world.client(), f"nobody{n}", WRONG) for n in range(40)]
    results = await asyncio.gather(*attackers, alice(VIEWER), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[-1] == {"viewer": {"username": "alice"}}
    assert {codes(r)[0] for r in results[:-1]} <= {"INVALID_INPUT", "RATE_LIMITED"}
