"""[P5] What the managing team's owners and admins may do to a managed account, and nobody else."""

from __future__ import annotations

from typing import Any

import pytest

from models import Role, UserStatus
from tests.managed.conftest import (
    DEACTIVATE,
    REACTIVATE,
    SET_DISPLAY_NAME,
    SIGN_IN,
    SIGN_OUT_EVERYWHERE,
    UPDATE_SETTINGS,
    VIEWER,
    Acme,
    add_token,
    chain_intact,
    manage,
    notices,
    only_error,
    pk,
    team_events,
    token_row,
    user_row,
)
from tests.support.world import PASSWORD, Person, World

# Every mutation on a managed user, with an input that would succeed for the team's admins.
USER_MUTATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (DEACTIVATE, "deactivateUser", {"reason": "left the company"}),
    (REACTIVATE, "reactivateUser", {}),
    (SIGN_OUT_EVERYWHERE, "signOutEverywhere", {}),
    (SET_DISPLAY_NAME, "setManagedUserDisplayName", {"displayName": "Renamed"}),
]

TEAM_SETTINGS = """
query Settings($slug: String!) {
  team(slug: $slug) { takeoverNoticeDays managedRetentionDays }
}"""


async def sign_in(world: World, identifier: str, password: str = PASSWORD) -> dict[str, Any]:
    return (await world.client()(SIGN_IN, input={"identifier": identifier, "password": password}))[
        "signIn"
    ]


async def test_p5_admin_deactivate_ends_sessions_and_tokens_at_once(
    world: World, acme: Acme
) -> None:
    second_browser = await sign_in(world, "bob")
    assert second_browser["errors"] == []
    token_id = await add_token(world, acme.bob, "owp_" + "a" * 36)
    other_token = await add_token(world, acme.erin, "owp_" + "b" * 36)
    assert (await acme.bob(VIEWER))["viewer"]["username"] == "bob"

    data = await acme.adam(DEACTIVATE, input={"userId": acme.bob.id, "reason": "Left Acme"})
    payload = data["deactivateUser"]
    assert payload["errors"] == []
    assert payload["account"]["status"] == "DEACTIVATED"
    assert payload["account"]["email"] == "bob@acme.example"

    # The live session is dead on its very next request.
    assert (await acme.bob(VIEWER))["viewer"] is None
    token = await token_row(world, token_id)
    assert token.revoked_at is not None and token.revoked_reason == "deactivated"
    assert (await token_row(world, other_token)).revoked_at is None
    assert (await user_row(world, acme.bob)).status is UserStatus.DEACTIVATED

    (event,) = await team_events(world, acme.team, "managed_user.")
    assert event.action == "managed_user.deactivated" and event.reason == "Left Acme"
    assert event.details == {
        "sessions_revoked": 2,
        "tokens_revoked": 1,
        "app_tokens_revoked": 0,
        "email_changes_cancelled": 0,
    }
    assert event.actor_user_id == pk(acme.adam.id) and event.target_id == pk(acme.bob.id)
    assert await chain_intact(world, acme.team)
    (notice,) = await notices(world, acme.bob)
    assert notice.kind == "account.deactivated" and notice.details["reason"] == "Left Acme"
    await world.deliver_mail()
    assert world.mailbox.to("bob@acme.example", "account_deactivated")


async def test_p5_admin_deactivated_user_cannot_sign_in(world: World, acme: Acme) -> None:
    await acme.alice(DEACTIVATE, input={"userId": acme.bob.id})
    # The right password is told the account is inactive; a wrong one hears what anyone does.
    right = await sign_in(world, "bob")
    assert only_error(right) == "FORBIDDEN" and right["viewer"] is None
    wrong = await sign_in(world, "bob@acme.example", "not the password")
    nobody = await sign_in(world, "nobody-at-all", "not the password")
    assert only_error(wrong) == only_error(nobody) == "INVALID_INPUT"
    assert wrong["errors"][0]["message"] == nobody["errors"][0]["message"]


async def test_p5_admin_reactivate_lets_the_user_back_in(world: World, acme: Acme) -> None:
    await acme.alice(DEACTIVATE, input={"userId": acme.bob.id})
    again = await acme.alice(DEACTIVATE, input={"userId": acme.bob.id})
    assert only_error(again["deactivateUser"]) == "CONFLICT"

    data = await acme.adam(REACTIVATE, input={"userId": acme.bob.id})
    assert data["reactivateUser"]["account"]["status"] == "ACTIVE"
    assert (await sign_in(world, "bob"))["errors"] == []
    # The old session stays revoked: reactivation is no way back into it.
    assert (await acme.bob(VIEWER))["viewer"] is None
    twice = await acme.adam(REACTIVATE, input={"userId": acme.bob.id})
    assert only_error(twice["reactivateUser"]) == "CONFLICT"
    kinds = [notice.kind for notice in await notices(world, acme.bob)]
    assert kinds == ["account.deactivated", "account.reactivated"]
    actions = [event.action for event in await team_events(world, acme.team, "managed_user.")]
    assert actions == ["managed_user.deactivated", "managed_user.reactivated"]


async def test_p5_admin_sign_out_everywhere_keeps_tokens(world: World, acme: Acme) -> None:
    other = await world.client()(SIGN_IN, input={"identifier": "bob", "password": PASSWORD})
    assert other["signIn"]["errors"] == []
    token_id = await add_token(world, acme.bob, "owp_" + "c" * 36)

    data = await acme.alice(SIGN_OUT_EVERYWHERE, input={"userId": acme.bob.id})
    assert data["signOutEverywhere"]["account"]["status"] == "ACTIVE"
    assert (await acme.bob(VIEWER))["viewer"] is None
    assert (await token_row(world, token_id)).revoked_at is None
    (event,) = await team_events(world, acme.team, "managed_user.")
    assert event.details == {"sessions_revoked": 2}
    assert [notice.kind for notice in await notices(world, acme.bob)] == [
        "account.signed_out_everywhere"
    ]
    # Not locked out: they sign in again.
    assert (await sign_in(world, "bob"))["errors"] == []


async def test_p5_admin_sets_the_display_name(world: World, acme: Acme) -> None:
    data = await acme.adam(
        SET_DISPLAY_NAME, input={"userId": acme.bob.id, "displayName": "  Bob Builder "}
    )
    assert data["setManagedUserDisplayName"]["account"]["user"]["displayName"] == "Bob Builder"
    assert (await acme.bob(VIEWER))["viewer"]["displayName"] == "Bob Builder"
    (notice,) = await notices(world, acme.bob)
    assert notice.details["to"] == "Bob Builder"
    # updateProfile's rules: empty means the username, at most 100 characters, no controls.
    empty = await acme.adam(SET_DISPLAY_NAME, input={"userId": acme.bob.id, "displayName": ""})
    assert empty["setManagedUserDisplayName"]["account"]["user"]["displayName"] == "bob"
    for bad in ("x" * 101, "bell\x07here"):
        refused = await acme.adam(
            SET_DISPLAY_NAME, input={"userId": acme.bob.id, "displayName": bad}
        )
        assert only_error(refused["setManagedUserDisplayName"]) == "INVALID_INPUT"
        assert refused["setManagedUserDisplayName"]["errors"][0]["field"] == "displayName"
    actions = [event.action for event in await team_events(world, acme.team, "managed_user.")]
    assert actions == ["managed_user.display_name_changed"] * 2


async def attempt(
    person: Person, mutation: str, name: str, target: Person, extra: dict
) -> str | None:
    data = await person(mutation, input={"userId": target.id, **extra})
    return only_error(data[name])


@pytest.mark.parametrize(("mutation", "name", "extra"), USER_MUTATIONS)
async def test_p5_admin_refusals_for_everyone_else(
    world: World, acme: Acme, mutation: str, name: str, extra: dict
) -> None:
    before = await user_row(world, acme.bob)
    billing = await world.sign_up("bill", email="bill@acme.example")
    await world.add_member(acme.team, billing, Role.BILLING)
    # Globex's owner and admin (bob is even a Globex member), Acme's billing contact and plain
    # members, another managed user: not theirs to administer, and they learn nothing of it.
    for outsider in (acme.gina, acme.gabe, billing, acme.mia, acme.dave, acme.erin):
        assert await attempt(outsider, mutation, name, acme.bob, extra) == "NOT_FOUND"
    # The user knows who manages them, and may not do this to themself.
    assert await attempt(acme.bob, mutation, name, acme.bob, extra) == "FORBIDDEN"
    # An unmanaged account is nobody's to administer, even for its own team's owner.
    assert await attempt(acme.alice, mutation, name, acme.dave, extra) == "NOT_FOUND"
    # Anonymous callers must sign in; a malformed id is bad input.
    anonymous = await world.client()(mutation, input={"userId": acme.bob.id, **extra})
    assert only_error(anonymous[name]) == "UNAUTHENTICATED"
    bad = await acme.alice(mutation, input={"userId": acme.team.id, **extra})
    assert only_error(bad[name]) == "INVALID_INPUT"

    after = await user_row(world, acme.bob)
    assert (after.status, after.display_name) == (before.status, before.display_name)
    assert (await acme.bob(VIEWER))["viewer"]["username"] == "bob"
    assert await team_events(world, acme.team, "managed_user.") == []
    assert await notices(world, acme.bob) == []


async def test_p5_admin_owner_accounts_are_for_owners(world: World, acme: Acme) -> None:
    owner2 = await world.sign_up("olga", email="olga@acme.example")
    await world.add_member(acme.team, owner2, Role.OWNER)
    await manage(world, acme.team, owner2)
    for mutation, name, extra in USER_MUTATIONS:
        assert await attempt(acme.adam, mutation, name, owner2, extra) == "FORBIDDEN", name
    # An owner may: the acting owner stays, so the team never loses its last active owner.
    data = await acme.alice(DEACTIVATE, input={"userId": owner2.id})
    assert data["deactivateUser"]["errors"] == []


async def test_p5_admin_nobody_deactivates_themself(world: World, acme: Acme) -> None:
    await manage(world, acme.team, acme.alice)
    await manage(world, acme.team, acme.adam)
    for admin in (acme.alice, acme.adam):
        data = await admin(DEACTIVATE, input={"userId": admin.id})
        assert only_error(data["deactivateUser"]) == "INVALID_INPUT"
        assert (await admin(VIEWER))["viewer"] is not None
    # Other powers over their own managed account are harmless.
    data = await acme.adam(SET_DISPLAY_NAME, input={"userId": acme.adam.id, "displayName": "Ad"})
    assert data["setManagedUserDisplayName"]["errors"] == []


async def test_p5_admin_sets_notice_and_retention(world: World, acme: Acme) -> None:
    shown = (await acme.adam(TEAM_SETTINGS, slug="acme"))["team"]
    assert shown == {"takeoverNoticeDays": 7, "managedRetentionDays": 15}
    hidden = (await acme.mia(TEAM_SETTINGS, slug="acme"))["team"]
    assert hidden == {"takeoverNoticeDays": None, "managedRetentionDays": None}

    # Less notice is an owner's decision, as when announcing [P5]; nothing is half-applied.
    lowered = await acme.adam(
        UPDATE_SETTINGS,
        input={"teamId": acme.team.id, "takeoverNoticeDays": 0, "managedRetentionDays": 3650},
    )
    errors = lowered["updateManagedAccountSettings"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("FORBIDDEN", "takeoverNoticeDays")]
    assert (await acme.adam(TEAM_SETTINGS, slug="acme"))["team"] == shown
    data = await acme.alice(
        UPDATE_SETTINGS,
        input={"teamId": acme.team.id, "takeoverNoticeDays": 0, "managedRetentionDays": 3650},
    )
    payload = data["updateManagedAccountSettings"]
    assert payload["errors"] == []
    assert payload["team"]["takeoverNoticeDays"] == 0
    assert payload["team"]["managedRetentionDays"] == 3650
    partial = await acme.adam(
        UPDATE_SETTINGS, input={"teamId": acme.team.id, "takeoverNoticeDays": 30}
    )
    assert partial["updateManagedAccountSettings"]["team"]["managedRetentionDays"] == 3650

    for field, value in (
        ("takeoverNoticeDays", -1),
        ("takeoverNoticeDays", 31),
        ("managedRetentionDays", 0),
        ("managedRetentionDays", 3651),
    ):
        refused = await acme.alice(UPDATE_SETTINGS, input={"teamId": acme.team.id, field: value})
        errors = refused["updateManagedAccountSettings"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", field)]
    member = await acme.mia(
        UPDATE_SETTINGS, input={"teamId": acme.team.id, "takeoverNoticeDays": 1}
    )
    assert only_error(member["updateManagedAccountSettings"]) == "FORBIDDEN"
    stranger = await acme.gabe(
        UPDATE_SETTINGS, input={"teamId": acme.team.id, "takeoverNoticeDays": 1}
    )
    assert only_error(stranger["updateManagedAccountSettings"]) == "NOT_FOUND"

    assert (await acme.alice(TEAM_SETTINGS, slug="acme"))["team"] == {
        "takeoverNoticeDays": 30,
        "managedRetentionDays": 3650,
    }
    events = await team_events(world, acme.team, "team.managed_settings_changed")
    assert [event.details for event in events] == [
        {
            "takeover_notice_days": {"from": 7, "to": 0},
            "managed_retention_days": {"from": 15, "to": 3650},
        },
        {"takeover_notice_days": {"from": 0, "to": 30}},
    ]
