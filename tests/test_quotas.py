"""Actions that send email on a user's behalf are bounded, so Orgward cannot flood an inbox."""

from __future__ import annotations

from datetime import timedelta

from models import Role
from tests.support.world import World

RESEND = "mutation { resendVerificationEmail { ok errors { __typename code } } }"
INVITE = """mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) { invitation { id } errors { code ... on RateLimitedError {
    retryAfterSeconds } } } }"""
CONTACT = """mutation($input: ContactTeamAdminsInput!) {
  contactTeamAdmins(input: $input) { recipients errors { code } } }"""


async def test_verification_emails_are_limited_per_hour(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    codes = []
    for _ in range(6):
        payload = (await alice(RESEND))["resendVerificationEmail"]
        codes.append(payload["errors"][0]["code"] if payload["errors"] else "OK")
    assert codes == ["OK"] * 5 + ["RATE_LIMITED"]
    await world.deliver_mail()
    # The sign-up link plus five resends, not a sixth.
    assert len(world.mailbox.to("alice@example.org", "verify_email")) == 6
    world.clock.advance(hours=1, minutes=1)
    assert (await alice(RESEND))["resendVerificationEmail"]["errors"] == []


async def test_invitations_are_limited_per_inviter(world: World) -> None:
    olga = await world.sign_up("olga")
    team = await world.make_team(olga)
    for n in range(50):
        sent = await olga(INVITE, input={"teamId": team.id, "email": f"guest{n}@example.net"})
        assert sent["inviteMember"]["errors"] == []
    refused = await olga(INVITE, input={"teamId": team.id, "email": "one-more@example.net"})
    (error,) = refused["inviteMember"]["errors"]
    assert error["code"] == "RATE_LIMITED" and error["retryAfterSeconds"] > 0
    assert refused["inviteMember"]["invitation"] is None
    world.clock.advance(timedelta(hours=1, minutes=1))
    again = await olga(INVITE, input={"teamId": team.id, "email": "one-more@example.net"})
    assert again["inviteMember"]["errors"] == []


async def test_messages_to_team_admins_are_limited_per_sender(world: World) -> None:
    olga = await world.sign_up("olga")
    team = await world.make_team(olga)
    mia = await world.sign_up("mia")
    await world.add_member(team, mia, Role.MEMBER)
    message = {"teamId": team.id, "subject": "Hello", "message": "A question"}
    results = [(await mia(CONTACT, input=message))["contactTeamAdmins"] for _ in range(11)]
    assert all(r["errors"] == [] for r in results[:10])
    assert results[10]["errors"][0]["code"] == "RATE_LIMITED"
    assert results[10]["recipients"] == 0
