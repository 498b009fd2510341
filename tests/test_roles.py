"""SPEC 2 role rules: who may change, remove and invite whom, and the owner that always stays."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from api.relay import from_global_id
from models import AuditEvent, Member, Role
from tests.support.world import Person, TeamRef, World

CHANGE_ROLE = """
mutation ChangeRole($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) {
    member { id role user { username } }
    errors { __typename code field message }
  }
}"""

REMOVE_MEMBER = """
mutation RemoveMember($input: MemberIdInput!) {
  removeMember(input: $input) { removedId errors { __typename code field message } }
}"""

INVITE_MEMBER = """
mutation InviteMember($input: InviteMemberInput!) {
  inviteMember(input: $input) {
    invitation { id email role }
    errors { __typename code field message }
  }
}"""

LEAVE_TEAM = """
mutation LeaveTeam($input: TeamIdInput!) {
  leaveTeam(input: $input) { errors { __typename code field message } }
}"""

MEMBERS = """
query Members($slug: String!) {
  team(slug: $slug) {
    viewerRole
    members(first: 50) { totalCount edges { node { id role user { username } } } }
  }
}"""

ROLES = [Role.OWNER, Role.ADMIN, Role.BILLING, Role.MEMBER]

# SPEC 2, written out rather than derived: the roles of the members each role may change or
# remove, and the roles each role may hand out (by role change or by invitation).
MANAGES = {
    Role.OWNER: {Role.OWNER, Role.ADMIN, Role.BILLING, Role.MEMBER},
    Role.ADMIN: {Role.ADMIN, Role.BILLING, Role.MEMBER},
    Role.BILLING: set(),
    Role.MEMBER: set(),
}
GRANTS = {
    Role.OWNER: {Role.OWNER, Role.ADMIN, Role.BILLING, Role.MEMBER},
    Role.ADMIN: {Role.ADMIN, Role.BILLING, Role.MEMBER},
    Role.BILLING: set(),
    Role.MEMBER: set(),
}


def gql(role: Role) -> str:
    return role.name


def error_code(payload: dict) -> str | None:
    errors = payload["errors"]
    assert len(errors) <= 1, errors
    if not errors:
        return None
    assert errors[0]["__typename"] == "MutationError"
    return errors[0]["code"]


async def audit_count(world: World) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def audit_actions(world: World) -> list[str]:
    async with world.engine.connect() as connection:
        rows = await connection.execute(select(AuditEvent.action).order_by(AuditEvent.id))
        return [action for (action,) in rows]


async def roles_by_username(person: Person, team: TeamRef) -> dict[str, str]:
    data = await person(MEMBERS, slug=team.slug)
    edges = data["team"]["members"]["edges"]
    return {edge["node"]["user"]["username"]: edge["node"]["role"] for edge in edges}


async def member_id_of(person: Person, team: TeamRef, username: str) -> str:
    data = await person(MEMBERS, slug=team.slug)
    for edge in data["team"]["members"]["edges"]:
        if edge["node"]["user"]["username"] == username:
            return str(edge["node"]["id"])
    raise AssertionError(f"{username} is not a member of {team.slug}")


@dataclass
class Staffed:
    """A team its founder owns, an actor with a role in it, and a target with a role in it."""

    founder: Person
    team: TeamRef
    actor: Person
    target: Person
    target_id: str


async def staffed(world: World, actor_role: Role, target_role: Role) -> Staffed:
    founder = await world.sign_up("founder", verified=False)
    team = await world.make_team(founder, name="Acme")
    if actor_role is Role.OWNER:
        actor = founder
    else:
        actor = await world.sign_up("actor", verified=False)
        await world.add_member(team, actor, actor_role)
    target = await world.sign_up("target", verified=False)
    target_id = await world.add_member(team, target, target_role)
    return Staffed(founder, team, actor, target, target_id)


# --- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("new_role", ROLES, ids=lambda r: f"to-{r.value}")
@pytest.mark.parametrize("target_role", ROLES, ids=lambda r: f"target-{r.value}")
@pytest.mark.parametrize("actor_role", ROLES, ids=lambda r: f"actor-{r.value}")
async def test_change_member_role_matrix(
    world: World, actor_role: Role, target_role: Role, new_role: Role
) -> None:
    s = await staffed(world, actor_role, target_role)
    allowed = target_role in MANAGES[actor_role] and new_role in GRANTS[actor_role]
    events_before = await audit_count(world)

    data = await s.actor(CHANGE_ROLE, input={"memberId": s.target_id, "role": gql(new_role)})

    payload = data["changeMemberRole"]
    roles = await roles_by_username(s.founder, s.team)
    if allowed:
        assert error_code(payload) is None
        assert payload["member"] == {
            "id": s.target_id,
            "role": gql(new_role),
            "user": {"username": "target"},
        }
        assert roles["target"] == gql(new_role)
        changed = new_role is not target_role
        assert await audit_count(world) == events_before + (1 if changed else 0)
    else:
        assert error_code(payload) == "FORBIDDEN"
        assert payload["member"] is None
        assert roles["target"] == gql(target_role)
        assert await audit_count(world) == events_before


@pytest.mark.parametrize("target_role", ROLES, ids=lambda r: f"target-{r.value}")
@pytest.mark.parametrize("actor_role", ROLES, ids=lambda r: f"actor-{r.value}")
async def test_remove_member_matrix(world: World, actor_role: Role, target_role: Role) -> None:
    s = await staffed(world, actor_role, target_role)
    allowed = target_role in MANAGES[actor_role]
    events_before = await audit_count(world)

    data = await s.actor(REMOVE_MEMBER, input={"memberId": s.target_id})

    payload = data["removeMember"]
    roles = await roles_by_username(s.founder, s.team)
    if allowed:
        assert error_code(payload) is None
        assert payload["removedId"] == s.target_id
        assert "target" not in roles
        assert (await audit_actions(world))[events_before:] == ["member.removed"]
        assert (await s.target(MEMBERS, slug=s.team.slug))["team"] is None
    else:
        assert error_code(payload) == "FORBIDDEN"
        assert payload["removedId"] is None
        assert roles["target"] == gql(target_role)
        assert await audit_count(world) == events_before


@pytest.mark.parametrize("invited_role", ROLES, ids=lambda r: f"invite-{r.value}")
@pytest.mark.parametrize("actor_role", ROLES, ids=lambda r: f"actor-{r.value}")
async def test_invite_member_matrix(world: World, actor_role: Role, invited_role: Role) -> None:
    founder = await world.sign_up("founder", verified=False)
    team = await world.make_team(founder, name="Acme")
    actor = founder
    if actor_role is not Role.OWNER:
        actor = await world.sign_up("actor", verified=False)
        await world.add_member(team, actor, actor_role)
    allowed = invited_role in GRANTS[actor_role]
    events_before = await audit_count(world)

    data = await actor(
        INVITE_MEMBER,
        input={
            "teamId": team.id,
            "email": "newcomer@example.org",
            "role": gql(invited_role),
        },
    )

    payload = data["inviteMember"]
    if allowed:
        assert error_code(payload) is None
        assert payload["invitation"]["email"] == "newcomer@example.org"
        assert payload["invitation"]["role"] == gql(invited_role)
        assert (await audit_actions(world))[events_before:] == ["invitation.sent"]
    else:
        assert error_code(payload) == "FORBIDDEN"
        assert payload["invitation"] is None
        assert await audit_count(world) == events_before


# --- at least one owner ---------------------------------------------------------------------


async def test_last_owner_cannot_demote_themself(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    own_id = await member_id_of(olga, team, "olga")
    events_before = await audit_count(world)

    data = await olga(CHANGE_ROLE, input={"memberId": own_id, "role": "ADMIN"})

    assert data["changeMemberRole"]["errors"][0]["code"] == "INVALID_INPUT"
    assert data["changeMemberRole"]["errors"][0]["field"] == "memberId"
    assert await roles_by_username(olga, team) == {"olga": "OWNER"}
    assert await audit_count(world) == events_before


async def test_last_owner_cannot_leave(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    member = await world.sign_up("mia", verified=False)
    await world.add_member(team, member, Role.ADMIN)
    events_before = await audit_count(world)

    data = await olga(LEAVE_TEAM, input={"teamId": team.id})

    assert error_code(data["leaveTeam"]) == "INVALID_INPUT"
    assert await roles_by_username(olga, team) == {"olga": "OWNER", "mia": "ADMIN"}
    assert await audit_count(world) == events_before


async def test_with_two_owners_one_may_step_down(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    otto = await world.sign_up("otto", verified=False)
    await world.add_member(team, otto, Role.OWNER)
    own_id = await member_id_of(olga, team, "olga")

    data = await olga(CHANGE_ROLE, input={"memberId": own_id, "role": "MEMBER"})

    assert error_code(data["changeMemberRole"]) is None
    assert await roles_by_username(otto, team) == {"olga": "MEMBER", "otto": "OWNER"}
    # otto is now the only owner, and the rule applies to him in turn.
    otto_id = await member_id_of(otto, team, "otto")
    again = await otto(CHANGE_ROLE, input={"memberId": otto_id, "role": "ADMIN"})
    assert error_code(again["changeMemberRole"]) == "INVALID_INPUT"


async def test_with_two_owners_one_may_leave(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    otto = await world.sign_up("otto", verified=False)
    await world.add_member(team, otto, Role.OWNER)

    data = await olga(LEAVE_TEAM, input={"teamId": team.id})

    assert error_code(data["leaveTeam"]) is None
    assert await roles_by_username(otto, team) == {"otto": "OWNER"}
    assert (await audit_actions(world))[-1] == "member.left"
    assert (await olga(MEMBERS, slug=team.slug))["team"] is None
    again = await otto(LEAVE_TEAM, input={"teamId": team.id})
    assert error_code(again["leaveTeam"]) == "INVALID_INPUT"


async def test_owner_removing_the_other_owner_keeps_one(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    otto = await world.sign_up("otto", verified=False)
    otto_id = await world.add_member(team, otto, Role.OWNER)

    data = await olga(REMOVE_MEMBER, input={"memberId": otto_id})

    assert error_code(data["removeMember"]) is None
    assert await roles_by_username(olga, team) == {"olga": "OWNER"}


@pytest.mark.parametrize("role", [Role.MEMBER, Role.BILLING, Role.ADMIN])
async def test_a_member_may_leave(world: World, role: Role) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    mia = await world.sign_up("mia", verified=False)
    await world.add_member(team, mia, role)

    data = await mia(LEAVE_TEAM, input={"teamId": team.id})

    assert error_code(data["leaveTeam"]) is None
    assert await roles_by_username(olga, team) == {"olga": "OWNER"}
    assert (await mia(MEMBERS, slug=team.slug))["team"] is None


async def test_leaving_a_team_one_is_not_in_is_not_found(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    stranger = await world.sign_up("stranger", verified=False)

    data = await stranger(LEAVE_TEAM, input={"teamId": team.id})

    assert error_code(data["leaveTeam"]) == "NOT_FOUND"


# --- members and billing see, but manage nothing --------------------------------------------


@pytest.mark.parametrize("role", [Role.BILLING, Role.MEMBER])
async def test_members_and_billing_see_the_member_list(world: World, role: Role) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    mia = await world.sign_up("mia", verified=False)
    await world.add_member(team, mia, role)

    data = await mia(MEMBERS, slug=team.slug)

    assert data["team"]["viewerRole"] == gql(role)
    assert data["team"]["members"]["totalCount"] == 2
    assert await roles_by_username(mia, team) == {"olga": "OWNER", "mia": gql(role)}


# --- yourself, other teams, bad ids ---------------------------------------------------------


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
async def test_removing_yourself_asks_you_to_leave_instead(world: World, role: Role) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    otto = await world.sign_up("otto", verified=False)
    await world.add_member(team, otto, Role.OWNER)  # so an owner leaving would be allowed
    mia = olga
    if role is not Role.OWNER:
        mia = await world.sign_up("mia", verified=False)
        await world.add_member(team, mia, role)
    own_id = await member_id_of(mia, team, mia.username)
    events_before = await audit_count(world)

    data = await mia(REMOVE_MEMBER, input={"memberId": own_id})

    errors = data["removeMember"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", "memberId")]
    assert "leave" in errors[0]["message"].lower()
    assert mia.username in await roles_by_username(olga, team)
    assert await audit_count(world) == events_before


@pytest.mark.parametrize("mutation", ["change", "remove"])
async def test_another_teams_member_is_not_found(world: World, mutation: str) -> None:
    olga = await world.sign_up("olga", verified=False)
    await world.make_team(olga, name="Acme")
    eve = await world.sign_up("eve", verified=False)
    other = await world.make_team(eve, name="Other")
    victim = await world.sign_up("victim", verified=False)
    victim_id = await world.add_member(other, victim, Role.MEMBER)
    events_before = await audit_count(world)

    if mutation == "change":
        data = await olga(CHANGE_ROLE, input={"memberId": victim_id, "role": "ADMIN"})
        payload = data["changeMemberRole"]
    else:
        data = await olga(REMOVE_MEMBER, input={"memberId": victim_id})
        payload = data["removeMember"]

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "memberId")]
    assert await roles_by_username(eve, other) == {"eve": "OWNER", "victim": "MEMBER"}
    assert await audit_count(world) == events_before


async def test_another_teams_member_looks_like_a_missing_one(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    await world.make_team(olga, name="Acme")
    eve = await world.sign_up("eve", verified=False)
    other = await world.make_team(eve, name="Other")
    victim = await world.sign_up("victim", verified=False)
    victim_id = await world.add_member(other, victim, Role.MEMBER)
    missing_id = base64.urlsafe_b64encode(b"Member:987654").decode()

    foreign = await olga(CHANGE_ROLE, input={"memberId": victim_id, "role": "ADMIN"})
    missing = await olga(CHANGE_ROLE, input={"memberId": missing_id, "role": "ADMIN"})

    assert foreign["changeMemberRole"]["errors"] == missing["changeMemberRole"]["errors"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


MALFORMED_MEMBER_IDS = [
    pytest.param("", id="empty"),
    pytest.param("not-an-id", id="garbage"),
    pytest.param("!!!", id="not-base64"),
    pytest.param(_b64("Team:1"), id="a-team-id"),
    pytest.param(_b64("Member:abc"), id="non-numeric"),
    pytest.param(_b64("Member:0"), id="zero"),
    pytest.param(_b64("Member:-3"), id="negative"),
    pytest.param(_b64("Member:99999999999999999999999"), id="too-large"),
    pytest.param("x" * 5000, id="oversized"),
]


@pytest.mark.parametrize("member_id", MALFORMED_MEMBER_IDS)
async def test_malformed_member_ids_are_invalid_input(world: World, member_id: str) -> None:
    olga = await world.sign_up("olga", verified=False)
    await world.make_team(olga)
    events_before = await audit_count(world)

    change = await olga(CHANGE_ROLE, input={"memberId": member_id, "role": "ADMIN"})
    remove = await olga(REMOVE_MEMBER, input={"memberId": member_id})

    for payload in (change["changeMemberRole"], remove["removeMember"]):
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_INPUT", "memberId")
        ]
    assert await audit_count(world) == events_before


async def test_a_role_that_does_not_exist_is_a_validation_error(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    mia = await world.sign_up("mia", verified=False)
    mia_id = await world.add_member(team, mia, Role.MEMBER)

    body = await olga.raw(CHANGE_ROLE, input={"memberId": mia_id, "role": "SUPERUSER"})

    assert body.get("data") is None
    assert "SUPERUSER" in body["errors"][0]["message"]
    assert await roles_by_username(olga, team) == {"olga": "OWNER", "mia": "MEMBER"}


@pytest.mark.parametrize("mutation", ["change", "remove", "leave"])
async def test_anonymous_callers_must_sign_in(world: World, mutation: str) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    mia = await world.sign_up("mia", verified=False)
    mia_id = await world.add_member(team, mia, Role.MEMBER)
    anonymous = world.client()

    if mutation == "change":
        data = await anonymous(CHANGE_ROLE, input={"memberId": mia_id, "role": "OWNER"})
        payload = data["changeMemberRole"]
    elif mutation == "remove":
        data = await anonymous(REMOVE_MEMBER, input={"memberId": mia_id})
        payload = data["removeMember"]
    else:
        data = await anonymous(LEAVE_TEAM, input={"teamId": team.id})
        payload = data["leaveTeam"]

    assert error_code(payload) == "UNAUTHENTICATED"
    assert await roles_by_username(olga, team) == {"olga": "OWNER", "mia": "MEMBER"}


# --- the audit trail ------------------------------------------------------------------------


async def test_role_change_is_audited_with_before_and_after(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    mia = await world.sign_up("mia", verified=False)
    mia_id = await world.add_member(team, mia, Role.MEMBER)

    await olga(CHANGE_ROLE, input={"memberId": mia_id, "role": "BILLING"})

    async with world.engine.connect() as connection:
        event = (
            await connection.execute(
                select(AuditEvent).where(AuditEvent.action == "member.role_changed")
            )
        ).one()
        role = await connection.scalar(select(Member.role).where(Member.id == event.target_id))
    assert event.team_id == team.pk
    assert event.target_type == "member"
    assert event.target_id == from_global_id(mia_id)[1]  # type: ignore[index]
    assert role is Role.BILLING
    assert event.details["from"] == "member"
    assert event.details["to"] == "billing"
    assert event.actor_kind == "user"
    assert event.user_agent == "pytest-browser/1.0"
    assert event.created_at == world.clock.now()


async def test_an_error_writes_nothing(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    adam = await world.sign_up("adam", verified=False)
    await world.add_member(team, adam, Role.ADMIN)
    olga_id = await member_id_of(olga, team, "olga")
    events_before = await audit_actions(world)

    attempts = [
        await adam(CHANGE_ROLE, input={"memberId": olga_id, "role": "MEMBER"}),
        await adam(REMOVE_MEMBER, input={"memberId": olga_id}),
        await olga(CHANGE_ROLE, input={"memberId": olga_id, "role": "MEMBER"}),
        await olga(LEAVE_TEAM, input={"teamId": team.id}),
    ]

    assert all(next(iter(a.values()))["errors"] for a in attempts)
    assert await audit_actions(world) == events_before
    assert await roles_by_username(olga, team) == {"olga": "OWNER", "adam": "ADMIN"}


# --- two owners at once ---------------------------------------------------------------------


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga)
    otto = await world.sign_up("otto", verified=False)
    otto_id = await world.add_member(team, otto, Role.OWNER)
    olga_id = await member_id_of(olga, team, "olga")

    results = await asyncio.gather(
        olga.raw(CHANGE_ROLE, input={"memberId": otto_id, "role": "MEMBER"}),
        otto.raw(CHANGE_ROLE, input={"memberId": olga_id, "role": "MEMBER"}),
    )

    outcomes = sorted(error_code(body["data"]["changeMemberRole"]) or "ok" for body in results)
    assert outcomes == ["FORBIDDEN", "ok"], results
    assert sorted((await roles_by_username(olga, team)).values()) == ["MEMBER", "OWNER"]
