"""[P14] A token's power follows its owner's current roles and status, and an installed app's
token stays inside its one team with an admin's (never an owner's) power."""

from __future__ import annotations

from sqlalchemy import select, update

from core.db import session_factory
from models import AuditEvent, Installation, Role, User, UserStatus
from tests.support.world import World
from tests.tokens.support import CREATE_TOKEN, bearer_for, install_app

RENAME = """
mutation($id: ID!, $name: String!) {
  updateTeam(input: {teamId: $id, name: $name}) { team { name } errors { code } }
}"""

CHANGE_ROLE = """
mutation($id: ID!, $role: Role!) {
  changeMemberRole(input: {memberId: $id, role: $role}) { member { role } errors { code } }
}"""

MEMBERS = """
query($slug: String!) { team(slug: $slug) {
  id viewerRole members { edges { node { id role user { username email } } } }
} }"""


async def test_p14_a_role_lost_is_power_lost_on_the_next_request(world: World) -> None:
    carol = await world.sign_up("carol")
    alice = await world.sign_up("alice")
    team = await world.make_team(carol, "Acme", slug="acme")
    alice_member = await world.add_member(team, alice, Role.ADMIN)
    client = await bearer_for(world, alice, ["teams:write", "audit:read"])
    renamed = (await client(RENAME, id=team.id, name="Acme 2"))["updateTeam"]
    assert renamed["errors"] == [] and renamed["team"]["name"] == "Acme 2"
    assert (await client('{ team(slug: "acme") { auditEvents { edges { cursor } } } }'))["team"]
    demoted = (await carol(CHANGE_ROLE, id=alice_member, role="MEMBER"))["changeMemberRole"]
    assert demoted["errors"] == []
    again = (await client(RENAME, id=team.id, name="Acme 3"))["updateTeam"]
    assert [error["code"] for error in again["errors"]] == ["FORBIDDEN"]
    audit = await client.raw('{ team(slug: "acme") { auditEvents { edges { cursor } } } }')
    assert audit["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_p14_a_token_never_exceeds_its_owners_roles(world: World) -> None:
    carol = await world.sign_up("carol")
    bob = await world.sign_up("bob")
    team = await world.make_team(carol, "Acme", slug="acme")
    carol_member = (await carol(MEMBERS, slug="acme"))["team"]["members"]["edges"][0]["node"]
    await world.add_member(team, bob, Role.MEMBER)
    client = await bearer_for(world, bob, ["teams:write", "members:manage", "domains:read"])
    renamed = (await client(RENAME, id=team.id, name="Mine"))["updateTeam"]
    assert [error["code"] for error in renamed["errors"]] == ["FORBIDDEN"]
    demote = (await client(CHANGE_ROLE, id=carol_member["id"], role="MEMBER"))["changeMemberRole"]
    assert [error["code"] for error in demote["errors"]] == ["FORBIDDEN"]
    domains = await client('{ team(slug: "acme") { domains { id } } }')
    assert domains["team"]["domains"] is None


async def test_p14_a_deactivated_or_deleted_owners_token_is_refused(world: World) -> None:
    alice = await world.sign_up("alice")
    client = await bearer_for(world, alice, ["users:read"])
    assert (await client("{ viewer { id } }"))["viewer"]
    for status in (UserStatus.DEACTIVATED, UserStatus.PENDING_DELETION, UserStatus.DELETED):
        async with session_factory(world.engine)() as db:
            await db.execute(update(User).values(status=status))
            await db.commit()
        response = await client.post("{ viewer { id } }")
        assert response.status_code == 401, status
        assert response.headers["www-authenticate"].startswith("Bearer ")


# --- installed apps ---------------------------------------------------------------------------


async def two_teams(world: World):  # type: ignore[no-untyped-def]
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")
    carol = await world.sign_up("carol")
    acme = await world.make_team(alice, "Acme", slug="acme")
    beta = await world.make_team(carol, "Beta", slug="beta")
    bob_in_acme = await world.add_member(acme, bob, Role.MEMBER)
    bob_in_beta = await world.add_member(beta, bob, Role.MEMBER)
    return alice, bob, carol, acme, beta, bob_in_acme, bob_in_beta


async def test_p14_an_app_reads_its_own_teams_members_and_nothing_else(world: World) -> None:
    alice, bob, carol, acme, beta, bob_in_acme, bob_in_beta = await two_teams(world)
    app, _ = await install_app(world, acme, ["teams:read", "users:read"])
    team = (await app(MEMBERS, slug="acme"))["team"]
    assert team["id"] == acme.id and team["viewerRole"] == "ADMIN"
    usernames = sorted(edge["node"]["user"]["username"] for edge in team["members"]["edges"])
    assert usernames == ["alice", "bob"]
    # [P1] An app acts for no person: private emails stay hidden from it.
    assert {edge["node"]["user"]["email"] for edge in team["members"]["edges"]} == {None}
    assert (await app(MEMBERS, slug="beta"))["team"] is None
    nodes = await app(
        "query($a: ID!, $b: ID!, $t: ID!) { a: node(id: $a) { id } b: node(id: $b) { id }"
        " t: node(id: $t) { id } }",
        a=bob_in_acme,
        b=bob_in_beta,
        t=beta.id,
    )
    assert nodes == {"a": {"id": bob_in_acme}, "b": None, "t": None}
    users = await app('{ bob: user(username: "bob") { id } carol: user(username: "carol") { id } }')
    assert users["bob"] is not None and users["carol"] is None


async def test_p14_an_app_has_no_viewer_and_no_personal_data(world: World) -> None:
    alice, bob, carol, acme, *_ = await two_teams(world)
    app, _ = await install_app(world, acme, ["users:read", "teams:read", "teams:write"])
    data = await app("{ viewer { id email } }")
    assert data["viewer"] is None
    created = await app.raw('mutation { createTeam(input: {name: "Side"}) { errors { code } } }')
    assert [e["code"] for e in created["data"]["createTeam"]["errors"]] == ["FORBIDDEN"]
    token = await app.raw(
        CREATE_TOKEN, input={"name": "x", "scopes": ["users:read"], "expiresInDays": 1}
    )
    codes = [e["code"] for e in token["data"]["createPersonalAccessToken"]["errors"]]
    assert codes == ["FORBIDDEN"]
    sessions = await app.raw("mutation { signOut { errors { code } } }")
    assert [e["code"] for e in sessions["data"]["signOut"]["errors"]] == ["FORBIDDEN"]


async def test_p14_an_app_acts_as_an_admin_never_as_an_owner(world: World) -> None:
    alice, bob, carol, acme, beta, bob_in_acme, bob_in_beta = await two_teams(world)
    app, installation_id = await install_app(world, acme, ["teams:read", "members:manage"])
    owner = (await alice(MEMBERS, slug="acme"))["team"]["members"]["edges"][0]["node"]
    assert owner["role"] == "OWNER"
    promoted = (await app(CHANGE_ROLE, id=bob_in_acme, role="BILLING"))["changeMemberRole"]
    assert promoted["errors"] == [] and promoted["member"]["role"] == "BILLING"
    # Nor does it hand out the admin role (only a person does: tests/apps/test_installation_reach).
    to_admin = (await app(CHANGE_ROLE, id=bob_in_acme, role="ADMIN"))["changeMemberRole"]
    assert [e["code"] for e in to_admin["errors"]] == ["FORBIDDEN"]
    to_owner = (await app(CHANGE_ROLE, id=bob_in_acme, role="OWNER"))["changeMemberRole"]
    assert [e["code"] for e in to_owner["errors"]] == ["FORBIDDEN"]
    demote_owner = (await app(CHANGE_ROLE, id=owner["id"], role="MEMBER"))["changeMemberRole"]
    assert [e["code"] for e in demote_owner["errors"]] == ["FORBIDDEN"]
    elsewhere = (await app(CHANGE_ROLE, id=bob_in_beta, role="ADMIN"))["changeMemberRole"]
    assert [e["code"] for e in elsewhere["errors"]] == ["NOT_FOUND"]
    rename = (await app(RENAME, id=acme.id, name="Nope"))["updateTeam"]
    assert [e["code"] for e in rename["errors"]] == ["FORBIDDEN"]  # not granted teams:write
    async with session_factory(world.engine)() as db:
        event = (
            await db.execute(select(AuditEvent).where(AuditEvent.action == "member.role_changed"))
        ).scalar_one()
    assert event.actor_kind == "app" and event.actor_user_id is None
    assert event.details["via_installation_id"] == installation_id


async def test_p14_uninstalling_an_app_stops_its_token_at_once(world: World) -> None:
    alice, bob, carol, acme, *_ = await two_teams(world)
    app, installation_id = await install_app(world, acme, ["teams:read"])
    assert (await app(MEMBERS, slug="acme"))["team"]
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(Installation)
            .where(Installation.id == installation_id)  # type: ignore[arg-type]
            .values(uninstalled_at=world.clock.now())
        )
        await db.commit()
    assert (await app.post(MEMBERS, slug="acme")).status_code == 401


async def test_p14_an_apps_scopes_bound_what_it_reads(world: World) -> None:
    alice, bob, carol, acme, *_ = await two_teams(world)
    app, _ = await install_app(world, acme, ["domains:read"])
    body = await app.raw(MEMBERS, slug="acme")
    assert body["data"]["team"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await app('{ team(slug: "acme") { domains { id } } }'))["team"]["domains"] == []
    events = await app.raw('{ team(slug: "acme") { auditEvents { edges { cursor } } } }')
    assert events["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_app_token_works_for_the_audit_export(world: World) -> None:
    alice, bob, carol, acme, beta, *_ = await two_teams(world)
    app, _ = await install_app(world, acme, ["audit:read"])
    mine = await app.http.get("/teams/acme/audit-events.jsonl")
    assert mine.status_code == 200 and b"team.created" in mine.content
    other = await app.http.get("/teams/beta/audit-events.jsonl")
    assert other.status_code == 404
    reader, _ = await install_app(world, acme, ["teams:read"], name="Reader")
    refused = await reader.http.get("/teams/acme/audit-events.jsonl")
    assert refused.status_code == 403


async def test_a_personal_token_needs_audit_read_for_the_export(world: World) -> None:
    alice = await world.sign_up("alice")
    await world.make_team(alice, "Acme", slug="acme")
    without = await bearer_for(world, alice, ["teams:read"])
    assert (await without.http.get("/teams/acme/audit-events.jsonl")).status_code == 403
    granted = await bearer_for(world, alice, ["audit:read"])
    assert (await granted.http.get("/teams/acme/audit-events.jsonl")).status_code == 200
