"""[P1, P2] What a managing team sees of its managed users' addresses: the address it answers
for (inside one of its domains in force), and an address asked for only while it has that
request to decide. Anything else is the user's private address, null unless made public."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from core.db import session_factory
from models import Domain
from tests.managed.conftest import (
    APPROVE,
    CHANGE_EMAIL,
    REJECT,
    SET_DISPLAY_NAME,
    Acme,
    manage,
    only_error,
    unmanage,
)
from tests.support.world import PASSWORD, Person, World

MANAGED = """
query Managed($slug: String!) {
  team(slug: $slug) { managedAccounts { edges { node { user { username } email status } } } }
}"""

REQUESTS = """
query Requests($slug: String!) {
  team(slug: $slug) {
    emailChangeRequests(status: [PENDING, APPROVED, REJECTED, CANCELLED]) {
      edges { node { id status newEmail user { username } } }
    }
  }
}"""

NODE = """
query Node($id: ID!) { node(id: $id) { ... on EmailChangeRequest { status newEmail } } }"""

MAKE_PUBLIC = """
mutation { updateProfile(input: {emailPublic: true}) { errors { code } } }"""


async def emails_seen(person: Person) -> dict[str, str | None]:
    data = await person(MANAGED, slug="acme")
    edges = data["team"]["managedAccounts"]["edges"]
    return {edge["node"]["user"]["username"]: edge["node"]["email"] for edge in edges}


async def addresses_asked(person: Person) -> list[tuple[str, str, str | None]]:
    data = await person(REQUESTS, slug="acme")
    edges = data["team"]["emailChangeRequests"]["edges"]
    return [
        (edge["node"]["user"]["username"], edge["node"]["status"], edge["node"]["newEmail"])
        for edge in edges
    ]


async def file(person: Person, email: str) -> str:
    data = await person(CHANGE_EMAIL, input={"email": email, "password": PASSWORD})
    assert data["changeEmail"]["errors"] == []
    return str(data["changeEmail"]["emailChangeRequest"]["id"])


async def test_p1_managed_address_outside_the_teams_domains_is_private(
    world: World, acme: Acme
) -> None:
    # Dave's address is at example.org, no domain of Acme's: managing him does not show it.
    await manage(world, acme.team, acme.dave, domain="example.org")
    assert await emails_seen(acme.alice) == {
        "bob": "bob@acme.example",
        "erin": "erin@acme.example",
        "dave": None,
    }
    data = await acme.alice(SET_DISPLAY_NAME, input={"userId": acme.dave.id, "displayName": "D"})
    assert data["setManagedUserDisplayName"]["account"]["email"] is None
    # Made public, it is anyone's to see.
    assert (await acme.dave(MAKE_PUBLIC))["updateProfile"]["errors"] == []
    assert (await emails_seen(acme.alice))["dave"] == "dave@example.org"


async def test_p2_managed_addresses_hide_once_the_domain_is_no_longer_in_force(
    world: World, acme: Acme
) -> None:
    # Past its verified_until, before any worker marked it lapsed or released the accounts.
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(Domain).values(verified_until=world.clock.now() - timedelta(minutes=1))
        )
        await db.commit()
    assert await emails_seen(acme.adam) == {"bob": None, "erin": None}
    data = await acme.adam(SET_DISPLAY_NAME, input={"userId": acme.bob.id, "displayName": "B"})
    assert data["setManagedUserDisplayName"]["account"]["email"] is None


async def test_p2_asked_addresses_show_only_while_there_is_a_decision_to_make(
    world: World, acme: Acme
) -> None:
    bobs = await file(acme.bob, "bob@home.example")
    await file(acme.erin, "erin@one.example")
    await file(acme.erin, "erin@two.example")  # withdraws the first
    rejected = await acme.adam(REJECT, input={"requestId": bobs})
    assert rejected["rejectEmailChange"]["emailChangeRequest"]["newEmail"] is None

    assert await addresses_asked(acme.adam) == [
        ("bob", "REJECTED", None),
        ("erin", "CANCELLED", None),
        ("erin", "PENDING", "erin@two.example"),
    ]
    # The requester always sees what they asked for.
    assert (await acme.bob(NODE, id=bobs))["node"] == {
        "status": "REJECTED",
        "newEmail": "bob@home.example",
    }
    assert (await acme.adam(NODE, id=bobs))["node"] == {"status": "REJECTED", "newEmail": None}

    # An account the team no longer manages: nothing left to decide, nothing shown.
    await unmanage(world, acme.erin)
    assert (await addresses_asked(acme.adam))[-1] == ("erin", "PENDING", None)


async def test_p1_approving_a_taken_address_says_nothing_of_its_owner(
    world: World, acme: Acme
) -> None:
    request = await file(acme.bob, "shared@example.org")
    await world.sign_up("sam", email="shared@example.org")
    data: dict[str, Any] = await acme.alice(APPROVE, input={"requestId": request})
    (error,) = data["approveEmailChange"]["errors"]
    assert (error["code"], error["message"]) == ("CONFLICT", "That address cannot be used.")
    assert only_error(data["approveEmailChange"]) == "CONFLICT"
    assert (await emails_seen(acme.alice))["bob"] == "bob@acme.example"
