"""Teams: creating one, finding one by slug or id, and the viewer's own list of teams."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, func, select

from models import AuditEvent, Member, Role, Team
from tests.support.world import Person, TeamRef, World

CREATE_TEAM = """
mutation CreateTeam($input: CreateTeamInput!) {
  createTeam(input: $input) {
    team {
      id slug name viewerRole
      members { totalCount edges { node { role user { username } } } }
    }
    errors { __typename code field message }
  }
}"""

UPDATE_TEAM = """
mutation UpdateTeam($input: UpdateTeamInput!) {
  updateTeam(input: $input) { team { id name } errors { __typename code field message } }
}"""

TEAM_BY_SLUG = """
query TeamBySlug($slug: String!) { team(slug: $slug) { id slug name viewerRole } }"""

TEAM_BY_ID = """
query TeamById($id: ID!) { team(id: $id) { id slug name viewerRole } }"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Team { slug }
    ... on Member { role user { username } }
  }
}"""

MEMBER_IDS = """
query MemberIds($slug: String!) {
  team(slug: $slug) { members { edges { node { id user { username } } } } }
}"""

VIEWER_TEAMS = """
query ViewerTeams($first: Int, $after: String) {
  viewer {
    teams(first: $first, after: $after) {
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { slug name viewerRole } }
    }
  }
}"""


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


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


async def table_count(world: World, table: type) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def audit_actions(world: World) -> list[str]:
    async with world.engine.connect() as connection:
        rows = await connection.execute(select(AuditEvent.action).order_by(AuditEvent.id))
        return [action for (action,) in rows]


# --- createTeam -----------------------------------------------------------------------------


async def test_the_creator_becomes_the_owner(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)

    data = await alice(CREATE_TEAM, input={"name": "Acme Rockets"})

    payload = data["createTeam"]
    assert payload["errors"] == []
    team = payload["team"]
    assert team["slug"] == "acme-rockets"
    assert team["name"] == "Acme Rockets"
    assert team["viewerRole"] == "OWNER"
    assert team["members"] == {
        "totalCount": 1,
        "edges": [{"node": {"role": "OWNER", "user": {"username": "alice"}}}],
    }


async def test_team_creation_is_audited(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    before = await audit_actions(world)

    team = await world.make_team(alice, name="Acme")

    assert (await audit_actions(world))[len(before) :] == ["team.created"]
    async with world.engine.connect() as connection:
        event = (
            await connection.execute(select(AuditEvent).where(AuditEvent.action == "team.created"))
        ).one()
    assert (event.team_id, event.target_type, event.target_id) == (team.pk, "team", team.pk)


async def test_a_given_slug_is_normalized(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)

    data = await alice(CREATE_TEAM, input={"name": "Acme", "slug": "  Rocket-Labs "})

    assert data["createTeam"]["team"]["slug"] == "rocket-labs"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Ab", "team-ab"),
        ("日本チーム", "team"),
        ("  Déjà   Vu!! Inc. ", "d-j-vu-inc"),
        ("x" * 60, "x" * 39),
    ],
)
async def test_the_slug_derived_from_a_name_is_always_valid(
    world: World, name: str, slug: str
) -> None:
    alice = await world.sign_up("alice", verified=False)

    data = await alice(CREATE_TEAM, input={"name": name})

    assert data["createTeam"]["errors"] == []
    assert data["createTeam"]["team"]["slug"] == slug


@pytest.mark.parametrize("slug", ["acme", "ACME", None], ids=["same", "other-case", "derived"])
async def test_a_taken_slug_is_a_conflict(world: World, slug: str | None) -> None:
    alice = await world.sign_up("alice", verified=False)
    bob = await world.sign_up("bob", verified=False)
    await world.make_team(alice, name="Acme")
    events_before = await audit_actions(world)

    data = await bob(CREATE_TEAM, input={"name": "Acme", "slug": slug})

    payload = data["createTeam"]
    assert payload["team"] is None
    assert [(e["__typename"], e["code"], e["field"]) for e in payload["errors"]] == [
        ("MutationError", "CONFLICT", "slug")
    ]
    assert await table_count(world, Team) == 1
    assert await table_count(world, Member) == 1
    assert await audit_actions(world) == events_before


@pytest.mark.parametrize(
    "slug",
    ["ab", "-acme", "acme-", "ac--me", "has space", "under_score", "x" * 40, "ünïcode", "a.b.c"],
)
async def test_a_bad_slug_is_invalid_input(world: World, slug: str) -> None:
    alice = await world.sign_up("alice", verified=False)

    data = await alice(CREATE_TEAM, input={"name": "Acme", "slug": slug})

    payload = data["createTeam"]
    assert payload["team"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", "slug")]
    assert await table_count(world, Team) == 0


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 101, "bad\x00name", "y" * 100_000],
    ids=["empty", "blank", "101-chars", "control", "huge"],
)
async def test_an_empty_or_oversized_name_is_invalid_input(world: World, name: str) -> None:
    alice = await world.sign_up("alice", verified=False)
    events_before = await audit_actions(world)

    data = await alice(CREATE_TEAM, input={"name": name, "slug": "acme"})

    payload = data["createTeam"]
    assert payload["team"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", "name")]
    assert await table_count(world, Team) == 0
    assert await audit_actions(world) == events_before


async def test_a_name_of_exactly_100_characters_is_fine(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)

    data = await alice(CREATE_TEAM, input={"name": "n" * 100, "slug": "acme"})

    assert data["createTeam"]["team"]["name"] == "n" * 100


async def test_anonymous_callers_cannot_create_teams(world: World) -> None:
    anonymous = world.client()

    data = await anonymous(CREATE_TEAM, input={"name": "Acme"})

    assert data["createTeam"]["team"] is None
    assert [e["code"] for e in data["createTeam"]["errors"]] == ["UNAUTHENTICATED"]
    assert await table_count(world, Team) == 0


# --- updateTeam -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
async def test_owners_and_admins_rename_the_team(world: World, role: Role) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    renamer = alice
    if role is Role.ADMIN:
        renamer = await world.sign_up("adam", verified=False)
        await world.add_member(team, renamer, role)

    data = await renamer(UPDATE_TEAM, input={"teamId": team.id, "name": "  Acme   Rockets "})

    assert data["updateTeam"] == {"team": {"id": team.id, "name": "Acme Rockets"}, "errors": []}
    assert (await audit_actions(world))[-1] == "team.updated"


@pytest.mark.parametrize(
    ("role", "code"), [(Role.BILLING, "FORBIDDEN"), (Role.MEMBER, "FORBIDDEN"), (None, "NOT_FOUND")]
)
async def test_others_cannot_rename_the_team(world: World, role: Role | None, code: str) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    mallory = await world.sign_up("mallory", verified=False)
    if role is not None:
        await world.add_member(team, mallory, role)

    data = await mallory(UPDATE_TEAM, input={"teamId": team.id, "name": "Pwned"})

    assert data["updateTeam"]["team"] is None
    assert [e["code"] for e in data["updateTeam"]["errors"]] == [code]
    assert (await alice(TEAM_BY_SLUG, slug=team.slug))["team"]["name"] == "Acme"


# --- finding a team -------------------------------------------------------------------------


async def test_a_member_finds_the_team_by_slug_id_and_node(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    bob = await world.sign_up("bob", verified=False)
    await world.add_member(team, bob, Role.MEMBER)
    expected = {"id": team.id, "slug": "acme", "name": "Acme", "viewerRole": "MEMBER"}

    assert (await bob(TEAM_BY_SLUG, slug="acme"))["team"] == expected
    assert (await bob(TEAM_BY_SLUG, slug=" ACME "))["team"] == expected
    assert (await bob(TEAM_BY_ID, id=team.id))["team"] == expected
    assert (await bob(NODE, id=team.id))["node"] == {
        "__typename": "Team",
        "id": team.id,
        "slug": "acme",
    }


async def test_a_member_finds_members_by_node_id(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    bob = await world.sign_up("bob", verified=False)
    bob_member_id = await world.add_member(team, bob, Role.BILLING)

    data = await alice(NODE, id=bob_member_id)

    assert data["node"] == {
        "__typename": "Member",
        "id": bob_member_id,
        "role": "BILLING",
        "user": {"username": "bob"},
    }


async def test_strangers_get_null_for_the_team_never_an_error(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    member_ids = await alice(MEMBER_IDS, slug=team.slug)
    alice_member_id = member_ids["team"]["members"]["edges"][0]["node"]["id"]
    eve = await world.sign_up("eve", verified=False)
    await world.make_team(eve, name="Eve's")  # a team of her own changes nothing
    anonymous = world.client()

    for stranger in (eve, anonymous):
        for query, variables in [
            (TEAM_BY_SLUG, {"slug": "acme"}),
            (TEAM_BY_ID, {"id": team.id}),
            (NODE, {"id": team.id}),
            (NODE, {"id": alice_member_id}),
        ]:
            body = await stranger.raw(query, **variables)
            assert body == {"data": {next(iter(body["data"])): None}}, (query, body)


async def test_an_existing_and_a_missing_team_look_the_same_to_strangers(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    eve = await world.sign_up("eve", verified=False)

    existing = await eve.raw(TEAM_BY_ID, id=team.id)
    missing = await eve.raw(TEAM_BY_ID, id=b64("Team:999999"))
    by_slug = await eve.raw(TEAM_BY_SLUG, slug="acme")
    no_slug = await eve.raw(TEAM_BY_SLUG, slug="nothing-here")

    assert existing == missing == by_slug == no_slug == {"data": {"team": None}}


@pytest.mark.parametrize(
    "team_id",
    ["", "garbage", "!!!", b64("User:1"), b64("Team:0"), b64("Team:x"), "T" * 3000],
    ids=["empty", "garbage", "not-base64", "user-id", "zero", "non-numeric", "oversized"],
)
async def test_a_malformed_team_id_gives_null(world: World, team_id: str) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.make_team(alice, name="Acme")

    assert await alice.raw(TEAM_BY_ID, id=team_id) == {"data": {"team": None}}


async def test_an_overlong_slug_never_matches_a_shorter_one(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    slug = "a" * 39
    await world.make_team(alice, name="Acme", slug=slug)

    assert (await alice(TEAM_BY_SLUG, slug=slug))["team"]["slug"] == slug
    assert (await alice(TEAM_BY_SLUG, slug=slug + "-and-more"))["team"] is None


async def test_a_member_who_left_no_longer_sees_the_team(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")
    bob = await world.sign_up("bob", verified=False)
    await world.add_member(team, bob, Role.ADMIN)
    assert (await bob(TEAM_BY_ID, id=team.id))["team"] is not None

    left = await bob(
        "mutation($input: TeamIdInput!) { leaveTeam(input: $input) { errors { code } } }",
        input={"teamId": team.id},
    )

    assert left["leaveTeam"]["errors"] == []
    assert (await bob(TEAM_BY_ID, id=team.id))["team"] is None
    assert (await bob(VIEWER_TEAMS))["viewer"]["teams"]["edges"] == []


# --- viewer.teams ---------------------------------------------------------------------------


async def test_viewer_teams_pages_through_the_teams_in_the_order_joined(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    bob = await world.sign_up("bob", verified=False)
    await world.make_team(alice, name="Alpha")
    beta = await world.make_team(bob, name="Beta")
    await world.add_member(beta, alice, Role.BILLING)
    await world.make_team(alice, name="Gamma")
    await world.make_team(bob, name="Not Alice's")

    first = (await alice(VIEWER_TEAMS, first=2))["viewer"]["teams"]
    rest = (await alice(VIEWER_TEAMS, first=2, after=first["pageInfo"]["endCursor"]))["viewer"][
        "teams"
    ]

    assert [edge["node"] for edge in first["edges"]] == [
        {"slug": "alpha", "name": "Alpha", "viewerRole": "OWNER"},
        {"slug": "beta", "name": "Beta", "viewerRole": "BILLING"},
    ]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": first["edges"][-1]["cursor"],
    }
    assert [edge["node"]["slug"] for edge in rest["edges"]] == ["gamma"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


async def test_viewer_teams_rejects_bad_page_arguments(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.make_team(alice, name="Alpha")

    for variables in [{"first": 201}, {"first": -1}, {"after": "bogus"}]:
        body = await alice.raw(VIEWER_TEAMS, **variables)
        assert body["data"] == {"viewer": None}, variables
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"]
        assert body["errors"][0]["path"] == ["viewer", "teams"]


async def test_anonymous_viewer_is_null(world: World) -> None:
    anonymous = world.client()

    assert await anonymous.raw(VIEWER_TEAMS) == {"data": {"viewer": None}}


async def test_strange_slugs_in_a_lookup_give_null(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    await world.make_team(alice, name="Acme")

    for slug in ["ac\x00me", "acme\x00", "", "a" * 100_000, "acme%", "a_me"]:
        assert await alice.raw(TEAM_BY_SLUG, slug=slug) == {"data": {"team": None}}, slug


async def test_two_teams_claiming_one_slug_at_once_get_one_team(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    bob = await world.sign_up("bob", verified=False)

    results = await asyncio.gather(
        alice.raw(CREATE_TEAM, input={"name": "Acme", "slug": "acme"}),
        bob.raw(CREATE_TEAM, input={"name": "Acme", "slug": "acme"}),
    )

    outcomes = sorted(
        [(e["code"], e["field"]) for e in body["data"]["createTeam"]["errors"]] for body in results
    )
    assert outcomes == [[], [("CONFLICT", "slug")]], results
    assert await table_count(world, Team) == 1
    assert await table_count(world, Member) == 1
    assert (await audit_actions(world)).count("team.created") == 1


async def test_a_name_that_is_not_valid_unicode_is_refused(world: World) -> None:
    alice = await world.sign_up("alice", verified=False)
    team = await world.make_team(alice, name="Acme")

    for query, variables in (
        (CREATE_TEAM, {"input": {"name": "Lone \ud800", "slug": "lone"}}),
        (UPDATE_TEAM, {"input": {"teamId": team.id, "name": "\udfff"}}),
    ):
        response = await alice.client.http.post(
            "/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={"content-type": "application/json"},
        )
        # Refused at the HTTP edge before any work: nothing created, nothing renamed.
        assert response.status_code == 400

    assert await table_count(world, Team) == 1
    assert (await alice('{ team(slug: "acme") { name } }'))["team"]["name"] == "Acme"


# --- audit events ride in the change's own transaction ---------------------------------------


class Transactions:
    """The statements of each committed and each rolled-back transaction, from engine events."""

    def __init__(self, world: World) -> None:
        self.engine = world.engine.sync_engine
        self.open: dict[int, list[str]] = {}
        self.committed: list[list[str]] = []
        self.rolled_back: list[list[str]] = []

    def __enter__(self) -> Transactions:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "rollback", self._rollback)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.open.setdefault(id(conn), []).append(" ".join(statement.split()))

    def _commit(self, conn: Any) -> None:
        self.committed.append(self.open.pop(id(conn), []))

    def _rollback(self, conn: Any) -> None:
        self.rolled_back.append(self.open.pop(id(conn), []))

    def committed_with(self, prefix: str) -> list[list[str]]:
        return [t for t in self.committed if any(s.startswith(prefix) for s in t)]


@dataclass
class Scene:
    """Olga owns Acme; Mia is a member; Nina holds a pending invitation."""

    olga: Person
    mia: Person
    nina: Person
    team: TeamRef
    mia_id: str
    invitation_id: str
    token: str


async def scene(world: World) -> Scene:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga, name="Acme")
    mia = await world.sign_up("mia", verified=False)
    mia_id = await world.add_member(team, mia, Role.MEMBER)
    invited = await olga(
        "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { invitation { id } } }",
        i={"teamId": team.id, "email": "nina@example.org", "role": "ADMIN"},
    )
    await world.deliver_mail()
    nina = await world.sign_up("nina", email="nina@example.org", verified=False)
    return Scene(
        olga,
        mia,
        nina,
        team,
        mia_id,
        invited["inviteMember"]["invitation"]["id"],
        world.mailbox.token_in("nina@example.org", "invitation"),
    )


def mutation_document(field: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {field}(input: $input) {{ errors {{ code }} }} }}"


# field: (input type, who acts, their input, the audit action, the statement making the change)
MUTATIONS: dict[str, tuple[str, str, Callable[[Scene], dict[str, Any]], str, str]] = {
    "createTeam": (
        "CreateTeamInput",
        "olga",
        lambda s: {"name": "Second"},
        "team.created",
        "INSERT INTO team ",
    ),
    "updateTeam": (
        "UpdateTeamInput",
        "olga",
        lambda s: {"teamId": s.team.id, "name": "Rockets"},
        "team.updated",
        "UPDATE team SET name",
    ),
    "changeMemberRole": (
        "ChangeMemberRoleInput",
        "olga",
        lambda s: {"memberId": s.mia_id, "role": "BILLING"},
        "member.role_changed",
        "UPDATE member SET role",
    ),
    "removeMember": (
        "MemberIdInput",
        "olga",
        lambda s: {"memberId": s.mia_id},
        "member.removed",
        "DELETE FROM member ",
    ),
    "leaveTeam": (
        "TeamIdInput",
        "mia",
        lambda s: {"teamId": s.team.id},
        "member.left",
        "DELETE FROM member ",
    ),
    "inviteMember": (
        "InviteMemberInput",
        "olga",
        lambda s: {"teamId": s.team.id, "email": "otto@example.org"},
        "invitation.sent",
        "INSERT INTO invitation ",
    ),
    "revokeInvitation": (
        "InvitationIdInput",
        "olga",
        lambda s: {"invitationId": s.invitation_id},
        "invitation.revoked",
        "UPDATE invitation SET revoked_at",
    ),
    "acceptInvitation": (
        "AcceptInvitationInput",
        "nina",
        lambda s: {"token": s.token},
        "member.joined",
        "INSERT INTO member ",
    ),
    "contactTeamAdmins": (
        "ContactTeamAdminsInput",
        "mia",
        lambda s: {"teamId": s.team.id, "subject": "Hi", "message": "A question"},
        "team.contacted",
        "INSERT INTO outbox_message ",
    ),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_each_team_mutation_commits_its_audit_event_with_its_change(
    world: World, mutation: str
) -> None:
    s = await scene(world)
    input_type, who, build_input, action, change = MUTATIONS[mutation]
    actor: Person = getattr(s, who)
    before = await audit_actions(world)

    with Transactions(world) as transactions:
        data = await actor(mutation_document(mutation, input_type), input=build_input(s))

    assert next(iter(data.values()))["errors"] == []
    # (Accepting an invitation also records that it proved the email address.)
    new = [a for a in (await audit_actions(world))[len(before) :] if a != "user.email_verified"]
    assert new == [action]
    (audited,) = transactions.committed_with("INSERT INTO audit_event ")
    assert any(statement.startswith(change) for statement in audited), audited
