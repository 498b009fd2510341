"""[P5] Administering managed accounts while other things happen at once: the database decides,
under the managing team's lock or the account's own row, and nothing is left half-done.

Each race is staged exactly: the other party's change commits in the middle of a request, at the
point where an unguarded implementation would act on what it read before."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from auth import passwords, sessions
from auth.actor import Origin
from core.db import session_factory
from models import ApiToken, Role, User, UserSession, UserStatus
from services import accounts
from tests.managed.conftest import (
    APPROVE,
    CHANGE_EMAIL,
    DEACTIVATE,
    REACTIVATE,
    SIGN_IN,
    UPDATE_SETTINGS,
    VIEWER,
    Acme,
    add_token,
    manage,
    only_error,
    pk,
    token_row,
    unmanage,
    user_row,
)
from tests.support.world import PASSWORD, Person, World
from tests.tokens.support import CREATE_TOKEN

Step = Callable[[], Awaitable[None]]


def during_request_of(monkeypatch: pytest.MonkeyPatch, username: str, step: Step) -> None:
    """Run `step` once, inside `username`'s next request: after it authenticated the session
    (the account was active then), before the use case runs."""
    original = sessions.authenticate
    pending = [step]

    async def authenticate(*args: Any, **kwargs: Any) -> Any:
        found = await original(*args, **kwargs)
        if found is not None and found[0].username == username and pending:
            await pending.pop()()
        return found

    monkeypatch.setattr(sessions, "authenticate", authenticate)


def after_password_check(monkeypatch: pytest.MonkeyPatch, step: Step) -> None:
    """Run `step` once, right after a sign-in found the password right."""
    original = passwords.verify_password
    pending = [step]

    async def verify_password(*args: Any, **kwargs: Any) -> bool:
        valid = await original(*args, **kwargs)
        if valid and pending:
            await pending.pop()()
        return valid

    monkeypatch.setattr(passwords, "verify_password", verify_password)


def deactivating(admin: Person, target: Person) -> Step:
    async def step() -> None:
        data = await admin(DEACTIVATE, input={"userId": target.id})
        assert data["deactivateUser"]["errors"] == []

    return step


async def live_access(world: World, person: Person) -> tuple[int, int]:
    """The person's live sessions and live access tokens."""
    user_id = pk(person.id)
    async with session_factory(world.engine)() as db:
        live_sessions = await db.execute(
            select(UserSession.id).where(
                UserSession.user_id == user_id,  # type: ignore[arg-type]
                UserSession.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        )
        live_tokens = await db.execute(
            select(ApiToken.id).where(
                ApiToken.user_id == user_id,  # type: ignore[arg-type]
                ApiToken.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        )
        return len(live_sessions.all()), len(live_tokens.all())


async def owners(world: World, acme: Acme) -> tuple[Person, Person]:
    """Alice and Olga, both owners of Acme, both managed by it."""
    olga = await world.sign_up("olga", email="olga@acme.example")
    await world.add_member(acme.team, olga, Role.OWNER)
    await manage(world, acme.team, acme.alice)
    await manage(world, acme.team, olga)
    return acme.alice, olga


async def test_p5_race_owners_deactivating_each_other_leave_one_standing(
    world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, olga = await owners(world, acme)
    # Olga's request is under way (signed in, active) when Alice's deactivation of her commits.
    during_request_of(monkeypatch, "olga", deactivating(alice, olga))

    late = await olga(DEACTIVATE, input={"userId": alice.id})

    assert only_error(late["deactivateUser"]) == "FORBIDDEN"
    assert (await user_row(world, alice)).status is UserStatus.ACTIVE
    assert (await user_row(world, olga)).status is UserStatus.DEACTIVATED


async def test_p5_race_owners_deactivating_each_other_at_once(world: World, acme: Acme) -> None:
    alice, olga = await owners(world, acme)
    answers = await asyncio.gather(
        alice(DEACTIVATE, input={"userId": olga.id}),
        olga(DEACTIVATE, input={"userId": alice.id}),
    )
    outcomes = sorted(only_error(answer["deactivateUser"]) or "ok" for answer in answers)
    assert outcomes[-1] == "ok" and outcomes[0] != "ok", outcomes
    statuses = {(await user_row(world, person)).status for person in (alice, olga)}
    assert statuses == {UserStatus.ACTIVE, UserStatus.DEACTIVATED}


async def test_p5_race_sign_in_during_deactivation_opens_no_session(
    world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The password was right and the account active when read; then the deactivation commits.
    after_password_check(monkeypatch, deactivating(acme.adam, acme.bob))
    browser = world.client()

    data = await browser(SIGN_IN, input={"identifier": "bob", "password": PASSWORD})

    assert only_error(data["signIn"]) == "FORBIDDEN" and data["signIn"]["viewer"] is None
    assert await live_access(world, acme.bob) == (0, 0)
    # Nothing comes back to life with the account.
    await acme.adam(REACTIVATE, input={"userId": acme.bob.id})
    assert (await browser(VIEWER))["viewer"] is None


async def test_p5_race_token_created_during_deactivation_is_refused(
    world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    during_request_of(monkeypatch, "bob", deactivating(acme.adam, acme.bob))
    data = await acme.bob(
        CREATE_TOKEN, input={"name": "ci", "scopes": ["users:read"], "expiresInDays": 30}
    )
    payload = data["createPersonalAccessToken"]
    assert only_error(payload) == "FORBIDDEN" and payload["token"] is None
    assert await live_access(world, acme.bob) == (0, 0)


async def test_p5_reactivation_ends_whatever_a_race_left_live(world: World, acme: Acme) -> None:
    await acme.adam(DEACTIVATE, input={"userId": acme.bob.id})
    # What a sign-in or token creation racing the deactivation could have left behind.
    token_id = await add_token(world, acme.bob, "owp_" + "r" * 36)
    async with session_factory(world.engine)() as db:
        user = await db.get(User, pk(acme.bob.id))
        assert user is not None
        await sessions.start_session(
            db, world.settings, user=user, origin=Origin(), now=world.clock.now()
        )
        await db.commit()
    assert await live_access(world, acme.bob) == (1, 1)

    data = await acme.adam(REACTIVATE, input={"userId": acme.bob.id})

    assert data["reactivateUser"]["errors"] == []
    assert await live_access(world, acme.bob) == (0, 0)
    assert (await token_row(world, token_id)).revoked_reason == "deactivated"


async def test_p5_race_takeover_during_an_email_change_files_a_request(
    world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    await unmanage(world, acme.bob)
    confirm = accounts._confirm_password

    async def then_taken_over(*args: Any, **kwargs: Any) -> None:
        await confirm(*args, **kwargs)
        # The takeover takes effect (committed) while Bob's change is in flight.
        await manage(world, acme.team, acme.bob)

    monkeypatch.setattr(accounts, "_confirm_password", then_taken_over)
    data = await acme.bob(CHANGE_EMAIL, input={"email": "bob@home.example", "password": PASSWORD})

    payload = data["changeEmail"]
    assert payload["errors"] == []
    assert payload["emailChangeRequest"]["status"] == "PENDING"
    assert payload["viewer"] == {"email": "bob@acme.example", "emailVerified": True}
    row = await user_row(world, acme.bob)
    assert (row.email, row.managed_by_team_id) == ("bob@acme.example", acme.team.pk)


async def test_p5_plain_members_never_queue_for_the_teams_lock(world: World, acme: Acme) -> None:
    data = await acme.bob(CHANGE_EMAIL, input={"email": "bob@home.example", "password": PASSWORD})
    request = data["changeEmail"]["emailChangeRequest"]["id"]
    settings = {"teamId": acme.team.id, "takeoverNoticeDays": 1}
    attempts = [
        (DEACTIVATE, "deactivateUser", {"userId": acme.bob.id}, "NOT_FOUND"),
        (APPROVE, "approveEmailChange", {"requestId": request}, "NOT_FOUND"),
        (UPDATE_SETTINGS, "updateManagedAccountSettings", settings, "FORBIDDEN"),
    ]
    with world.count_statements() as counter:
        for mutation, name, given, code in attempts:
            refused = await acme.mia(mutation, input=given)
            assert only_error(refused[name]) == code, name
    locks = [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE TEAM ")]
    assert locks == []
