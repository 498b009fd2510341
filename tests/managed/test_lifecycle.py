"""[P5] How deactivation meets the rest of a managed account's life: its pending email change,
and the end of the management."""

from __future__ import annotations

from sqlalchemy import update

from core.db import session_factory
from models import EmailChangeStatus, User, UserStatus
from tests.managed.conftest import (
    APPROVE,
    CHANGE_EMAIL,
    DEACTIVATE,
    REJECT,
    SIGN_IN,
    Acme,
    only_error,
    pk,
    requests_of,
    team_events,
    user_row,
)
from tests.support.world import PASSWORD, World
from tests.takeover.flows import RELEASE


async def file(acme: Acme) -> str:
    data = await acme.bob(CHANGE_EMAIL, input={"email": "bob@home.example", "password": PASSWORD})
    assert data["changeEmail"]["errors"] == []
    return str(data["changeEmail"]["emailChangeRequest"]["id"])


async def test_p5_release_gives_back_accounts_the_team_deactivated(
    world: World, acme: Acme
) -> None:
    await acme.adam(DEACTIVATE, input={"userId": acme.bob.id})

    data = await acme.alice(
        RELEASE, input={"teamId": acme.team.id, "userIds": [acme.bob.id, acme.erin.id]}
    )

    assert data["releaseManagedAccounts"] == {"releasedCount": 2, "errors": []}
    bob = await user_row(world, acme.bob)
    assert (bob.status, bob.managed_by_team_id) == (UserStatus.ACTIVE, None)
    assert (await user_row(world, acme.erin)).status is UserStatus.ACTIVE
    # Nobody could reactivate him any more: he is back on his own.
    signed_in = await world.client()(SIGN_IN, input={"identifier": "bob", "password": PASSWORD})
    assert signed_in["signIn"]["errors"] == []
    (event,) = await team_events(world, acme.team, "managed_accounts.released")
    assert event.details["released_count"] == 2 and event.details["reactivated_count"] == 1


async def test_p5_deactivation_withdraws_a_pending_email_change(world: World, acme: Acme) -> None:
    request = await file(acme)

    await acme.adam(DEACTIVATE, input={"userId": acme.bob.id})

    (row,) = await requests_of(world, acme.bob)
    assert row.status is EmailChangeStatus.CANCELLED and row.decided_by_id == pk(acme.adam.id)
    (event,) = await team_events(world, acme.team, "managed_user.deactivated")
    assert event.details["email_changes_cancelled"] == 1
    late = await acme.alice(APPROVE, input={"requestId": request})
    assert only_error(late["approveEmailChange"]) == "CONFLICT"
    assert (await user_row(world, acme.bob)).email == "bob@acme.example"


async def test_p5_only_an_active_accounts_email_change_is_decided(world: World, acme: Acme) -> None:
    request = await file(acme)
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(User)
            .where(User.id == pk(acme.bob.id))  # type: ignore[arg-type]
            .values(status=UserStatus.PENDING_DELETION)
        )
        await db.commit()

    for mutation, name in ((APPROVE, "approveEmailChange"), (REJECT, "rejectEmailChange")):
        refused = await acme.alice(mutation, input={"requestId": request})
        assert only_error(refused[name]) == "CONFLICT", name
    assert [row.status for row in await requests_of(world, acme.bob)] == [EmailChangeStatus.PENDING]
    assert (await user_row(world, acme.bob)).email == "bob@acme.example"
