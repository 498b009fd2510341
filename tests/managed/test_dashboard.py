"""The managing team's dashboard: its managed accounts and their email-change requests, paged,
filtered, for owners and admins only, and in a constant number of statements."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from models import Role
from tests.managed.conftest import CHANGE_EMAIL, DEACTIVATE, REJECT, Acme, hold_domain, manage
from tests.support.world import PASSWORD, World

MANAGED = """
query Managed($slug: String!, $first: Int, $after: String, $status: [UserStatus!],
              $domain: String) {
  team(slug: $slug) {
    managedAccounts(first: $first, after: $after, status: $status, domain: $domain) {
      edges { cursor node { user { username } email status managedSince managedDomain } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}"""

REQUESTS = """
query Requests($slug: String!, $first: Int, $after: String, $status: [EmailChangeStatus!]) {
  team(slug: $slug) {
    emailChangeRequests(first: $first, after: $after, status: $status) {
      edges { node { id status newEmail user { username } decidedBy { username } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def usernames(person: Any, **variables: Any) -> tuple[list[str], dict[str, Any]]:
    data = await person(MANAGED, slug="acme", **variables)
    connection = data["team"]["managedAccounts"]
    return [edge["node"]["user"]["username"] for edge in connection["edges"]], connection[
        "pageInfo"
    ]


async def test_p5_dashboard_lists_managed_accounts_for_owners_and_admins(
    world: World, acme: Acme
) -> None:
    data = await acme.adam(MANAGED, slug="acme")
    nodes = [edge["node"] for edge in data["team"]["managedAccounts"]["edges"]]
    assert nodes == [
        {
            "user": {"username": "bob"},
            "email": "bob@acme.example",
            "status": "ACTIVE",
            "managedSince": nodes[0]["managedSince"],
            "managedDomain": "acme.example",
        },
        {
            "user": {"username": "erin"},
            "email": "erin@acme.example",
            "status": "ACTIVE",
            "managedSince": nodes[1]["managedSince"],
            "managedDomain": "acme.example",
        },
    ]
    assert nodes[0]["managedSince"]
    # Plain members, the managed users themselves, other teams: nothing.
    for person in (acme.mia, acme.bob):
        assert (await person(MANAGED, slug="acme"))["team"]["managedAccounts"] is None
    assert (await acme.gina(MANAGED, slug="acme"))["team"] is None
    # Globex manages nobody; bob being its member changes nothing.
    assert (await acme.gina(MANAGED, slug="globex"))["team"]["managedAccounts"]["edges"] == []


async def test_p5_dashboard_filters_and_pages(world: World, acme: Acme) -> None:
    extra = [await world.sign_up(f"staff{n}", email=f"staff{n}@eng.acme.example") for n in range(3)]
    for person in extra:
        await manage(world, acme.team, person, domain="eng.acme.example")
    await acme.alice(DEACTIVATE, input={"userId": acme.erin.id})

    names, info = await usernames(acme.alice, first=2)
    assert names == ["bob", "erin"] and info["hasNextPage"] and not info["hasPreviousPage"]
    names, info = await usernames(acme.alice, first=2, after=info["endCursor"])
    assert names == ["staff0", "staff1"] and info["hasNextPage"] and info["hasPreviousPage"]
    names, info = await usernames(acme.alice, first=2, after=info["endCursor"])
    assert names == ["staff2"] and not info["hasNextPage"]

    assert (await usernames(acme.alice, status=["DEACTIVATED"]))[0] == ["erin"]
    assert (await usernames(acme.alice, status=["ACTIVE", "DEACTIVATED"]))[0] == [
        "bob",
        "erin",
        "staff0",
        "staff1",
        "staff2",
    ]
    assert (await usernames(acme.alice, domain="ENG.Acme.Example."))[0] == [
        "staff0",
        "staff1",
        "staff2",
    ]
    assert (await usernames(acme.alice, domain="acme.example", status=["ACTIVE"]))[0] == ["bob"]
    bad = await acme.alice.raw(MANAGED, slug="acme", domain="not a domain")
    assert bad["errors"] and "500" not in str(bad)


async def test_p5_dashboard_lists_email_change_requests(world: World, acme: Acme) -> None:
    for person, address in ((acme.bob, "bob@home.example"), (acme.erin, "erin@home.example")):
        data = await person(CHANGE_EMAIL, input={"email": address, "password": PASSWORD})
        assert data["changeEmail"]["errors"] == []
    first = (await acme.adam(REQUESTS, slug="acme"))["team"]["emailChangeRequests"]
    assert [edge["node"]["newEmail"] for edge in first["edges"]] == [
        "bob@home.example",
        "erin@home.example",
    ]
    await acme.adam(REJECT, input={"requestId": first["edges"][0]["node"]["id"]})

    pending = (await acme.adam(REQUESTS, slug="acme"))["team"]["emailChangeRequests"]
    assert [edge["node"]["user"]["username"] for edge in pending["edges"]] == ["erin"]
    decided = (await acme.adam(REQUESTS, slug="acme", status=["REJECTED"]))["team"][
        "emailChangeRequests"
    ]
    assert [edge["node"]["decidedBy"] for edge in decided["edges"]] == [{"username": "adam"}]
    paged = (await acme.adam(REQUESTS, slug="acme", first=1, status=["PENDING", "REJECTED"]))[
        "team"
    ]["emailChangeRequests"]
    assert len(paged["edges"]) == 1 and paged["pageInfo"]["hasNextPage"]
    for person in (acme.mia, acme.bob):
        assert (await person(REQUESTS, slug="acme"))["team"]["emailChangeRequests"] is None


async def test_p5_dashboard_statements_do_not_grow_with_the_page(world: World, acme: Acme) -> None:
    for n in range(12):
        person = await world.sign_up(f"user{n:02}", email=f"user{n:02}@acme.example")
        await world.add_member(acme.team, person, Role.MEMBER)
        await manage(world, acme.team, person)
        data = await person(
            CHANGE_EMAIL, input={"email": f"u{n}@home.example", "password": PASSWORD}
        )
        assert data["changeEmail"]["errors"] == []
        world.clock.advance(timedelta(minutes=1))

    async def count(query: str, first: int) -> int:
        with world.count_statements() as counter:
            data = await acme.alice(query, slug="acme", first=first)
        team = data["team"]
        connection = team.get("managedAccounts") or team["emailChangeRequests"]
        assert len(connection["edges"]) == first
        return counter.count

    await acme.alice(MANAGED, slug="acme")  # the session's last-seen write happens once, here
    assert await count(MANAGED, 2) == await count(MANAGED, 12)
    assert await count(REQUESTS, 2) == await count(REQUESTS, 12)


VIEWER_TEAMS = """
query {
  viewer { teams(first: 20) { edges { node {
    slug
    managedAccounts(first: 5) { edges { node { email user { username } } } }
    emailChangeRequests(first: 5) { edges { node { newEmail user { username } } } }
  } } } }
}"""


async def test_p5_dashboard_statements_do_not_grow_with_the_teams(world: World) -> None:
    """Across the viewer's teams, each list level is one query however many teams there are."""
    boss = await world.sign_up("boss", email="boss@boss.example")

    async def team_with_a_request(n: int) -> None:
        team = await world.make_team(boss, f"Team {n}", slug=f"team{n}")
        await hold_domain(world, team, f"t{n}.example")
        person = await world.sign_up(f"staff{n}", email=f"staff{n}@t{n}.example")
        await manage(world, team, person, domain=f"t{n}.example")
        data = await person(
            CHANGE_EMAIL, input={"email": f"staff{n}@home.example", "password": PASSWORD}
        )
        assert data["changeEmail"]["errors"] == []

    async def count() -> int:
        with world.count_statements() as counter:
            data = await boss(VIEWER_TEAMS)
        teams = [edge["node"] for edge in data["viewer"]["teams"]["edges"]]
        for team in teams:
            (account,) = team["managedAccounts"]["edges"]
            (request,) = team["emailChangeRequests"]["edges"]
            assert account["node"]["email"] and request["node"]["newEmail"]
        return counter.count

    await team_with_a_request(1)
    await boss(VIEWER_TEAMS)  # the session's last-seen write happens once, here
    one = await count()
    for n in range(2, 7):
        await team_with_a_request(n)
    assert await count() == one
