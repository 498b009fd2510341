"""Invitations: sent by email over SMTP, accepted once by the address's owner, revocable."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Invitation, Member, OutboxMessage, Role
from tests.support.world import Person, TeamRef, World

INVITE = """
mutation Invite($input: InviteMemberInput!) {
  inviteMember(input: $input) {
    invitation { id email role createdAt expiresAt invitedBy { username } }
    errors { __typename code field message }
  }
}"""

ACCEPT = """
mutation Accept($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) {
    member { id role user { username } }
    errors { __typename code field message }
  }
}"""

REVOKE = """
mutation Revoke($input: InvitationIdInput!) {
  revokeInvitation(input: $input) {
    invitation { id email role }
    errors { __typename code field message }
  }
}"""

PENDING = """
query Pending($slug: String!) {
  team(slug: $slug) { viewerRole invitations { id email role invitedBy { username } } }
}"""

TEAM = """
query Team($slug: String!) { team(slug: $slug) { slug viewerRole } }"""

NODE = """
query Node($id: ID!) { node(id: $id) { __typename id ... on Invitation { email role } } }"""

VIEWER = "query { viewer { username emailVerified } }"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def count(world: World, table: type) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def audit_actions(world: World) -> list[str]:
    async with world.engine.connect() as connection:
        rows = await connection.execute(select(AuditEvent.action).order_by(AuditEvent.id))
        return [action for (action,) in rows]


async def post_escaped(person: Person, query: str, **variables: object) -> dict:
    """Send JSON with \\u escapes, as any client may: lone surrogates reach the server."""
    response = await person.client.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


def codes(payload: dict) -> list[tuple[str, str | None]]:
    assert all(e["__typename"] == "MutationError" for e in payload["errors"])
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def acme(world: World) -> tuple[Person, TeamRef]:
    olga = await world.sign_up("olga", verified=False)
    return olga, await world.make_team(olga, name="Acme")


async def invite(inviter: Person, team: TeamRef, email: str, role: str = "MEMBER") -> dict:
    data = await inviter(INVITE, input={"teamId": team.id, "email": email, "role": role})
    return data["inviteMember"]


async def invited_token(
    world: World, inviter: Person, team: TeamRef, email: str, role: str = "MEMBER"
) -> str:
    payload = await invite(inviter, team, email, role)
    assert payload["errors"] == [], payload["errors"]
    await world.deliver_mail()
    return world.mailbox.token_in(email, "invitation")


async def accept(person: Person, token: str) -> dict:
    return (await person(ACCEPT, input={"token": token}))["acceptInvitation"]


# --- the round trip -------------------------------------------------------------------------


async def test_an_invitation_travels_by_smtp_and_makes_the_invitee_a_member(
    world: World,
) -> None:
    olga, team = await acme(world)

    payload = await invite(olga, team, "  Nina@Example.ORG ", "ADMIN")
    await world.deliver_mail()

    invitation = payload["invitation"]
    assert payload["errors"] == []
    assert invitation["email"] == "nina@example.org"
    assert invitation["role"] == "ADMIN"
    assert invitation["invitedBy"] == {"username": "olga"}
    assert invitation["expiresAt"] == (world.clock.now() + timedelta(days=7)).isoformat()
    (message,) = world.mailbox.to("nina@example.org", "invitation")
    assert message["Subject"] == "olga invited you to join Acme"
    body = message.get_content()
    token = world.mailbox.token_in("nina@example.org", "invitation")
    assert f"{world.settings.public_base_url}/invitations/accept?token={token}" in body
    assert "as admin" in body

    nina = await world.sign_up("nina", email="nina@example.org")
    accepted = await accept(nina, token)

    assert accepted["errors"] == []
    assert accepted["member"]["role"] == "ADMIN"
    assert accepted["member"]["user"] == {"username": "nina"}
    assert (await nina(TEAM, slug=team.slug))["team"] == {"slug": "acme", "viewerRole": "ADMIN"}
    assert (await olga(PENDING, slug=team.slug))["team"]["invitations"] == []


async def test_invitation_and_joining_are_audited(world: World) -> None:
    olga, team = await acme(world)
    before = await audit_actions(world)
    token = await invited_token(world, olga, team, "nina@example.org", "BILLING")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    signed_up = await audit_actions(world)

    await accept(nina, token)

    assert signed_up[len(before)] == "invitation.sent"
    # The accepted link also proved the address, which is on the record too.
    assert (await audit_actions(world))[len(signed_up) :] == [
        "user.email_verified",
        "member.joined",
    ]
    async with world.engine.connect() as connection:
        joined = (
            await connection.execute(select(AuditEvent).where(AuditEvent.action == "member.joined"))
        ).one()
        member_pk = await connection.scalar(
            select(Member.id).where(Member.team_id == team.pk, Member.role == Role.BILLING)
        )
    assert (joined.team_id, joined.target_type, joined.target_id) == (team.pk, "member", member_pk)
    assert joined.details["role"] == "billing"


async def test_accepting_proves_the_address_so_it_counts_as_verified(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    assert (await nina(VIEWER))["viewer"]["emailVerified"] is False

    await accept(nina, token)

    assert (await nina(VIEWER))["viewer"]["emailVerified"] is True


# --- tokens that no longer work -------------------------------------------------------------


async def test_an_invitation_works_only_once(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    assert (await accept(nina, token))["errors"] == []
    left = await nina(
        "mutation($i: TeamIdInput!) { leaveTeam(input: $i) { errors { code } } }",
        i={"teamId": team.id},
    )
    assert left["leaveTeam"]["errors"] == []

    again = await accept(nina, token)

    assert codes(again) == [("INVALID_INPUT", "token")]
    assert (await nina(TEAM, slug=team.slug))["team"] is None


async def test_a_revoked_invitation_cannot_be_accepted(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    pending = (await olga(PENDING, slug=team.slug))["team"]["invitations"]
    revoked = await olga(REVOKE, input={"invitationId": pending[0]["id"]})
    assert revoked["revokeInvitation"]["errors"] == []
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    events_before = await audit_actions(world)

    payload = await accept(nina, token)

    assert codes(payload) == [("INVALID_INPUT", "token")]
    assert payload["member"] is None
    assert (await nina(TEAM, slug=team.slug))["team"] is None
    assert await audit_actions(world) == events_before


async def test_an_expired_invitation_cannot_be_accepted(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)

    world.clock.advance(days=8)
    payload = await accept(nina, token)

    assert codes(payload) == [("INVALID_INPUT", "token")]
    assert "expired" in payload["errors"][0]["message"]
    assert (await nina(TEAM, slug=team.slug))["team"] is None
    assert (await olga(PENDING, slug=team.slug))["team"]["invitations"] == []


async def test_an_invitation_still_works_just_before_it_expires(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)

    world.clock.advance(days=7, seconds=-1)

    assert (await accept(nina, token))["errors"] == []


async def test_after_expiry_the_address_can_be_invited_again(world: World) -> None:
    olga, team = await acme(world)
    await invited_token(world, olga, team, "nina@example.org")

    world.clock.advance(days=8)
    payload = await invite(olga, team, "nina@example.org")

    assert payload["errors"] == []


async def test_an_unknown_token_is_not_found(world: World) -> None:
    nina = await world.sign_up("nina", verified=False)

    for token in ["", "nonsense", "x" * 10_000, "tok\x00en", "tökén"]:
        data = await post_escaped(nina, ACCEPT, input={"token": token})
        assert codes(data["acceptInvitation"]) == [("NOT_FOUND", "token")], token


async def test_accepting_needs_a_signed_in_user(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")

    payload = (await world.client()(ACCEPT, input={"token": token}))["acceptInvitation"]

    assert codes(payload) == [("UNAUTHENTICATED", None)]
    assert len((await olga(PENDING, slug=team.slug))["team"]["invitations"]) == 1


async def test_someone_with_another_email_cannot_use_the_link(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    mallory = await world.sign_up("mallory", email="mallory@example.org")
    events_before = await audit_actions(world)

    payload = await accept(mallory, token)

    assert codes(payload) == [("FORBIDDEN", "token")]
    assert (await mallory(TEAM, slug=team.slug))["team"] is None
    assert await audit_actions(world) == events_before
    # The link is still good for the person it was meant for.
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    assert (await accept(nina, token))["errors"] == []


async def test_a_member_cannot_accept_an_invitation_to_their_own_team(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org", "ADMIN")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    await world.add_member(team, nina, Role.MEMBER)

    payload = await accept(nina, token)

    assert codes(payload) == [("CONFLICT", "token")]
    assert (await nina(TEAM, slug=team.slug))["team"]["viewerRole"] == "MEMBER"


# --- who may be invited ---------------------------------------------------------------------


async def test_a_second_pending_invitation_to_one_address_is_a_conflict(world: World) -> None:
    olga, team = await acme(world)
    await invite(olga, team, "nina@example.org")
    outbox_before = await count(world, OutboxMessage)

    payload = await invite(olga, team, "NINA@example.org", "ADMIN")

    assert codes(payload) == [("CONFLICT", "email")]
    assert payload["invitation"] is None
    assert await count(world, Invitation) == 1
    assert await count(world, OutboxMessage) == outbox_before


async def test_the_same_address_may_be_invited_to_two_teams(world: World) -> None:
    olga, team = await acme(world)
    other = await world.make_team(olga, name="Other")
    await invite(olga, team, "nina@example.org")

    assert (await invite(olga, other, "nina@example.org"))["errors"] == []


async def test_p1_inviting_never_reveals_which_member_owns_an_address(world: World) -> None:
    olga, team = await acme(world)
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    await world.add_member(team, nina, Role.MEMBER)

    # A member's private address invites like any other: nothing confirms who owns it.
    token = await invited_token(world, olga, team, "nina@example.org")
    # The member who follows the link is told they are in already.
    assert codes(await accept(nina, token)) == [("CONFLICT", "token")]


@pytest.mark.parametrize(
    "email",
    [
        "",
        "not-an-email",
        "a@b",
        "two@@example.org",
        "x" * 250 + "@example.org",
        "nul\x00@example.org",
    ],
    ids=["empty", "no-at", "no-tld", "double-at", "oversized", "nul-byte"],
)
async def test_a_bad_address_is_invalid_input(world: World, email: str) -> None:
    olga, team = await acme(world)

    data = await post_escaped(olga, INVITE, input={"teamId": team.id, "email": email})

    assert codes(data["inviteMember"]) == [("INVALID_INPUT", "email")]
    assert await count(world, Invitation) == 0


async def test_a_stranger_cannot_invite_to_a_team(world: World) -> None:
    olga, team = await acme(world)
    eve = await world.sign_up("eve", verified=False)

    assert codes(await invite(eve, team, "friend@example.org")) == [("NOT_FOUND", "teamId")]
    payload = (
        await world.client()(
            INVITE,
            input={
                "teamId": team.id,
                "email": "friend@example.org",
                "role": "MEMBER",
            },
        )
    )["inviteMember"]
    assert codes(payload) == [("UNAUTHENTICATED", None)]


@pytest.mark.parametrize("team_id", ["", "junk", b64("Member:1"), b64("Team:0")])
async def test_a_malformed_team_id_is_invalid_input(world: World, team_id: str) -> None:
    olga, _ = await acme(world)

    payload = (
        await olga(
            INVITE,
            input={
                "teamId": team_id,
                "email": "nina@example.org",
                "role": "MEMBER",
            },
        )
    )["inviteMember"]

    assert codes(payload) == [("INVALID_INPUT", "teamId")]


async def test_the_role_defaults_to_member(world: World) -> None:
    olga, team = await acme(world)

    data = await olga(INVITE, input={"teamId": team.id, "email": "nina@example.org"})

    assert data["inviteMember"]["invitation"]["role"] == "MEMBER"


# --- seeing and revoking invitations --------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sees"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.BILLING, False), (Role.MEMBER, False)],
)
async def test_only_owners_and_admins_see_pending_invitations(
    world: World, role: Role, sees: bool
) -> None:
    olga, team = await acme(world)
    await invite(olga, team, "nina@example.org", "BILLING")
    viewer = olga
    if role is not Role.OWNER:
        viewer = await world.sign_up("vera", verified=False)
        await world.add_member(team, viewer, role)

    data = await viewer(PENDING, slug=team.slug)

    if sees:
        (pending,) = data["team"]["invitations"]
        assert pending["email"] == "nina@example.org"
        assert pending["role"] == "BILLING"
        assert pending["invitedBy"] == {"username": "olga"}
        node = await viewer(NODE, id=pending["id"])
        assert node["node"]["__typename"] == "Invitation"
    else:
        assert data["team"] == {"viewerRole": role.name, "invitations": None}


async def test_invitations_by_node_id_are_for_managers_only(world: World) -> None:
    olga, team = await acme(world)
    invitation_id = (await invite(olga, team, "nina@example.org"))["invitation"]["id"]
    mia = await world.sign_up("mia", verified=False)
    await world.add_member(team, mia, Role.MEMBER)
    eve = await world.sign_up("eve", verified=False)

    assert (await olga(NODE, id=invitation_id))["node"] == {
        "__typename": "Invitation",
        "id": invitation_id,
        "email": "nina@example.org",
        "role": "MEMBER",
    }
    for outsider in (mia, eve, world.client()):
        assert await outsider.raw(NODE, id=invitation_id) == {"data": {"node": None}}


async def test_an_admin_revokes_an_invitation(world: World) -> None:
    olga, team = await acme(world)
    adam = await world.sign_up("adam", verified=False)
    await world.add_member(team, adam, Role.ADMIN)
    invitation_id = (await invite(olga, team, "nina@example.org", "ADMIN"))["invitation"]["id"]
    before = await audit_actions(world)

    data = await adam(REVOKE, input={"invitationId": invitation_id})

    assert data["revokeInvitation"] == {
        "invitation": {"id": invitation_id, "email": "nina@example.org", "role": "ADMIN"},
        "errors": [],
    }
    assert (await olga(PENDING, slug=team.slug))["team"]["invitations"] == []
    assert (await audit_actions(world))[len(before) :] == ["invitation.revoked"]
    again = await adam(REVOKE, input={"invitationId": invitation_id})
    assert codes(again["revokeInvitation"]) == [("INVALID_INPUT", "invitationId")]
    # A revoked invitation does not block a new one to the same address.
    assert (await invite(adam, team, "nina@example.org"))["errors"] == []


async def test_an_admin_may_neither_invite_nor_revoke_an_owner(world: World) -> None:
    olga, team = await acme(world)
    adam = await world.sign_up("adam", verified=False)
    await world.add_member(team, adam, Role.ADMIN)
    owner_invitation = (await invite(olga, team, "nina@example.org", "OWNER"))["invitation"]
    before = await audit_actions(world)

    revoked = await adam(REVOKE, input={"invitationId": owner_invitation["id"]})
    invited = await invite(adam, team, "otto@example.org", "OWNER")

    assert codes(revoked["revokeInvitation"]) == [("FORBIDDEN", "role")]
    assert codes(invited) == [("FORBIDDEN", "role")]
    assert [i["email"] for i in (await olga(PENDING, slug=team.slug))["team"]["invitations"]] == [
        "nina@example.org"
    ]
    assert await audit_actions(world) == before


@pytest.mark.parametrize(
    ("role", "code", "field"),
    [
        (Role.BILLING, "FORBIDDEN", None),
        (Role.MEMBER, "FORBIDDEN", None),
        (None, "NOT_FOUND", "invitationId"),
    ],
)
async def test_members_and_strangers_cannot_revoke(
    world: World, role: Role | None, code: str, field: str | None
) -> None:
    olga, team = await acme(world)
    invitation_id = (await invite(olga, team, "nina@example.org"))["invitation"]["id"]
    mallory = await world.sign_up("mallory", verified=False)
    if role is not None:
        await world.add_member(team, mallory, role)

    data = await mallory(REVOKE, input={"invitationId": invitation_id})

    assert codes(data["revokeInvitation"]) == [(code, field)]
    assert len((await olga(PENDING, slug=team.slug))["team"]["invitations"]) == 1


async def test_a_missing_invitation_looks_like_a_foreign_one(world: World) -> None:
    olga, team = await acme(world)
    eve = await world.sign_up("eve", verified=False)
    others = await world.make_team(eve, name="Others")
    foreign_id = (await invite(eve, others, "nina@example.org"))["invitation"]["id"]

    foreign = await olga(REVOKE, input={"invitationId": foreign_id})
    missing = await olga(REVOKE, input={"invitationId": b64("Invitation:424242")})

    assert codes(foreign["revokeInvitation"]) == [("NOT_FOUND", "invitationId")]
    assert foreign == missing


@pytest.mark.parametrize("invitation_id", ["", "junk", b64("Team:1"), b64("Invitation:-1")])
async def test_a_malformed_invitation_id_is_invalid_input(world: World, invitation_id: str) -> None:
    olga, _ = await acme(world)

    data = await olga(REVOKE, input={"invitationId": invitation_id})

    assert codes(data["revokeInvitation"]) == [("INVALID_INPUT", "invitationId")]


# --- at once --------------------------------------------------------------------------------


async def test_two_invitations_to_one_address_at_once_send_one(world: World) -> None:
    olga, team = await acme(world)
    adam = await world.sign_up("adam", verified=False)
    await world.add_member(team, adam, Role.ADMIN)

    results = await asyncio.gather(
        olga.raw(INVITE, input={"teamId": team.id, "email": "nina@example.org", "role": "MEMBER"}),
        adam.raw(INVITE, input={"teamId": team.id, "email": "nina@example.org", "role": "ADMIN"}),
    )

    outcomes = sorted(
        [e["code"] for e in body["data"]["inviteMember"]["errors"]] for body in results
    )
    assert outcomes == [[], ["CONFLICT"]], results
    assert len((await olga(PENDING, slug=team.slug))["team"]["invitations"]) == 1


async def test_accepting_twice_at_once_joins_once(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)

    results = await asyncio.gather(
        nina.raw(ACCEPT, input={"token": token}),
        nina.raw(ACCEPT, input={"token": token}),
    )

    outcomes = sorted(
        [e["code"] for e in body["data"]["acceptInvitation"]["errors"]] for body in results
    )
    assert outcomes == [[], ["INVALID_INPUT"]], results
    assert await count(world, Member) == 2


async def test_revoking_while_the_invitee_accepts_never_does_both(world: World) -> None:
    olga, team = await acme(world)
    token = await invited_token(world, olga, team, "nina@example.org")
    invitation_id = (await olga(PENDING, slug=team.slug))["team"]["invitations"][0]["id"]
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)

    revoked, accepted = await asyncio.gather(
        olga.raw(REVOKE, input={"invitationId": invitation_id}),
        nina.raw(ACCEPT, input={"token": token}),
    )

    revoke_errors = revoked["data"]["revokeInvitation"]["errors"]
    accept_errors = accepted["data"]["acceptInvitation"]["errors"]
    assert sorted([len(revoke_errors), len(accept_errors)]) == [0, 1], (revoked, accepted)
    async with world.engine.connect() as connection:
        (row,) = (await connection.execute(select(Invitation))).all()
    assert (row.accepted_at is None) != (row.revoked_at is None)
    assert await count(world, Member) == (1 if accept_errors else 2)


async def test_p1_an_accepted_invitation_no_longer_shows_its_address(world: World) -> None:
    olga, team = await acme(world)
    payload = await invite(olga, team, "nina.private@example.org")
    invitation_id = payload["invitation"]["id"]
    token = await invited_token_for_existing(world, "nina.private@example.org")
    nina = await world.sign_up("nina", email="nina.private@example.org", verified=False)
    assert codes(await accept(nina, token)) == []

    # The address is now a member's private email: neither the node nor the trail shows it.
    assert (await olga(NODE, id=invitation_id))["node"] is None
    trail = await olga(
        '{ team(slug: "acme") { auditEvents(first: 50) { edges { node { action details } } } } }'
    )
    assert "nina.private@example.org" not in json.dumps(trail)


async def invited_token_for_existing(world: World, email: str) -> str:
    await world.deliver_mail()
    return world.mailbox.token_in(email, "invitation")
