"""A first Google sign-in makes an account that waits for a birth date [P4], under a username
proposed from the email; only name, email, picture and hd are kept from Google [P3]."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, select, text

import models
from core.db import session_factory
from models import (
    AuditEvent,
    Domain,
    DomainStatus,
    Enrollment,
    Identity,
    Member,
    OutboxMessage,
    SignupTicket,
    User,
    UserStatus,
)
from services.usernames import base_from_email
from tests.support.google import (  # noqa: F401 (fixtures, known by their short names)
    COMPLETE_SIGNUP,
    VIEWER,
    Browser,
    browser_fixture,
    google_app_fixture,
    identities_of,
    new_browser_fixture,
    oidc_provider_fixture,
    provider_fixture,
    signed_up_with_google,
    user_row,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.world import World

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) { viewer { username } errors { code } }
}"""


def years_ago(world: World, years: int) -> str:
    today = world.clock.now().date()
    return date(today.year - years, today.month, today.day).isoformat()


async def rows(world: World, model: type) -> list:  # type: ignore[type-arg]
    async with session_factory(world.engine)() as db:
        return list((await db.execute(select(model))).scalars())


async def pending_sign_up(browser: Browser, **claims: object) -> str:
    browser.provider.signs_in(**claims)  # type: ignore[arg-type]
    landing = await browser.sign_in_with_google()
    assert landing.query["signup"] == "google"
    return landing.query["username"]


# --- [P4] the birth date decides ------------------------------------------------------------


async def test_p4_an_under_age_answer_deletes_the_pending_account_and_keeps_nothing(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-kid", email="kid@example.com", hd="school.example")

    done = await browser(COMPLETE_SIGNUP, input={"birthDate": years_ago(world, 12)})

    assert done["completeSignup"]["viewer"] is None
    assert done["completeSignup"]["errors"] == [
        {
            "__typename": "MutationError",
            "code": "FORBIDDEN",
            "field": "birthDate",
            "message": "You must be at least 13 years old to create an account. Nothing about this "
            "sign-up was kept.",
        }
    ]
    for model in (User, Identity, SignupTicket, AuditEvent, OutboxMessage):
        assert await rows(world, model) == [], model
    assert "orgward_signup" not in {cookie.name for cookie in browser.cookies.jar}


async def test_p4_the_countrys_minimum_age_applies(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-teen", email="teen@example.de")

    done = await browser(
        COMPLETE_SIGNUP, input={"birthDate": years_ago(world, 15), "country": "DE"}
    )

    assert [error["code"] for error in done["completeSignup"]["errors"]] == ["FORBIDDEN"]
    assert await user_row(world, email="teen@example.de") is None


async def test_p4_an_adult_answer_activates_the_account_and_signs_in(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")

    done = await browser(COMPLETE_SIGNUP, input={"birthDate": years_ago(world, 13)})

    assert done["completeSignup"] == {
        "viewer": {"username": "ada", "email": "ada@example.com", "emailVerified": True},
        "errors": [],
    }
    user = await user_row(world, username="ada")
    assert user is not None and user.status is UserStatus.ACTIVE
    assert await rows(world, SignupTicket) == []


async def test_a_pending_account_cannot_sign_in_or_use_the_api(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")
    stranger = world.client()

    tried = await stranger(SIGN_IN, input={"identifier": "ada@example.com", "password": "x" * 12})

    assert tried["signIn"]["errors"] == [{"code": "INVALID_INPUT"}]
    assert (await browser(VIEWER))["viewer"] is None


async def test_completing_without_a_signup_ticket_is_unauthenticated(world: World) -> None:
    done = await world.client()(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"})

    assert [error["code"] for error in done["completeSignup"]["errors"]] == ["UNAUTHENTICATED"]


async def test_an_abandoned_sign_up_expires_and_is_discarded(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")
    world.clock.advance(minutes=31)

    done = await browser(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"})
    await world.deliver_mail()  # runs every sweep once

    assert [error["code"] for error in done["completeSignup"]["errors"]] == ["UNAUTHENTICATED"]
    assert await rows(world, User) == []
    assert await rows(world, Identity) == []


async def test_the_sweep_keeps_a_sign_up_that_is_still_waiting(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")
    world.clock.advance(minutes=29)

    done = await world.deliver_mail()

    assert done["abandoned_signups"] == 0
    assert [user.status for user in await rows(world, User)] == [UserStatus.PENDING]


async def test_signing_in_again_before_finishing_resumes_the_same_account(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")
    phone = new_browser()
    assert await pending_sign_up(phone, sub="g-ada", email="ada@example.com") == "ada"

    stale = await browser(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"})
    fresh = await phone(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"})

    assert [error["code"] for error in stale["completeSignup"]["errors"]] == ["UNAUTHENTICATED"]
    assert fresh["completeSignup"]["viewer"]["username"] == "ada"
    assert len(await rows(world, User)) == 1


async def test_p4_the_same_answer_sent_twice_at_once_completes_once(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")

    answers = await asyncio.gather(
        browser.raw(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"}),
        browser.raw(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"}),
    )

    assert all("errors" not in answer for answer in answers), answers  # no 500
    outcomes = sorted(
        tuple(error["code"] for error in answer["data"]["completeSignup"]["errors"])
        for answer in answers
    )
    assert outcomes == [(), ("UNAUTHENTICATED",)]
    (user,) = await rows(world, User)
    assert user.status is UserStatus.ACTIVE
    assert len(await audit_rows(world, "user.signed_up")) == 1


async def test_p4_an_under_age_and_an_adult_answer_at_once_never_leave_an_active_account(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    """Whichever answer redeems the ticket first decides; the other finds no sign-up to
    complete. So: under age accepted (FORBIDDEN) and no account at all, or the adult answer
    accepted and the under-age one UNAUTHENTICATED, never FORBIDDEN with an active account."""
    await pending_sign_up(browser, sub="g-kid", email="kid@example.com")

    under_age, adult = await asyncio.gather(
        browser.raw(COMPLETE_SIGNUP, input={"birthDate": years_ago(world, 12)}),
        browser.raw(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"}),
    )

    assert "errors" not in under_age and "errors" not in adult, (under_age, adult)  # no 500
    under_age_codes = [e["code"] for e in under_age["data"]["completeSignup"]["errors"]]
    adult_codes = [e["code"] for e in adult["data"]["completeSignup"]["errors"]]
    users = await rows(world, User)
    if under_age_codes == ["FORBIDDEN"]:
        assert adult_codes == ["UNAUTHENTICATED"]
        assert adult["data"]["completeSignup"]["viewer"] is None
        for model in (User, Identity, SignupTicket, AuditEvent, OutboxMessage):
            assert await rows(world, model) == [], model
    else:
        assert (under_age_codes, adult_codes) == (["UNAUTHENTICATED"], [])
        assert [user.status for user in users] == [UserStatus.ACTIVE]


async def test_p4_a_username_conflict_keeps_the_sign_up_open(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await world.sign_up("lovelace")
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")
    taken = await browser(
        COMPLETE_SIGNUP, input={"birthDate": "1990-05-17", "username": "lovelace"}
    )

    done = await browser(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"})

    assert [error["code"] for error in taken["completeSignup"]["errors"]] == ["CONFLICT"]
    assert done["completeSignup"]["viewer"]["username"] == "ada"


async def audit_rows(world: World, action: str) -> list[AuditEvent]:
    return [event for event in await rows(world, AuditEvent) if event.action == action]


# --- usernames ------------------------------------------------------------------------------


async def test_the_proposed_username_is_made_unique(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await world.sign_up("ada", email="ada@elsewhere.example")
    await world.sign_up("ada-2", email="ada2@elsewhere.example")

    proposed = await pending_sign_up(new_browser(), sub="g-ada", email="ada@example.com")

    assert proposed == "ada-3"


async def test_the_username_can_be_chosen_when_completing(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")

    done = await browser(
        COMPLETE_SIGNUP, input={"birthDate": "1990-05-17", "username": "Countess_Ada"}
    )

    assert done["completeSignup"]["viewer"]["username"] == "countess_ada"


async def test_a_chosen_username_that_is_taken_is_a_conflict(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await world.sign_up("lovelace")
    await pending_sign_up(browser, sub="g-ada", email="ada@example.com")

    done = await browser(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17", "username": "lovelace"})

    assert [(error["code"], error["field"]) for error in done["completeSignup"]["errors"]] == [
        ("CONFLICT", "username")
    ]
    user = await user_row(world, email="ada@example.com")
    assert user is not None and user.status is UserStatus.PENDING


@pytest.mark.parametrize(
    ("email", "username"),
    [
        ("ada@example.com", "ada"),
        ("Ada.Lovelace+news@example.com", "ada-lovelace"),
        ("jürgen.müller@example.de", "jurgen-muller"),
        ("jo@example.com", "jo-user"),
        ("admin@example.com", "admin-user"),
        ("李@example.cn", "user"),
        ("__x__@example.com", "x-user"),
        ("a" * 64 + "@example.com", "a" * 39),
    ],
)
def test_a_username_is_proposed_from_the_local_part(email: str, username: str) -> None:
    assert base_from_email(email) == username


# --- [P3] ---------------------------------------------------------------------------------


async def test_p3_only_name_email_picture_and_hd_are_stored_from_google(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    provider.behaviour.id_token_changes = dict(EXTRA_CLAIMS)
    await signed_up_with_google(
        browser,
        sub="g-ada",
        email="ada@acme.example",
        name="Ada Lovelace",
        hd="acme.example",
        picture="https://lh3.googleusercontent.com/a/ada",
    )
    await new_browser().sign_in_with_google()  # a second sign-in refreshes the same claims

    (identity,) = await identities_of(world, "ada")
    columns = {column.name for column in inspect(Identity).columns}
    assert columns == {
        "id",
        "user_id",
        "provider",
        "subject",
        "email",
        "name",
        "picture",
        "hd",
        "created_at",
        "last_used_at",
    }
    assert (
        identity.provider,
        identity.subject,
        identity.email,
        identity.name,
        identity.picture,
        identity.hd,
    ) == (
        "google",
        "g-ada",
        "ada@acme.example",
        "Ada Lovelace",
        "https://lh3.googleusercontent.com/a/ada",
        "acme.example",
    )
    assert not [name for name in {c.name for c in inspect(User).columns} if "token" in name]
    assert len(provider.issued_tokens) == 4  # two sign-ins, an access and an ID token each
    await assert_stored_nowhere(world, provider.issued_tokens)
    await assert_no_cell_contains(world, EXTRA_CLAIM_VALUES)


# Claims a provider may send beyond the [P3] ones, each with a value found nowhere else.
EXTRA_CLAIMS = {
    "given_name": "Augusta-Given-Qx7",
    "family_name": "Byron-Family-Qx7",
    "locale": "en-GB-x-qx7",
    "phone_number": "+44 20 7946 0777",
    "phone_number_verified": True,
    "birthdate": "1815-12-10",
    "address": {"street_address": "12 Qx7 St James's Square", "locality": "Qx7-London"},
}
EXTRA_CLAIM_VALUES = [
    "Augusta-Given",
    "Byron-Family",
    "en-GB-x-qx7",
    "7946 0777",
    "1815-12-10",
    "Qx7 St James",
    "Qx7-London",
]


async def assert_no_cell_contains(world: World, needles: list[str]) -> None:
    async with world.engine.connect() as connection:
        for table in models.metadata.sorted_tables:
            for row in await connection.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    found = [needle for needle in needles if needle in str(value)]
                    assert not found, (table.name, found)


# --- issue 4: domain enrollment -------------------------------------------------------------


async def test_a_google_sign_up_in_an_auto_join_domain_joins_the_team(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    owner = await world.sign_up("olga", email="olga@acme.example")
    team = await world.make_team(owner, name="Acme", slug="acme")
    now = world.clock.now()
    async with session_factory(world.engine)() as db:
        db.add(
            Domain(
                team_id=team.pk,
                name="acme.example",
                unicode_name="acme.example",
                token="orgward-verification-token",
                status=DomainStatus.VERIFIED,
                enrollment=Enrollment.AUTO_JOIN,
                created_at=now,
                verified_at=now,
                verified_until=now + timedelta(days=30),
            )
        )
        await db.commit()

    await signed_up_with_google(browser, sub="g-ada", email="ada@acme.example")

    ada = await user_row(world, username="ada")
    assert ada is not None
    members = [m for m in await rows(world, Member) if m.user_id == ada.id]
    assert [(member.team_id, member.role.value) for member in members] == [(team.pk, "member")]


async def assert_stored_nowhere(world: World, secrets: list[str]) -> None:
    """No cell of any table holds a provider token or a piece of one: the start or end of an
    access token, or of any of the three parts of an ID token (header, claims, signature)."""
    parts = [part for secret in secrets for part in secret.split(".") if len(part) >= 24]
    needles = {piece for part in parts for piece in (part[:24], part[-24:])}
    scanned = 0
    async with world.engine.connect() as connection:
        for table in models.metadata.sorted_tables:
            for row in await connection.execute(text(f'SELECT * FROM "{table.name}"')):
                scanned += 1
                for value in row:
                    assert not any(needle in str(value) for needle in needles), table.name
    assert scanned > 0
