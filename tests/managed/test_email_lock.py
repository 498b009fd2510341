"""[P5] A managed user changes their email only with the managing team's approval (SPEC 5)."""

from __future__ import annotations

from models import EmailChangeStatus
from tests.managed.conftest import (
    APPROVE,
    CANCEL,
    CHANGE_EMAIL,
    MY_REQUEST,
    REJECT,
    Acme,
    chain_intact,
    manage,
    notices,
    only_error,
    pk,
    request_id,
    requests_of,
    team_events,
    unmanage,
    user_row,
)
from tests.support.world import PASSWORD, World

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename ... on EmailChangeRequest { id status newEmail } }
}"""


async def file(acme: Acme, email: str = "bob@personal.example") -> str:
    data = await acme.bob(CHANGE_EMAIL, input={"email": email, "password": PASSWORD})
    payload = data["changeEmail"]
    assert payload["errors"] == []
    return payload["emailChangeRequest"]["id"]


async def test_p5_email_lock_managed_change_files_a_request(world: World, acme: Acme) -> None:
    data = await acme.bob(
        CHANGE_EMAIL, input={"email": "Bob@Personal.example", "password": PASSWORD}
    )
    payload = data["changeEmail"]
    assert payload["errors"] == []
    assert payload["viewer"] == {"email": "bob@acme.example", "emailVerified": True}
    filed = payload["emailChangeRequest"]
    assert filed["status"] == "PENDING" and filed["newEmail"] == "bob@personal.example"

    mine = (await acme.bob(MY_REQUEST))["viewer"]
    assert mine["email"] == "bob@acme.example"
    assert mine["emailChangeRequest"] == {
        "id": filed["id"],
        "status": "PENDING",
        "newEmail": "bob@personal.example",
    }
    # Nothing went to the new address; the team's owners and admins were told (not others).
    await world.deliver_mail()
    assert world.mailbox.to("bob@personal.example") == []
    assert world.mailbox.to("alice@acme.example", "email_change_filed")
    assert world.mailbox.to("adam@acme.example", "email_change_filed")
    assert world.mailbox.to("mia@acme.example") == []
    assert world.mailbox.to("gina@globex.example") == []
    (event,) = await team_events(world, acme.team, "email_change.")
    assert event.action == "email_change.requested" and event.target_id == pk(acme.bob.id)
    assert "bob@personal.example" not in str(event.details)


async def test_p5_email_lock_still_asks_for_the_password(world: World, acme: Acme) -> None:
    data = await acme.bob(CHANGE_EMAIL, input={"email": "bob@personal.example", "password": "nope"})
    assert only_error(data["changeEmail"]) == "INVALID_INPUT"
    assert data["changeEmail"]["emailChangeRequest"] is None
    assert await requests_of(world, acme.bob) == []


async def test_p5_email_lock_refuses_a_taken_address_up_front(world: World, acme: Acme) -> None:
    data = await acme.bob(CHANGE_EMAIL, input={"email": "dave@example.org", "password": PASSWORD})
    assert only_error(data["changeEmail"]) == "CONFLICT"
    assert await requests_of(world, acme.bob) == []


async def test_p5_email_lock_unmanaged_change_is_unchanged(world: World, acme: Acme) -> None:
    data = await acme.dave(CHANGE_EMAIL, input={"email": "dave@new.example", "password": PASSWORD})
    payload = data["changeEmail"]
    assert payload["errors"] == [] and payload["emailChangeRequest"] is None
    assert payload["viewer"] == {"email": "dave@new.example", "emailVerified": False}


async def test_p5_email_lock_approval_continues_like_an_own_change(
    world: World, acme: Acme
) -> None:
    request = await file(acme)
    world.mailbox.clear()
    data = await acme.adam(APPROVE, input={"requestId": request, "reason": "Welcome back"})
    payload = data["approveEmailChange"]
    assert payload["errors"] == []
    decided = payload["emailChangeRequest"]
    assert decided["status"] == "APPROVED" and decided["reason"] == "Welcome back"
    assert decided["decidedBy"] == {"username": "adam"} and decided["decidedAt"]
    assert decided["user"] == {"username": "bob"}

    # As for an unmanaged change: the new address, unverified until its link is opened.
    mine = (await acme.bob(MY_REQUEST))["viewer"]
    assert mine == {
        "email": "bob@personal.example",
        "emailVerified": False,
        "emailChangeRequest": None,
    }
    await world.deliver_mail()
    token = world.mailbox.token_in("bob@personal.example", "verify_email")
    await acme.bob("mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }", t=token)
    assert (await acme.bob(MY_REQUEST))["viewer"]["emailVerified"] is True
    # The old (verified) address hears of the outcome; so does the in-app notice list.
    assert world.mailbox.to("bob@acme.example", "email_change_approved")
    kinds = [notice.kind for notice in await notices(world, acme.bob)]
    # Bob's new address is outside acme.example: the team no longer manages him [P6].
    assert kinds == ["email_change.approved", "managed_account.released"]
    actions = [event.action for event in await team_events(world, acme.team, "email_change.")]
    assert actions == ["email_change.requested", "email_change.approved"]
    (approved,) = await team_events(world, acme.team, "email_change.approved")
    assert approved.reason == "Welcome back" and approved.actor_user_id == pk(acme.adam.id)
    assert await chain_intact(world, acme.team)


async def test_p5_email_lock_rejection_leaves_the_email(world: World, acme: Acme) -> None:
    request = await file(acme)
    data = await acme.alice(REJECT, input={"requestId": request, "reason": "Use your work address"})
    decided = data["rejectEmailChange"]["emailChangeRequest"]
    assert decided["status"] == "REJECTED" and decided["reason"] == "Use your work address"
    mine = (await acme.bob(MY_REQUEST))["viewer"]
    assert mine == {"email": "bob@acme.example", "emailVerified": True, "emailChangeRequest": None}
    (notice,) = await notices(world, acme.bob)
    assert notice.kind == "email_change.rejected" and notice.team_id == acme.team.pk
    assert notice.details["reason"] == "Use your work address"
    await world.deliver_mail()
    assert (
        "Use your work address"
        in world.mailbox.last_to("bob@acme.example", "email_change_rejected").get_content()
    )
    # Decided once: a second decision conflicts.
    again = await acme.adam(APPROVE, input={"requestId": request})
    assert only_error(again["approveEmailChange"]) == "CONFLICT"
    assert (await user_row(world, acme.bob)).email == "bob@acme.example"


async def test_p5_email_lock_a_new_request_supersedes_the_pending_one(
    world: World, acme: Acme
) -> None:
    first = await file(acme, "bob@one.example")
    second = await file(acme, "bob@two.example")
    assert first != second
    statuses = [(row.new_email, row.status) for row in await requests_of(world, acme.bob)]
    assert statuses == [
        ("bob@one.example", EmailChangeStatus.CANCELLED),
        ("bob@two.example", EmailChangeStatus.PENDING),
    ]
    stale = await acme.alice(APPROVE, input={"requestId": first})
    assert only_error(stale["approveEmailChange"]) == "CONFLICT"
    (filed, _) = await team_events(world, acme.team, "email_change.requested")
    second_event = (await team_events(world, acme.team, "email_change.requested"))[1]
    assert filed.details["superseded_request_id"] is None
    assert second_event.details["superseded_request_id"] == pk(first)


async def test_p5_email_lock_user_withdraws_their_request(world: World, acme: Acme) -> None:
    request = await file(acme)
    # Nobody else can withdraw it, and to them it does not exist.
    for stranger in (acme.alice, acme.erin, acme.gina):
        refused = await stranger(CANCEL, input={"requestId": request})
        assert only_error(refused["cancelEmailChangeRequest"]) == "NOT_FOUND"
    data = await acme.bob(CANCEL, input={"requestId": request})
    assert data["cancelEmailChangeRequest"]["emailChangeRequest"]["status"] == "CANCELLED"
    assert (await acme.bob(MY_REQUEST))["viewer"]["emailChangeRequest"] is None
    late = await acme.alice(APPROVE, input={"requestId": request})
    assert only_error(late["approveEmailChange"]) == "CONFLICT"
    again = await acme.bob(CANCEL, input={"requestId": request})
    assert only_error(again["cancelEmailChangeRequest"]) == "CONFLICT"


async def test_p5_email_lock_only_the_managing_teams_admins_decide(
    world: World, acme: Acme
) -> None:
    request = await file(acme)
    for mutation, name in ((APPROVE, "approveEmailChange"), (REJECT, "rejectEmailChange")):
        # Another team's owner and admin, plain members of Acme, another managed user: no such
        # request.
        for outsider in (acme.gina, acme.gabe, acme.mia, acme.dave, acme.erin):
            refused = await outsider(mutation, input={"requestId": request})
            assert only_error(refused[name]) == "NOT_FOUND", outsider.username
        # The requester knows the request exists, and may not decide it.
        own = await acme.bob(mutation, input={"requestId": request})
        assert only_error(own[name]) == "FORBIDDEN"
    assert [row.status for row in await requests_of(world, acme.bob)] == [EmailChangeStatus.PENDING]
    # A malformed or foreign id is bad input, never a 500.
    bad = await acme.alice(APPROVE, input={"requestId": acme.team.id})
    assert only_error(bad["approveEmailChange"]) == "INVALID_INPUT"


async def test_p5_email_lock_an_admin_does_not_approve_their_own_change(
    world: World, acme: Acme
) -> None:
    await manage(world, acme.team, acme.adam)
    data = await acme.adam(CHANGE_EMAIL, input={"email": "adam@home.example", "password": PASSWORD})
    request = data["changeEmail"]["emailChangeRequest"]["id"]
    own = await acme.adam(APPROVE, input={"requestId": request})
    assert only_error(own["approveEmailChange"]) == "FORBIDDEN"
    # The owner decides it; the admin's own mailbox got no "please review" for their own request.
    await world.deliver_mail()
    assert world.mailbox.to("adam@acme.example", "email_change_filed") == []
    ok = await acme.alice(APPROVE, input={"requestId": request})
    assert ok["approveEmailChange"]["errors"] == []


async def test_p5_email_lock_admins_do_not_decide_an_owners_request(
    world: World, acme: Acme
) -> None:
    await manage(world, acme.team, acme.alice)
    data = await acme.alice(
        CHANGE_EMAIL, input={"email": "alice@home.example", "password": PASSWORD}
    )
    request = data["changeEmail"]["emailChangeRequest"]["id"]
    refused = await acme.adam(APPROVE, input={"requestId": request})
    assert only_error(refused["approveEmailChange"]) == "FORBIDDEN"


async def test_p5_email_lock_a_released_account_cannot_be_decided(world: World, acme: Acme) -> None:
    request = await file(acme)
    await unmanage(world, acme.bob)
    data = await acme.alice(APPROVE, input={"requestId": request})
    assert only_error(data["approveEmailChange"]) == "CONFLICT"
    # Managed by another team now: still not Acme's to decide.
    await manage(world, acme.other, acme.bob, domain="globex.example")
    data = await acme.alice(APPROVE, input={"requestId": request})
    assert only_error(data["approveEmailChange"]) == "CONFLICT"
    data = await acme.gina(APPROVE, input={"requestId": request})
    assert only_error(data["approveEmailChange"]) == "NOT_FOUND"
    assert (await user_row(world, acme.bob)).email == "bob@acme.example"


async def test_p5_email_lock_approval_conflicts_when_the_address_was_taken(
    world: World, acme: Acme
) -> None:
    request = await file(acme, "shared@example.org")
    await world.sign_up("sam", email="shared@example.org")
    data = await acme.alice(APPROVE, input={"requestId": request})
    assert only_error(data["approveEmailChange"]) == "CONFLICT"
    # Nothing half-done: still pending, the email unchanged, nobody notified.
    assert [row.status for row in await requests_of(world, acme.bob)] == [EmailChangeStatus.PENDING]
    assert (await user_row(world, acme.bob)).email == "bob@acme.example"
    assert await notices(world, acme.bob) == []
    rejected = await acme.alice(REJECT, input={"requestId": request})
    assert rejected["rejectEmailChange"]["errors"] == []


async def test_p5_email_lock_request_nodes_follow_the_same_rules(world: World, acme: Acme) -> None:
    request = await file(acme)
    for viewer in (acme.bob, acme.alice, acme.adam):
        node = (await viewer(NODE, id=request))["node"]
        assert node == {
            "__typename": "EmailChangeRequest",
            "id": request,
            "status": "PENDING",
            "newEmail": "bob@personal.example",
        }
    for outsider in (acme.mia, acme.gina, acme.gabe, acme.erin):
        assert (await outsider(NODE, id=request))["node"] is None
    assert (await world.client()(NODE, id=request))["node"] is None
    assert request_id(pk(request)) == request


async def test_p5_email_lock_requests_are_rate_limited(world: World, acme: Acme) -> None:
    for n in range(5):
        await file(acme, f"bob{n}@home.example")
    data = await acme.bob(CHANGE_EMAIL, input={"email": "bob9@home.example", "password": PASSWORD})
    assert only_error(data["changeEmail"]) == "RATE_LIMITED"
    assert [row.new_email for row in await requests_of(world, acme.bob)][-1] == "bob4@home.example"
