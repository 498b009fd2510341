"""A team's members as a cursor connection, and what reading it costs in SQL statements."""

from __future__ import annotations

import base64

import pytest

from models import Role
from tests.support.world import Person, TeamRef, World

MEMBERS_PAGE = """
query MembersPage($slug: String!, $first: Int, $after: String) {
  team(slug: $slug) {
    members(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id role user { username } } }
    }
  }
}"""

DASHBOARD_50 = """
query Dashboard($slug: String!) {
  team(slug: $slug) {
    members(first: 50) { edges { node { role user { id username displayName email } } } }
  }
}"""

DASHBOARD_5 = DASHBOARD_50.replace("first: 50", "first: 5")

NESTED_TEAMS = """
query NestedTeams {
  viewer {
    teams(first: 20) {
      edges {
        node {
          name
          members(first: 10) {
            totalCount
            edges { node { role user { id username displayName email } } }
          }
        }
      }
    }
  }
}"""

UPDATE_PROFILE = """
mutation Publish($input: UpdateProfileInput!) { updateProfile(input: $input) { errors { code } } }
"""


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def team_of(world: World, size: int, owner_name: str = "olga") -> tuple[Person, TeamRef]:
    """A team of `size` members: its owner and size - 1 others who joined after her."""
    owner = await world.sign_up(owner_name, verified=False)
    team = await world.make_team(owner, name=f"{owner_name} team")
    for _ in range(size - 1):
        await world.add_member(team, await world.sign_up(verified=False), Role.MEMBER)
    return owner, team


async def members_page(person: Person, team: TeamRef, **arguments: object) -> dict:
    data = await person(MEMBERS_PAGE, slug=team.slug, **arguments)
    return data["team"]["members"]


# --- pagination -----------------------------------------------------------------------------


async def test_members_are_paged_by_cursor_in_the_order_they_joined(world: World) -> None:
    olga, team = await team_of(world, 7)

    pages = [await members_page(olga, team, first=3)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(
            await members_page(olga, team, first=3, after=pages[-1]["pageInfo"]["endCursor"])
        )

    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    usernames = [edge["node"]["user"]["username"] for page in pages for edge in page["edges"]]
    assert usernames[0] == "olga"
    assert len(set(usernames)) == 7
    assert [edge["node"]["role"] for page in pages for edge in page["edges"]] == (
        ["OWNER"] + ["MEMBER"] * 6
    )
    assert {page["totalCount"] for page in pages} == {7}
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    for page in pages:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_a_page_that_ends_exactly_at_the_last_member_has_no_next_page(
    world: World,
) -> None:
    olga, team = await team_of(world, 4)

    page = await members_page(olga, team, first=4)
    after_last = await members_page(olga, team, first=4, after=page["pageInfo"]["endCursor"])

    assert page["pageInfo"]["hasNextPage"] is False
    assert after_last["edges"] == []
    assert after_last["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


async def test_first_zero_gives_only_the_count(world: World) -> None:
    olga, team = await team_of(world, 3)

    page = await members_page(olga, team, first=0)

    assert page["edges"] == []
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True


async def test_by_default_twenty_members_and_at_most_two_hundred(world: World) -> None:
    olga, team = await team_of(world, 22)

    default = await members_page(olga, team)
    largest = await members_page(olga, team, first=200)

    assert len(default["edges"]) == 20
    assert default["pageInfo"]["hasNextPage"] is True
    assert len(largest["edges"]) == 22


@pytest.mark.parametrize("first", [201, 10_000, -1, -(2**31)])
async def test_a_page_size_out_of_range_is_invalid_input(world: World, first: int) -> None:
    olga, team = await team_of(world, 1)

    body = await olga.raw(MEMBERS_PAGE, slug=team.slug, first=first)

    assert body["data"] == {"team": None}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "first"}
    assert body["errors"][0]["path"] == ["team", "members"]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "bogus",
        "!!!",
        b64("cursor:0"),
        b64("cursor:-5"),
        b64("cursor:x"),
        b64("Member:3"),
        "c" * 4000,
    ],
    ids=[
        "empty",
        "garbage",
        "not-base64",
        "zero",
        "negative",
        "non-numeric",
        "a-member-id",
        "oversized",
    ],
)
async def test_a_bad_cursor_is_invalid_input(world: World, cursor: str) -> None:
    olga, team = await team_of(world, 2)

    body = await olga.raw(MEMBERS_PAGE, slug=team.slug, first=1, after=cursor)

    assert body["data"] == {"team": None}
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "INVALID_INPUT", "field": "after"}
    ]


async def test_a_cursor_from_another_team_reveals_nothing_of_it(world: World) -> None:
    olga, acme = await team_of(world, 3, "olga")
    eve, other = await team_of(world, 3, "eve")
    eves_cursor = (await members_page(eve, other, first=1))["pageInfo"]["endCursor"]

    page = await members_page(olga, acme, first=10, after=eves_cursor)

    usernames = {edge["node"]["user"]["username"] for edge in page["edges"]}
    assert "eve" not in usernames
    assert page["totalCount"] == 3


async def test_members_see_their_own_email_but_not_private_ones(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga, name="Acme")
    pia = await world.sign_up("pia", verified=False)
    await world.add_member(team, pia, Role.MEMBER)
    sam = await world.sign_up("sam", verified=False)
    await world.add_member(team, sam, Role.MEMBER)
    await pia(UPDATE_PROFILE, input={"emailPublic": True})

    data = await sam(DASHBOARD_50, slug=team.slug)

    emails = {
        edge["node"]["user"]["username"]: edge["node"]["user"]["email"]
        for edge in data["team"]["members"]["edges"]
    }
    assert emails == {"olga": None, "pia": "pia@example.org", "sam": "sam@example.org"}


async def test_strangers_cannot_page_through_a_team(world: World) -> None:
    olga, team = await team_of(world, 3)
    eve = await world.sign_up("eve", verified=False)

    assert await eve.raw(MEMBERS_PAGE, slug=team.slug, first=2) == {"data": {"team": None}}


# --- statements per request -----------------------------------------------------------------


async def test_fifty_members_cost_as_many_statements_as_five(world: World) -> None:
    olga = await world.sign_up("olga", verified=False)
    team = await world.make_team(olga, name="Acme")
    for number in range(60):
        person = await world.sign_up(f"member{number:02d}", verified=False)
        await world.add_member(team, person, Role.MEMBER if number % 3 else Role.ADMIN)
    await olga(DASHBOARD_5, slug=team.slug)  # warm caches shared by both shapes

    with world.count_statements() as five:
        small = await olga(DASHBOARD_5, slug=team.slug)
    with world.count_statements() as fifty:
        large = await olga(DASHBOARD_50, slug=team.slug)

    assert len(small["team"]["members"]["edges"]) == 5
    assert len(large["team"]["members"]["edges"]) == 50
    assert fifty.count == five.count, (five.statements, fifty.statements)
    assert five.count <= 4, five.statements


async def test_nested_member_lists_cost_the_same_for_two_teams_as_for_six(world: World) -> None:
    few = await world.sign_up("few", verified=False)
    many = await world.sign_up("many", verified=False)
    people = [await world.sign_up(f"person{n}", verified=False) for n in range(4)]
    for owner, count in ((few, 2), (many, 6)):
        for number in range(count):
            team = await world.make_team(owner, name=f"{owner.username} {number}")
            for person in people[: number % 4 + 1]:
                await world.add_member(team, person, Role.MEMBER)

    with world.count_statements() as two:
        few_data = await few(NESTED_TEAMS)
    with world.count_statements() as six:
        many_data = await many(NESTED_TEAMS)

    assert len(few_data["viewer"]["teams"]["edges"]) == 2
    assert len(many_data["viewer"]["teams"]["edges"]) == 6
    assert [
        edge["node"]["members"]["totalCount"] for edge in many_data["viewer"]["teams"]["edges"]
    ] == [2, 3, 4, 5, 2, 3]
    assert six.count == two.count, (two.statements, six.statements)


CONTACTS_OF_MY_TEAMS = """
{ viewer { teams(first: 20) { edges { node { name contacts { role user { username } } } } } } }"""


async def test_contacts_of_many_teams_cost_one_query(world: World) -> None:
    async def statements(team_count: int, owner_name: str) -> int:
        owner = await world.sign_up(owner_name)
        for index in range(team_count):
            await world.make_team(owner, name=f"{owner_name} team {index}")
        with world.count_statements() as counter:
            data = await owner(CONTACTS_OF_MY_TEAMS)
        assert len(data["viewer"]["teams"]["edges"]) == team_count
        return counter.count

    assert await statements(2, "few") == await statements(6, "many")


# --- columns read for what the page shows -----------------------------------------------------

DATES_BY_FRAGMENT = """
query ($slug: String!) {
  team(slug: $slug) {
    members(first: 5) { edges { node { role ...Dates } } }
    plain: members(first: 5) { edges { node { role user { username } } } }
  }
}
fragment Dates on Member { when: joinedAt user { ... on User { createdAt emailVerified } } }"""

NESTED_DATES = NESTED_TEAMS.replace("role user {", "role joinedAt user { createdAt")


def member_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM member JOIN user_account" in " ".join(s.split())]


async def test_a_page_reads_timestamps_only_when_its_selection_shows_one(world: World) -> None:
    olga = await world.sign_up("olga")  # a verified email: emailVerified needs its timestamp
    team = await world.make_team(olga, name="Acme")
    for _ in range(2):
        await world.add_member(team, await world.sign_up(verified=False), Role.MEMBER)
    await olga(DASHBOARD_5, slug=team.slug)

    with world.count_statements() as plain:
        await olga(DASHBOARD_5, slug=team.slug)
    with world.count_statements() as dated:
        data = await olga(DATES_BY_FRAGMENT, slug=team.slug)

    [untimed] = member_reads(plain.statements)
    assert "member.created_at" not in untimed and "user_account.created_at" not in untimed
    assert "user_account.email_verified_at" not in untimed
    # The same page twice in one request, with and without dates: each read for what it shows.
    timed, untimed_again = sorted(member_reads(dated.statements), key=len, reverse=True)
    assert "member.created_at" in timed and "user_account.email_verified_at" in timed
    assert "member.created_at" not in untimed_again
    joined = world.clock.now().isoformat()
    nodes = [edge["node"] for edge in data["team"]["members"]["edges"]]
    assert [node["when"] for node in nodes] == [joined] * 3
    assert nodes[0]["user"] == {"createdAt": joined, "emailVerified": True}
    assert [edge["node"]["role"] for edge in data["team"]["plain"]["edges"]] == [
        node["role"] for node in nodes
    ]


async def test_nested_pages_read_timestamps_only_when_shown(world: World) -> None:
    owner = await world.sign_up("owner", verified=False)
    for number in range(2):
        await world.make_team(owner, name=f"Team {number}")

    with world.count_statements() as plain:
        await owner(NESTED_TEAMS)
    with world.count_statements() as dated:
        data = await owner(NESTED_DATES)

    [untimed] = member_reads(plain.statements)
    [timed] = member_reads(dated.statements)
    assert "member.created_at" not in untimed and "member.created_at" in timed
    joined = world.clock.now().isoformat()
    for team in data["viewer"]["teams"]["edges"]:
        [member] = team["node"]["members"]["edges"]
        assert member["node"]["joinedAt"] == joined
        assert member["node"]["user"]["createdAt"] == joined
