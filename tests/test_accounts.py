"""Accounts: sign-up, minimum age [P4], email privacy [P1], email verification, profile."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.clock import FrozenClock
from models import AuditEvent, EmailVerification, OutboxMessage, User, UserSession
from tests.support.world import PASSWORD, World

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    viewer { id username email emailVerified displayName country birthDate }
    errors { __typename code field message }
  }
}"""

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) { viewer { username } errors { __typename code field message } }
}"""

VIEWER = "{ viewer { username email emailVerified emailPublic } }"

USER_BY_USERNAME = """
query User($username: String!) { user(username: $username) { id username email emailVerified } }
"""

NODE = """
query Node($id: ID!) { node(id: $id) { id ... on User { username email emailVerified } } }
"""

VERIFY_EMAIL = """
mutation Verify($token: String!) {
  verifyEmail(input: {token: $token}) { ok errors { __typename code field message } }
}"""

RESEND_VERIFICATION = """
mutation { resendVerificationEmail { ok errors { __typename code field message } } }
"""

CHANGE_EMAIL = """
mutation ChangeEmail($input: ChangeEmailInput!) {
  changeEmail(input: $input) {
    viewer { email emailVerified }
    errors { __typename code field message }
  }
}"""

UPDATE_PROFILE = """
mutation UpdateProfile($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    viewer {
      displayName avatarUrl company jobTitle country locale timeZone emailPublic
    }
    errors { __typename code field message }
  }
}"""

PROFILE = """
{ viewer { displayName avatarUrl company jobTitle country locale timeZone emailPublic } }
"""

TODAY = FrozenClock().now().date()  # where every test's clock starts


def sign_up_input(username: str = "alice", **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "username": username,
        "email": f"{username.lower()}@example.org",
        "password": PASSWORD,
        "birthDate": "1990-05-17",
    }
    fields.update(overrides)
    return fields


def years_ago(years: int, *, days: int = 0) -> str:
    """The birth date of someone who turns `years` old `days` days from today."""
    return (TODAY.replace(year=TODAY.year - years) + timedelta(days=days)).isoformat()


async def count(world: World, table: Any) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def nothing_stored(world: World) -> bool:
    tables = (User, UserSession, EmailVerification, OutboxMessage, AuditEvent)
    counts = [await count(world, table) for table in tables]
    await world.deliver_mail()
    return counts == [0, 0, 0, 0, 0] and world.mailbox.messages == []


# --- sign-up --------------------------------------------------------------------------------


async def test_sign_up_returns_the_viewer_and_sets_an_httponly_lax_cookie(world: World) -> None:
    browser = world.client()
    response = await browser.post(SIGN_UP, {"input": sign_up_input("alice", country="us")})

    payload = response.json()["data"]["signUp"]
    assert payload["errors"] == []
    assert payload["viewer"]["username"] == "alice"
    assert payload["viewer"]["email"] == "alice@example.org"
    assert payload["viewer"]["emailVerified"] is False
    assert payload["viewer"]["country"] == "US"
    assert payload["viewer"]["birthDate"] == "1990-05-17"
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("orgward_session=")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # development serves plain http; production sets it
    assert (await browser(VIEWER))["viewer"]["username"] == "alice"


async def test_sign_up_mails_a_single_use_verification_link_over_smtp(world: World) -> None:
    browser = world.client()
    await browser(SIGN_UP, input=sign_up_input("alice"))

    assert (await world.deliver_mail())["outbox"] == 1
    [message] = world.mailbox.to("alice@example.org", "verify_email")
    assert message["Subject"] == "Confirm your email address"
    token = world.mailbox.token_in("alice@example.org", "verify_email")
    assert "http://127.0.0.1:8000/verify-email?token=" in message.get_content()

    first = await browser(VERIFY_EMAIL, token=token)
    again = await browser(VERIFY_EMAIL, token=token)

    assert first["verifyEmail"] == {"ok": True, "errors": []}
    assert again["verifyEmail"]["ok"] is False
    assert [(e["code"], e["field"]) for e in again["verifyEmail"]["errors"]] == [
        ("INVALID_INPUT", "token")
    ]
    assert (await browser(VIEWER))["viewer"]["emailVerified"] is True


async def test_usernames_and_emails_are_stored_lowercase(world: World) -> None:
    browser = world.client()
    data = await browser(SIGN_UP, input=sign_up_input("Alice_Smith", email=" Alice@Example.ORG "))

    assert data["signUp"]["viewer"]["username"] == "alice_smith"
    assert data["signUp"]["viewer"]["email"] == "alice@example.org"
    again = await world.client()(SIGN_IN, input={"identifier": "ALICE_SMITH", "password": PASSWORD})
    assert again["signIn"]["viewer"] == {"username": "alice_smith"}


async def test_a_username_differing_only_in_case_is_a_conflict(world: World) -> None:
    await world.sign_up("alice")

    data = await world.client()(SIGN_UP, input=sign_up_input("ALICE", email="other@example.org"))

    assert data["signUp"]["viewer"] is None
    [error] = data["signUp"]["errors"]
    assert (error["__typename"], error["code"], error["field"]) == (
        "MutationError",
        "CONFLICT",
        "username",
    )
    assert await count(world, User) == 1


async def test_a_duplicate_email_is_a_conflict(world: World) -> None:
    await world.sign_up("alice")

    data = await world.client()(SIGN_UP, input=sign_up_input("bob", email="ALICE@example.org"))

    assert [(e["code"], e["field"]) for e in data["signUp"]["errors"]] == [("CONFLICT", "email")]
    assert await count(world, User) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "dots.are.out"}, "username"),
        ({"username": "x" * 40}, "username"),
        ({"username": "y" * 100_000}, "username"),
        ({"username": "Admin"}, "username"),
        ({"username": "ünïcode"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "two@@example.org"}, "email"),
        ({"email": "a" * 300 + "@example.org"}, "email"),
        ({"email": "b" * 100_000}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 257}, "password"),
        ({"password": "aaaaaaaaaaaaaa"}, "password"),
        ({"password": "alice@example.org"}, "password"),
        ({"displayName": "d" * 101}, "displayName"),
        ({"displayName": "bell\x07"}, "displayName"),
        ({"country": "Germany"}, "country"),
        ({"country": "D1"}, "country"),
        ({"birthDate": "2026-01-06"}, "birthDate"),
        ({"birthDate": "1800-01-01"}, "birthDate"),
    ],
)
async def test_invalid_sign_up_input_is_refused_and_nothing_is_written(
    world: World, overrides: dict[str, Any], field: str
) -> None:
    browser = world.client()
    response = await browser.post(SIGN_UP, {"input": {**sign_up_input("alice"), **overrides}})

    payload = response.json()["data"]["signUp"]
    assert payload["viewer"] is None
    assert [(e["__typename"], e["code"], e["field"]) for e in payload["errors"]] == [
        ("MutationError", "INVALID_INPUT", field)
    ]
    assert "set-cookie" not in response.headers
    assert await nothing_stored(world)


async def test_sign_up_input_of_the_wrong_type_is_a_validation_error(world: World) -> None:
    body = await world.client().raw(
        SIGN_UP, input=sign_up_input("alice", birthDate="seventeenth of May")
    )

    assert body["data"] is None
    assert body["errors"]
    assert await count(world, User) == 0


# --- [P4] minimum age -----------------------------------------------------------------------


async def test_p4_under_age_sign_up_is_refused_and_nothing_is_stored(world: World) -> None:
    browser = world.client()
    response = await browser.post(SIGN_UP, {"input": sign_up_input("kid", birthDate=years_ago(12))})

    payload = response.json()["data"]["signUp"]
    assert payload["viewer"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("FORBIDDEN", "birthDate")
    assert "at least 13 years old" in error["message"]
    assert "set-cookie" not in response.headers
    assert await nothing_stored(world)
    assert (await browser(VIEWER))["viewer"] is None


async def test_p4_the_minimum_age_is_set_per_country(world: World) -> None:
    fourteen = years_ago(14)

    in_germany = await world.client()(
        SIGN_UP, input=sign_up_input("hans", birthDate=fourteen, country="de")
    )
    assert [(e["code"], e["field"]) for e in in_germany["signUp"]["errors"]] == [
        ("FORBIDDEN", "birthDate")
    ]
    assert "at least 16 years old" in in_germany["signUp"]["errors"][0]["message"]
    assert await nothing_stored(world)

    in_the_us = await world.client()(
        SIGN_UP, input=sign_up_input("hank", birthDate=fourteen, country="US")
    )
    assert in_the_us["signUp"]["errors"] == []
    assert in_the_us["signUp"]["viewer"]["username"] == "hank"


async def test_p4_turning_thirteen_today_is_old_enough(world: World) -> None:
    data = await world.client()(SIGN_UP, input=sign_up_input("birthday", birthDate=years_ago(13)))

    assert data["signUp"]["errors"] == []
    assert data["signUp"]["viewer"]["username"] == "birthday"


async def test_p4_one_day_short_of_thirteen_is_refused(world: World) -> None:
    data = await world.client()(
        SIGN_UP, input=sign_up_input("tomorrow", birthDate=years_ago(13, days=1))
    )

    assert [(e["code"], e["field"]) for e in data["signUp"]["errors"]] == [
        ("FORBIDDEN", "birthDate")
    ]
    assert await nothing_stored(world)


async def test_p4_sixteen_today_in_germany_is_old_enough(world: World) -> None:
    data = await world.client()(
        SIGN_UP, input=sign_up_input("jana", birthDate=years_ago(16), country="DE")
    )

    assert data["signUp"]["errors"] == []


# --- [P1] email visibility ------------------------------------------------------------------


async def test_p1_email_is_private_by_default(world: World) -> None:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")
    anonymous = world.client()

    by_bob = await bob(USER_BY_USERNAME, username="alice")
    node_by_bob = await bob(NODE, id=alice.id)
    assert by_bob["user"] == {
        "id": alice.id,
        "username": "alice",
        "email": None,
        "emailVerified": False,
    }
    assert node_by_bob["node"] == {
        "id": alice.id,
        "username": "alice",
        "email": None,
        "emailVerified": False,
    }

    # Anonymous clients get no user at all, and never an error.
    assert await anonymous(USER_BY_USERNAME, username="alice") == {"user": None}
    assert await anonymous(NODE, id=alice.id) == {"node": None}


async def test_p1_users_see_their_own_email(world: World) -> None:
    alice = await world.sign_up("alice")

    assert (await alice(USER_BY_USERNAME, username="alice"))["user"]["email"] == alice.email
    assert (await alice(NODE, id=alice.id))["node"]["email"] == alice.email
    viewer = await alice("{ viewer { email user { email } } }")
    assert viewer["viewer"] == {"email": alice.email, "user": {"email": alice.email}}


async def test_p1_a_public_email_is_shown_to_others(world: World) -> None:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")

    made_public = await alice(UPDATE_PROFILE, input={"emailPublic": True})
    assert made_public["updateProfile"]["viewer"]["emailPublic"] is True

    seen = await bob(USER_BY_USERNAME, username="ALICE")
    assert seen["user"]["email"] == "alice@example.org"
    assert seen["user"]["emailVerified"] is True
    assert (await bob(NODE, id=alice.id))["node"]["email"] == "alice@example.org"

    await alice(UPDATE_PROFILE, input={"emailPublic": False})
    assert (await bob(USER_BY_USERNAME, username="alice"))["user"]["email"] is None


async def test_unknown_or_malformed_usernames_are_simply_not_found(world: World) -> None:
    bob = await world.sign_up("bob")

    for username in ("nobody", "no\x00body", "x" * 10_000, ""):
        assert await bob(USER_BY_USERNAME, username=username) == {"user": None}


# --- email verification ---------------------------------------------------------------------


async def test_an_expired_verification_link_is_refused(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.deliver_mail()
    token = world.mailbox.token_in(alice.email, "verify_email")

    world.clock.advance(hours=48, seconds=1)
    data = await alice(VERIFY_EMAIL, token=token)

    assert data["verifyEmail"]["ok"] is False
    assert [(e["code"], e["field"]) for e in data["verifyEmail"]["errors"]] == [
        ("INVALID_INPUT", "token")
    ]
    assert (await alice(VIEWER))["viewer"]["emailVerified"] is False


async def test_a_verification_link_works_until_it_expires(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.deliver_mail()
    token = world.mailbox.token_in(alice.email, "verify_email")

    world.clock.advance(hours=47, minutes=59)
    data = await world.client()(VERIFY_EMAIL, token=token)  # the link may open anywhere

    assert data["verifyEmail"] == {"ok": True, "errors": []}
    assert (await alice(VIEWER))["viewer"]["emailVerified"] is True


@pytest.mark.parametrize("token", ["garbage", "", "x" * 5000, "nul\x00", "ünïcode"])
async def test_an_unknown_verification_token_is_not_found(world: World, token: str) -> None:
    alice = await world.sign_up("alice", verified=False)

    data = await alice(VERIFY_EMAIL, token=token)

    assert [(e["code"], e["field"]) for e in data["verifyEmail"]["errors"]] == [
        ("NOT_FOUND", "token")
    ]
    assert (await alice(VIEWER))["viewer"]["emailVerified"] is False


async def test_a_verification_token_that_is_not_valid_text_is_refused(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    body = json.dumps({"query": VERIFY_EMAIL, "variables": {"token": "x@@"}}).replace(
        "@@", "\\ud800"
    )

    response = await alice.client.http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )

    # Unpaired surrogates cannot be stored anywhere: the HTTP edge refuses the body.
    assert response.status_code == 400
    assert (await alice("{ viewer { emailVerified } }"))["viewer"]["emailVerified"] is False


async def test_resending_the_verification_email_sends_a_new_working_link(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.deliver_mail()
    first = world.mailbox.token_in(alice.email, "verify_email")

    data = await alice(RESEND_VERIFICATION)
    await world.deliver_mail()

    assert data["resendVerificationEmail"] == {"ok": True, "errors": []}
    assert len(world.mailbox.to(alice.email, "verify_email")) == 2
    second = world.mailbox.token_in(alice.email, "verify_email")
    assert second != first
    assert (await alice(VERIFY_EMAIL, token=second))["verifyEmail"]["ok"] is True
    assert (await alice(VIEWER))["viewer"]["emailVerified"] is True


async def test_resending_is_refused_once_verified(world: World) -> None:
    alice = await world.sign_up("alice")

    data = await alice(RESEND_VERIFICATION)

    assert [(e["code"], e["field"]) for e in data["resendVerificationEmail"]["errors"]] == [
        ("INVALID_INPUT", "email")
    ]
    await world.deliver_mail()
    assert len(world.mailbox.to(alice.email, "verify_email")) == 1


async def test_resending_needs_a_signed_in_user(world: World) -> None:
    data = await world.client()(RESEND_VERIFICATION)

    assert [e["code"] for e in data["resendVerificationEmail"]["errors"]] == ["UNAUTHENTICATED"]
    assert await count(world, OutboxMessage) == 0


async def test_changing_email_resets_verification_and_voids_old_links(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.deliver_mail()
    old_token = world.mailbox.token_in("alice@example.org", "verify_email")

    data = await alice(CHANGE_EMAIL, input={"email": "Alice@New.Example", "password": PASSWORD})
    await world.deliver_mail()

    assert data["changeEmail"] == {
        "viewer": {"email": "alice@new.example", "emailVerified": False},
        "errors": [],
    }
    stale = await alice(VERIFY_EMAIL, token=old_token)
    assert [(e["code"], e["field"]) for e in stale["verifyEmail"]["errors"]] == [
        ("INVALID_INPUT", "token")
    ]
    new_token = world.mailbox.token_in("alice@new.example", "verify_email")
    assert (await alice(VERIFY_EMAIL, token=new_token))["verifyEmail"]["ok"] is True
    assert (await alice(VIEWER))["viewer"] == {
        "username": "alice",
        "email": "alice@new.example",
        "emailVerified": True,
        "emailPublic": False,
    }


async def test_changing_a_verified_email_unverifies_it(world: World) -> None:
    alice = await world.sign_up("alice")

    await alice(CHANGE_EMAIL, input={"email": "alice@new.example", "password": PASSWORD})

    assert (await alice(VIEWER))["viewer"]["emailVerified"] is False
    signed_in = await world.client()(
        SIGN_IN, input={"identifier": "alice@new.example", "password": PASSWORD}
    )
    assert signed_in["signIn"]["viewer"] == {"username": "alice"}


@pytest.mark.parametrize(
    ("email", "password", "code", "field"),
    [
        ("alice@new.example", "not the password", "INVALID_INPUT", "password"),
        ("bob@example.org", PASSWORD, "CONFLICT", "email"),
        ("ALICE@example.org", PASSWORD, "INVALID_INPUT", "email"),
        ("no-at-sign", PASSWORD, "INVALID_INPUT", "email"),
    ],
)
async def test_refused_email_changes_change_nothing(
    world: World, email: str, password: str, code: str, field: str
) -> None:
    alice = await world.sign_up("alice")
    await world.sign_up("bob")
    outbox_before = await count(world, OutboxMessage)

    data = await alice(CHANGE_EMAIL, input={"email": email, "password": password})

    assert data["changeEmail"]["viewer"] is None
    assert [(e["code"], e["field"]) for e in data["changeEmail"]["errors"]] == [(code, field)]
    assert (await alice(VIEWER))["viewer"]["email"] == "alice@example.org"
    assert (await alice(VIEWER))["viewer"]["emailVerified"] is True
    assert await count(world, OutboxMessage) == outbox_before


# --- profile --------------------------------------------------------------------------------


async def test_profile_fields_are_set_and_cleared(world: World) -> None:
    alice = await world.sign_up("alice")
    everything = {
        "displayName": "  Alice   Liddell ",
        "avatarUrl": "https://img.example.org/a.png",
        "company": "Acme",
        "jobTitle": "Engineer",
        "country": "gb",
        "locale": "en-GB",
        "timeZone": "Europe/London",
        "emailPublic": True,
    }

    set_all = await alice(UPDATE_PROFILE, input=everything)
    assert set_all["updateProfile"] == {
        "viewer": {
            "displayName": "Alice Liddell",
            "avatarUrl": "https://img.example.org/a.png",
            "company": "Acme",
            "jobTitle": "Engineer",
            "country": "GB",
            "locale": "en-GB",
            "timeZone": "Europe/London",
            "emailPublic": True,
        },
        "errors": [],
    }

    cleared = await alice(
        UPDATE_PROFILE,
        input={
            "displayName": None,
            "avatarUrl": None,
            "company": None,
            "jobTitle": None,
            "country": None,
            "locale": None,
            "timeZone": None,
        },
    )
    assert cleared["updateProfile"]["viewer"] == {
        "displayName": "alice",
        "avatarUrl": None,
        "company": None,
        "jobTitle": None,
        "country": None,
        "locale": None,
        "timeZone": None,
        "emailPublic": True,
    }
    assert (await alice(PROFILE))["viewer"] == cleared["updateProfile"]["viewer"]


async def test_omitted_profile_fields_stay_as_they_are(world: World) -> None:
    alice = await world.sign_up("alice")
    await alice(UPDATE_PROFILE, input={"company": "Acme", "timeZone": "Europe/Berlin"})

    await alice(UPDATE_PROFILE, input={"jobTitle": "CTO"})

    profile = (await alice(PROFILE))["viewer"]
    assert (profile["company"], profile["timeZone"], profile["jobTitle"]) == (
        "Acme",
        "Europe/Berlin",
        "CTO",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "timeZone"),
        ({"locale": "english please"}, "locale"),
        ({"locale": "e" * 100}, "locale"),
        ({"avatarUrl": "http://img.example.org/a.png"}, "avatarUrl"),
        ({"avatarUrl": "javascript:alert(1)"}, "avatarUrl"),
        ({"avatarUrl": "https://img.example.org/nul\x00.png"}, "avatarUrl"),
        ({"avatarUrl": "https://"}, "avatarUrl"),
        ({"avatarUrl": "https://img.example.org/" + "a" * 3000}, "avatarUrl"),
        ({"company": "c" * 101}, "company"),
        ({"jobTitle": "nul\x00byte"}, "jobTitle"),
        ({"displayName": "d" * 101}, "displayName"),
        ({"country": "Germany"}, "country"),
        ({"emailPublic": None}, "emailPublic"),
    ],
)
async def test_invalid_profile_fields_are_refused_with_their_field(
    world: World, fields: dict[str, Any], field: str
) -> None:
    alice = await world.sign_up("alice")
    before = (await alice(PROFILE))["viewer"]

    data = await alice(UPDATE_PROFILE, input=fields)

    assert data["updateProfile"]["viewer"] is None
    assert [(e["code"], e["field"]) for e in data["updateProfile"]["errors"]] == [
        ("INVALID_INPUT", field)
    ]
    assert (await alice(PROFILE))["viewer"] == before


async def test_one_bad_profile_field_writes_nothing(world: World) -> None:
    alice = await world.sign_up("alice")
    audit_before = await count(world, AuditEvent)

    data = await alice(
        UPDATE_PROFILE,
        input={
            "company": "Acme",
            "jobTitle": "CTO",
            "timeZone": "Nowhere/Special",
        },
    )

    assert [(e["code"], e["field"]) for e in data["updateProfile"]["errors"]] == [
        ("INVALID_INPUT", "timeZone")
    ]
    profile = (await alice(PROFILE))["viewer"]
    assert (profile["company"], profile["jobTitle"], profile["timeZone"]) == (None, None, None)
    assert await count(world, AuditEvent) == audit_before


async def test_updating_the_profile_needs_a_signed_in_user(world: World) -> None:
    data = await world.client()(UPDATE_PROFILE, input={"company": "Acme"})

    assert [e["code"] for e in data["updateProfile"]["errors"]] == ["UNAUTHENTICATED"]


# --- races ----------------------------------------------------------------------------------


async def test_two_sign_ups_racing_for_one_username_make_one_account(world: World) -> None:
    first, second = await asyncio.gather(
        world.client()(SIGN_UP, input=sign_up_input("alice", email="one@example.org")),
        world.client()(SIGN_UP, input=sign_up_input("ALICE", email="username@example.org")),
    )

    outcomes = sorted(
        [(e["code"], e["field"]) for e in payload["signUp"]["errors"]]
        for payload in (first, second)
    )
    assert outcomes == [[], [("CONFLICT", "username")]]
    assert await count(world, User) == 1


async def test_two_sign_ups_racing_for_one_email_make_one_account(world: World) -> None:
    first, second = await asyncio.gather(
        world.client()(SIGN_UP, input=sign_up_input("alice", email="username@example.org")),
        world.client()(SIGN_UP, input=sign_up_input("bob", email="USERNAME@example.org")),
    )

    outcomes = sorted(
        [(e["code"], e["field"]) for e in payload["signUp"]["errors"]]
        for payload in (first, second)
    )
    assert outcomes == [[], [("CONFLICT", "email")]]
    assert await count(world, User) == 1
