"""Linking Google accounts: by subject only, never by email alone; linking happens from a
signed-in session; identities are listed and unlinked while another way in remains."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlmodel import col

from core.db import session_factory
from models import OutboxMessage
from tests.support.client import ORIGIN
from tests.support.google import (  # noqa: F401 (fixtures, known by their short names)
    COMPLETE_SIGNUP,
    VIEWER,
    Browser,
    audit_events,
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

IDENTITIES = "{ viewer { identities { id provider email name picture hd linkedAt } } }"

UNLINK = """
mutation Unlink($input: UnlinkIdentityInput!) {
  unlinkIdentity(input: $input) { unlinkedId errors { __typename code field message } }
}"""

CHANGE_PASSWORD = """
mutation { changePassword(input: {currentPassword: "", newPassword: "a brand new passphrase"}) {
  errors { code } } }"""


# --- no silent merge ------------------------------------------------------------------------


async def test_a_verified_email_of_an_existing_account_is_not_merged(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob@example.com")

    landing = await browser.sign_in_with_google()

    assert landing.error == "account_exists"
    assert (await browser(VIEWER))["viewer"] is None
    assert await identities_of(world, "bob") == []
    assert (await bob(VIEWER))["viewer"]["username"] == "bob"


async def queued_to(world: World, address: str) -> list[str]:
    """The kinds of the emails ever queued to `address`."""
    async with session_factory(world.engine)() as db:
        rows = await db.execute(
            select(col(OutboxMessage.kind))
            .where(col(OutboxMessage.to_address) == address)
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def test_an_unverified_address_is_taken_off_the_account_that_never_proved_it(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    # Mallory registers the victim's address and never verifies it.
    mallory = await world.sign_up("mallory", email="victim@corp.example", verified=False)
    queued_before = await queued_to(world, "victim@corp.example")
    provider.signs_in(sub="g-victim", email="victim@corp.example")

    landing = await browser.sign_in_with_google()
    queued_meanwhile = await queued_to(world, "victim@corp.example")
    done = await browser(COMPLETE_SIGNUP, input={"birthDate": "1990-05-17"})

    assert landing.query["signup"] == "google"
    assert done["completeSignup"] == {
        "viewer": {"username": "victim", "email": "victim@corp.example", "emailVerified": True},
        "errors": [],
    }
    squatter = await user_row(world, username="mallory")
    assert squatter is not None
    assert (squatter.email, squatter.email_verified_at) == (
        f"released+{squatter.id}@invalid",
        None,
    )
    assert (await mallory(VIEWER))["viewer"]["email"] == f"released+{squatter.id}@invalid"
    assert await identities_of(world, "mallory") == []
    (event,) = await audit_events(world, "user.email_released")
    assert (event.target_type, event.target_id, event.actor_user_id) == ("user", squatter.id, None)
    assert event.details == {"reason": "verified_by_google_sign_up"}
    assert queued_meanwhile == queued_before  # nothing about the release reached the address


async def test_a_google_sign_up_still_waiting_keeps_its_address(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    provider.signs_in(sub="g-ada", email="ada@example.com")
    first = await new_browser().sign_in_with_google()
    provider.signs_in(sub="g-ada-other", email="ada@example.com")

    second = await new_browser().sign_in_with_google()

    assert first.query["signup"] == "google"
    assert second.error == "account_exists"
    assert (await user_row(world, username="ada")).email == "ada@example.com"  # type: ignore[union-attr]


async def test_the_owner_links_google_after_signing_in_with_the_password(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob@example.com")
    assert (await new_browser().sign_in_with_google()).error == "account_exists"

    linked = await new_browser(bob).link_google(next="/settings/sign-in")
    later = new_browser()
    signed_in = await later.sign_in_with_google()

    assert linked.location == f"{ORIGIN}/settings/sign-in"
    assert [identity.subject for identity in await identities_of(world, "bob")] == ["g-bob"]
    assert signed_in.location == f"{ORIGIN}/"
    assert (await later(VIEWER))["viewer"]["username"] == "bob"


async def test_linking_is_audited_with_address_and_user_agent(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob@example.com")

    await new_browser(bob).link_google()

    (event,) = await audit_events(world, "identity.linked")
    (identity,) = await identities_of(world, "bob")
    assert event.details == {"provider": "google", "identity_id": identity.id}
    assert (event.ip_address, event.user_agent) == ("127.0.0.1", "pytest-browser/1.0")


async def test_linking_while_signed_in_links_to_that_user_whatever_the_email(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    alice = await world.sign_up("alice", email="alice@work.example")
    provider.signs_in(sub="g-alice", email="alice.private@gmail.example")

    landing = await new_browser(alice).link_google()

    assert landing.location == f"{ORIGIN}/"
    (identity,) = await identities_of(world, "alice")
    assert identity.email == "alice.private@gmail.example"
    assert (await alice(VIEWER))["viewer"]["email"] == "alice@work.example"


async def test_google_vouching_for_the_accounts_own_address_verifies_it(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com", verified=False)
    provider.signs_in(sub="g-bob", email="bob@example.com")

    await new_browser(bob).link_google()

    assert (await bob(VIEWER))["viewer"]["emailVerified"] is True
    (event,) = await audit_events(world, "user.email_verified")
    assert event.details == {"via": "google"}


async def test_linking_a_google_account_with_another_address_does_not_verify_the_accounts_own(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com", verified=False)
    provider.signs_in(sub="g-bob", email="bob.private@gmail.example")

    await new_browser(bob).link_google()

    assert [identity.email for identity in await identities_of(world, "bob")] == [
        "bob.private@gmail.example"
    ]
    assert (await bob(VIEWER))["viewer"] == {
        "username": "bob",
        "email": "bob@example.com",
        "emailVerified": False,
        "displayName": "bob",
        "avatarUrl": None,
    }
    assert await audit_events(world, "user.email_verified") == []


async def test_every_new_link_is_announced_at_the_accounts_address(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob.private@gmail.example")

    await new_browser(bob).link_google()
    await new_browser(bob).link_google()  # the same account again: no new link, no new email
    await world.deliver_mail()

    (message,) = world.mailbox.to("bob@example.com", "google_linked")
    assert message["Subject"] == "A Google account was linked to your Orgward account"
    assert "bob.private@gmail.example" in message.get_content()
    assert world.mailbox.to("bob.private@gmail.example") == []
    assert len(await audit_events(world, "identity.linked")) == 1


async def test_a_plain_google_login_while_signed_in_never_links(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob@example.com")
    queued_before = await queued_to(world, "bob@example.com")

    landing = await new_browser(bob).sign_in_with_google()

    # A sign-in attempt as that Google account, exactly as from a signed-out browser.
    assert landing.error == "account_exists"
    assert await identities_of(world, "bob") == []
    assert await audit_events(world, "identity.linked") == []
    assert await queued_to(world, "bob@example.com") == queued_before


async def test_a_plain_google_login_while_signed_in_with_a_new_google_account_is_a_sign_up(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-stranger", email="stranger@gmail.example")

    landing = await new_browser(bob).sign_in_with_google()

    assert (landing.query["signup"], landing.query["username"]) == ("google", "stranger")
    assert await identities_of(world, "bob") == []


async def test_a_plain_google_login_while_signed_in_signs_into_the_linked_account(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    dave = await world.sign_up("dave")
    daves_browser = new_browser(dave)

    landing = await daves_browser.sign_in_with_google()

    assert landing.location == f"{ORIGIN}/"
    assert (await daves_browser(VIEWER))["viewer"]["username"] == "ada"
    assert await identities_of(world, "dave") == []


async def test_a_link_flow_asks_google_to_let_the_user_choose_the_account(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")

    linking = parse_qs(urlsplit(await new_browser(bob).start(link=True)).query)
    signing_in = parse_qs(urlsplit(await browser.start()).query)

    assert linking["prompt"] == ["select_account"]
    assert "prompt" not in signing_in


async def test_a_link_flow_needs_a_signed_in_user(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    landing = await browser.link_google()

    assert landing.error == "signed_out"
    assert len(landing.hops) == 1  # never went to the provider
    assert provider.authorization_requests == []


async def test_a_google_account_linked_to_someone_else_cannot_be_linked_again(
    world: World,
    browser: Browser,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    dave = await world.sign_up("dave")

    landing = await new_browser(dave).link_google()

    assert landing.error == "identity_in_use"
    assert await identities_of(world, "dave") == []
    assert len(await identities_of(world, "ada")) == 1


async def test_a_link_needs_the_session_that_started_it(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob@example.com")
    linking = new_browser(bob)
    authorize = await linking.start(link=True)
    await bob("mutation { signOut { ok } }")  # the same session ends meanwhile

    landing = await linking.visit(authorize)

    assert landing.error == "signed_out"
    assert await identities_of(world, "bob") == []


# --- listing and unlinking ------------------------------------------------------------------


async def test_viewer_lists_linked_identities(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(
        browser,
        sub="g-ada",
        email="ada@acme.example",
        name="Ada L",
        picture="https://lh3.googleusercontent.com/a/ada",
        hd="acme.example",
    )

    (identity,) = (await browser(IDENTITIES))["viewer"]["identities"]

    assert {key: value for key, value in identity.items() if key not in ("id", "linkedAt")} == {
        "provider": "google",
        "email": "ada@acme.example",
        "name": "Ada L",
        "picture": "https://lh3.googleusercontent.com/a/ada",
        "hd": "acme.example",
    }
    assert identity["linkedAt"] == world.clock.now().isoformat()


async def test_unlinking_is_allowed_while_a_password_remains(
    world: World,
    new_browser,
    provider: OidcProvider,  # type: ignore[no-untyped-def]
) -> None:
    bob = await world.sign_up("bob", email="bob@example.com")
    provider.signs_in(sub="g-bob", email="bob@example.com")
    await new_browser(bob).link_google()
    (identity,) = (await bob(IDENTITIES))["viewer"]["identities"]

    done = await bob(UNLINK, input={"identityId": identity["id"]})

    assert done["unlinkIdentity"] == {"unlinkedId": identity["id"], "errors": []}
    assert await identities_of(world, "bob") == []
    (event,) = await audit_events(world, "identity.unlinked")
    assert event.details["provider"] == "google"


async def test_the_only_way_to_sign_in_cannot_be_unlinked(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    (identity,) = (await browser(IDENTITIES))["viewer"]["identities"]

    done = await browser(UNLINK, input={"identityId": identity["id"]})

    assert done["unlinkIdentity"]["errors"] == [
        {
            "__typename": "MutationError",
            "code": "INVALID_INPUT",
            "field": "identityId",
            "message": "This is your only way to sign in: set a password or link another account "
            "first.",
        }
    ]
    assert len(await identities_of(world, "ada")) == 1


async def test_a_password_set_later_allows_unlinking(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    (identity,) = (await browser(IDENTITIES))["viewer"]["identities"]
    assert (await browser(CHANGE_PASSWORD))["changePassword"]["errors"] == []

    done = await browser(UNLINK, input={"identityId": identity["id"]})

    assert done["unlinkIdentity"]["errors"] == []


async def test_a_second_google_account_keeps_a_way_in(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    provider.signs_in(sub="g-ada-work", email="ada@acme.example", hd="acme.example")
    await browser.link_google()
    first, second = (await browser(IDENTITIES))["viewer"]["identities"]

    done = await browser(UNLINK, input={"identityId": first["id"]})

    assert done["unlinkIdentity"]["errors"] == []
    assert [identity.subject for identity in await identities_of(world, "ada")] == ["g-ada-work"]
    assert second["hd"] == "acme.example"


async def test_someone_elses_identity_cannot_be_unlinked(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    (identity,) = (await browser(IDENTITIES))["viewer"]["identities"]
    mallory = await world.sign_up("mallory")

    done = await mallory(UNLINK, input={"identityId": identity["id"]})

    assert [error["code"] for error in done["unlinkIdentity"]["errors"]] == ["NOT_FOUND"]
    assert len(await identities_of(world, "ada")) == 1


async def test_two_unlinks_at_once_leave_a_way_in(
    world: World, browser: Browser, provider: OidcProvider
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@example.com")
    provider.signs_in(sub="g-ada-work", email="ada@acme.example")
    await browser.link_google()
    first, second = (await browser(IDENTITIES))["viewer"]["identities"]

    answers = await asyncio.gather(
        browser.raw(UNLINK, input={"identityId": first["id"]}),
        browser.raw(UNLINK, input={"identityId": second["id"]}),
    )

    assert all("errors" not in answer for answer in answers), answers  # no 500
    codes = sorted(
        [error["code"] for error in answer["data"]["unlinkIdentity"]["errors"]]
        for answer in answers
    )
    assert codes == [[], ["INVALID_INPUT"]]
    assert len(await identities_of(world, "ada")) == 1
