"""[P14] Powers over managed accounts are a person's: a session, or that person's own token with
the scope; never an app's token, which acts for nobody. An app whose owner was deactivated gets
no tokens, and loses the ones it had."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from core.db import session_factory
from models import ApiToken, EmailChangeStatus, UserStatus
from tests.apps.flows import Credentials, Partner, installed, register_app
from tests.managed.conftest import (
    APPROVE,
    CHANGE_EMAIL,
    DEACTIVATE,
    REACTIVATE,
    REJECT,
    SET_DISPLAY_NAME,
    SIGN_OUT_EVERYWHERE,
    UPDATE_SETTINGS,
    Acme,
    manage,
    only_error,
    requests_of,
    team_events,
    user_row,
)
from tests.support.world import PASSWORD, World
from tests.tokens.support import create_token

GRANT = {"grant_type": "client_credentials", "team": "globex"}
POWERS = ["managed_accounts:manage", "takeover:manage", "teams:read"]


def errors_of(response: httpx.Response, name: str) -> str | None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return only_error(body["data"][name])


async def app_token(world: World, acme: Acme, app: Credentials) -> tuple[Partner, str]:
    await installed(acme.alice, acme.team, app.client_id, POWERS)
    partner = Partner(world)
    return partner, await partner.token(app, team=acme.team.slug)


async def file(person: Any, email: str) -> str:
    data = await person(CHANGE_EMAIL, input={"email": email, "password": PASSWORD})
    assert data["changeEmail"]["errors"] == []
    return str(data["changeEmail"]["emailChangeRequest"]["id"])


async def test_p14_app_tokens_hold_no_power_over_managed_accounts(world: World, acme: Acme) -> None:
    # Adam's own app, installed with every scope these powers ask for: it must not let him do
    # through it what he may not do himself (approve his own email change), nor anything else.
    await manage(world, acme.team, acme.adam)
    app = await register_app(acme.adam, scopes=POWERS)
    partner, token = await app_token(world, acme, app)
    own_request = await file(acme.adam, "adam@home.example")
    bobs_request = await file(acme.bob, "bob@home.example")

    bob = {"userId": acme.bob.id}
    settings = "updateManagedAccountSettings"
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        (DEACTIVATE, "deactivateUser", bob),
        (REACTIVATE, "reactivateUser", bob),
        (SIGN_OUT_EVERYWHERE, "signOutEverywhere", bob),
        (SET_DISPLAY_NAME, "setManagedUserDisplayName", {**bob, "displayName": "X"}),
        (APPROVE, "approveEmailChange", {"requestId": own_request}),
        (APPROVE, "approveEmailChange", {"requestId": bobs_request}),
        (REJECT, "rejectEmailChange", {"requestId": bobs_request}),
        (UPDATE_SETTINGS, settings, {"teamId": acme.team.id, "takeoverNoticeDays": 0}),
        (UPDATE_SETTINGS, settings, {"teamId": acme.team.id, "managedRetentionDays": 99}),
    ]
    for mutation, name, given in attempts:
        response = await partner.graphql(token, mutation, input=given)
        assert errors_of(response, name) == "FORBIDDEN", (name, given)

    row = await user_row(world, acme.bob)
    assert (row.status, row.display_name) == (UserStatus.ACTIVE, "bob")
    assert (await user_row(world, acme.adam)).email == "adam@acme.example"
    for person in (acme.adam, acme.bob):
        assert [row.status for row in await requests_of(world, person)] == [
            EmailChangeStatus.PENDING
        ]
    assert await team_events(world, acme.team, "managed_user.") == []
    assert await team_events(world, acme.team, "team.managed_settings_changed") == []


async def test_p14_a_persons_own_token_exercises_their_powers(world: World, acme: Acme) -> None:
    token, _ = await create_token(acme.adam, ["managed_accounts:manage"])
    response = await Partner(world).graphql(token, DEACTIVATE, input={"userId": acme.erin.id})
    assert errors_of(response, "deactivateUser") is None
    assert (await user_row(world, acme.erin)).status is UserStatus.DEACTIVATED


async def test_p14_settings_scopes_follow_what_they_govern(world: World, acme: Acme) -> None:
    """The takeover notice times takeovers (takeover:manage); retention governs managed
    accounts (managed_accounts:manage)."""
    partner = Partner(world)
    # The owner's tokens: only an owner may shorten the notice at all.
    managed, _ = await create_token(acme.alice, ["managed_accounts:manage"], name="managed")
    takeover, _ = await create_token(acme.alice, ["takeover:manage"], name="takeover")
    name = "updateManagedAccountSettings"
    team = acme.team.id
    cases = [
        (managed, {"takeoverNoticeDays": 3}, "FORBIDDEN"),
        (managed, {"takeoverNoticeDays": 3, "managedRetentionDays": 20}, "FORBIDDEN"),
        (takeover, {"managedRetentionDays": 20}, "FORBIDDEN"),
        (takeover, {"takeoverNoticeDays": 3}, None),
        (managed, {"managedRetentionDays": 20}, None),
    ]
    for token, given, expected in cases:
        response = await partner.graphql(token, UPDATE_SETTINGS, input={"teamId": team, **given})
        assert errors_of(response, name) == expected, given
    events = await team_events(world, acme.team, "team.managed_settings_changed")
    changes = [{k: v for k, v in e.details.items() if k != "via_token_id"} for e in events]
    assert changes == [
        {"takeover_notice_days": {"from": 7, "to": 3}},
        {"managed_retention_days": {"from": 15, "to": 20}},
    ]


async def test_p14_a_deactivated_owners_apps_get_no_tokens(world: World, acme: Acme) -> None:
    # Bob (managed by Acme) registered an app that Globex installed: deactivating him ends it.
    app = await register_app(acme.bob, scopes=["teams:read"])
    await installed(acme.gina, acme.other, app.client_id, ["teams:read"])
    partner = Partner(world)
    live = await partner.token(app, team=acme.other.slug)
    unknown = await partner.token_request(GRANT, basic=("owc_" + "Z" * 24, app.secret))

    data = await acme.adam(DEACTIVATE, input={"userId": acme.bob.id})
    assert data["deactivateUser"]["errors"] == []

    # The live token was revoked in the same transaction; no new one is issued, and the
    # refusal reads exactly like an unknown client's.
    assert (await partner.graphql(live, "query { viewer { username } }")).status_code == 401
    refused = await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    assert (refused.status_code, refused.json()) == (unknown.status_code, unknown.json())
    async with session_factory(world.engine)() as db:
        rows = (await db.execute(select(ApiToken))).scalars().all()
    assert [(row.revoked_reason, row.revoked_at is not None) for row in rows] == [
        ("owner_deactivated", True)
    ]
    (event,) = await team_events(world, acme.team, "managed_user.deactivated")
    assert event.details["app_tokens_revoked"] == 1

    # Reactivated, the owner's app works again.
    await acme.adam(REACTIVATE, input={"userId": acme.bob.id})
    assert (
        await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    ).status_code == 200
