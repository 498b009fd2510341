"""What an app's token may not do inside its own team: read other partners' records in the audit
trail, or grant, revoke or touch the owner and admin roles."""

from __future__ import annotations

from typing import Any

from models import Role
from tests.apps.flows import Partner, installed, register_app
from tests.support.world import Person, TeamRef, World

TRAIL = """query { team(slug: "acme") { auditEvents(first: 100) {
  edges { node { action targetType details ipAddress userAgent } } } } }"""

MEMBERS = """query { team(slug: "acme") {
  members(first: 10) { edges { node { id role user { username } } } } } }"""

CHANGE_ROLE = """mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { role } errors { code field } } }"""

REMOVE_MEMBER = """mutation($input: MemberIdInput!) {
  removeMember(input: $input) { removedId errors { code field } } }"""

INVITE = """mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) { invitation { id } errors { code } } }"""

REVOKE_INVITATION = """mutation($input: InvitationIdInput!) {
  revokeInvitation(input: $input) { invitation { id } errors { code field } } }"""


async def _two_partners(world: World) -> tuple[Person, TeamRef, str, str, Partner]:
    """Acme installs two partners' apps; each fetches a token (from its own server)."""
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    pat = await world.sign_up("pat")
    roster = await register_app(pat, name="Roster", scopes=["audit:read", "members:manage"])
    rival = await register_app(pat, name="Rival", scopes=["audit:read"])
    await installed(olga, acme, roster.client_id, ["audit:read", "members:manage"])
    await installed(olga, acme, rival.client_id, ["audit:read"])
    ours, theirs = Partner(world), Partner(world, address="127.0.0.7")
    token = await ours.token(roster, team="acme")
    await theirs.token(rival, team="acme")
    return olga, acme, token, rival.client_id, ours


def _about_apps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["action"].split(".")[0] in ("app", "installation")]


async def test_an_apps_token_reads_no_other_apps_records_in_the_trail(world: World) -> None:
    olga, _, token, rival_id, partner = await _two_partners(world)

    response = await partner.graphql(token, TRAIL)
    events = [edge["node"] for edge in response.json()["data"]["team"]["auditEvents"]["edges"]]
    seen = _about_apps(events)
    assert sorted(e["action"] for e in seen) == ["app.installed", "installation.token_issued"]
    assert rival_id not in response.text and "127.0.0.7" not in response.text
    assert all(e["details"]["app_id"] == seen[0]["details"]["app_id"] for e in seen)
    # The team's people still see everything.
    everything = _about_apps(
        [edge["node"] for edge in (await olga(TRAIL))["team"]["auditEvents"]["edges"]]
    )
    assert len(everything) == 4

    export = await partner.http.get(
        "/teams/acme/audit-events.jsonl", headers={"authorization": f"Bearer {token}"}
    )
    assert export.status_code == 200
    assert b"installation.token_issued" in export.content
    assert rival_id.encode() not in export.content and b"127.0.0.7" not in export.content


async def _members(partner: Partner, token: str) -> dict[str, tuple[str, str]]:
    response = await partner.graphql(token, MEMBERS)
    edges = response.json()["data"]["team"]["members"]["edges"]
    return {e["node"]["user"]["username"]: (e["node"]["id"], e["node"]["role"]) for e in edges}


async def test_an_apps_token_never_grants_or_takes_the_admin_or_owner_role(world: World) -> None:
    olga, acme, token, _, partner = await _two_partners(world)
    adam, mia = await world.sign_up("adam"), await world.sign_up("mia")
    await world.add_member(acme, adam, Role.ADMIN)
    await world.add_member(acme, mia, Role.MEMBER)
    members = await _members(partner, token)

    async def change(username: str, role: str) -> list[dict[str, Any]]:
        response = await partner.graphql(
            token, CHANGE_ROLE, input={"memberId": members[username][0], "role": role}
        )
        return response.json()["data"]["changeMemberRole"]["errors"]  # type: ignore[no-any-return]

    assert await change("mia", "ADMIN") == [{"code": "FORBIDDEN", "field": "role"}]
    assert await change("mia", "OWNER") == [{"code": "FORBIDDEN", "field": "role"}]
    assert await change("adam", "MEMBER") == [{"code": "FORBIDDEN", "field": "memberId"}]
    assert await change("olga", "MEMBER") == [{"code": "FORBIDDEN", "field": "memberId"}]
    for username in ("adam", "olga"):
        removed = await partner.graphql(
            token, REMOVE_MEMBER, input={"memberId": members[username][0]}
        )
        errors = removed.json()["data"]["removeMember"]["errors"]
        assert errors == [{"code": "FORBIDDEN", "field": "memberId"}]
    # Plain members stay the app's to manage.
    assert await change("mia", "BILLING") == []
    removed = await partner.graphql(token, REMOVE_MEMBER, input={"memberId": members["mia"][0]})
    assert removed.json()["data"]["removeMember"]["errors"] == []
    after = await _members(partner, token)
    assert after == {"olga": members["olga"], "adam": members["adam"]}

    # A pending admin invitation is not the app's to withdraw either.
    invited = await olga(
        INVITE, input={"teamId": acme.id, "email": "ann@example.com", "role": "ADMIN"}
    )
    invitation_id = invited["inviteMember"]["invitation"]["id"]
    revoked = await partner.graphql(token, REVOKE_INVITATION, input={"invitationId": invitation_id})
    assert revoked.json()["data"]["revokeInvitation"]["errors"] == [
        {"code": "FORBIDDEN", "field": "role"}
    ]
