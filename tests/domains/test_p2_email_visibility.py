"""[P2] Team owners and admins see a member's full email when it lies inside one of the team's
verified domains; otherwise only the user, or anyone once the user made it public [P1]."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from models import Role
from tests.domains.flows import add_domain, verified_domain
from tests.support.dns import Zone
from tests.support.world import Person, TeamRef, World

USER = "query($username: String!) { user(username: $username) { username email } }"

NODE = "query($id: ID!) { node(id: $id) { ... on User { username email } } }"

MEMBERS = """
query($slug: String!) {
  team(slug: $slug) { members(first: 50) { edges { node { user { username email } } } } }
}"""

CONTACTS = "query($slug: String!) { team(slug: $slug) { contacts { user { username email } } } }"

DASHBOARD_50 = """
query Dashboard($slug: String!) {
  team(slug: $slug) {
    members(first: 50) { edges { node { role user { id username displayName email } } } }
  }
}"""
DASHBOARD_5 = DASHBOARD_50.replace("first: 50", "first: 5")

PUBLISH_EMAIL = """
mutation { updateProfile(input: {emailPublic: true}) { errors { code } } }"""


@dataclass
class Acme:
    """Acme verified acme.example. Rival verified rival.example; Mia belongs to both."""

    team: TeamRef
    olga: Person  # owner, olga@acme.example
    adam: Person  # admin, adam@acme.example
    bill: Person  # billing, bill@acme.example
    mia: Person  # member, mia@acme.example (private)
    otto: Person  # member, otto@elsewhere.example (private)
    pub: Person  # member, pub@elsewhere.example (public)
    eve: Person  # Rival's owner
    kim: Person  # kim@rival.example, in Acme but not in Rival


@pytest.fixture
async def acme(world: World, dns: Zone) -> Acme:
    people = {
        name: await world.sign_up(name, email=f"{name}@{domain}")
        for name, domain in (
            ("olga", "acme.example"),
            ("adam", "acme.example"),
            ("bill", "acme.example"),
            ("mia", "acme.example"),
            ("otto", "elsewhere.example"),
            ("pub", "elsewhere.example"),
            ("eve", "rival.example"),
            ("kim", "rival.example"),
        )
    }
    team = await world.make_team(people["olga"], name="Acme", slug="acme")
    for name, role in (
        ("adam", Role.ADMIN),
        ("bill", Role.BILLING),
        ("mia", Role.MEMBER),
        ("otto", Role.MEMBER),
        ("pub", Role.MEMBER),
        ("kim", Role.MEMBER),
    ):
        await world.add_member(team, people[name], role)
    await people["pub"](PUBLISH_EMAIL)
    await verified_domain(dns, people["olga"], team, "acme.example")
    rival = await world.make_team(people["eve"], name="Rival", slug="rival")
    await world.add_member(rival, people["mia"], Role.MEMBER)
    await verified_domain(dns, people["eve"], rival, "rival.example")
    return Acme(team=team, **people)


async def email_of(viewer: Person, subject: Person) -> str | None:
    found = (await viewer(USER, username=subject.username))["user"]
    assert found is not None
    return found["email"]


async def test_p2_users_always_see_their_own_email(acme: Acme) -> None:
    assert await email_of(acme.mia, acme.mia) == "mia@acme.example"


async def test_p2_a_public_email_is_seen_by_anyone_signed_in(acme: Acme) -> None:
    assert await email_of(acme.eve, acme.pub) == "pub@elsewhere.example"


async def test_p2_owners_and_admins_see_emails_inside_the_teams_verified_domain(
    acme: Acme,
) -> None:
    for manager in (acme.olga, acme.adam):
        assert await email_of(manager, acme.mia) == "mia@acme.example"
        members = (await manager(MEMBERS, slug="acme"))["team"]["members"]["edges"]
        emails = {
            edge["node"]["user"]["username"]: edge["node"]["user"]["email"] for edge in members
        }
        assert emails == {
            "olga": "olga@acme.example",
            "adam": "adam@acme.example",
            "bill": "bill@acme.example",
            "mia": "mia@acme.example",
            "otto": None,
            "pub": "pub@elsewhere.example",
            "kim": None,
        }, manager.username
        node = (await manager(NODE, id=acme.mia.id))["node"]
        assert node == {"username": "mia", "email": "mia@acme.example"}


async def test_p2_plain_members_and_billing_admins_do_not(acme: Acme) -> None:
    for viewer in (acme.otto, acme.bill):
        assert await email_of(viewer, acme.mia) is None, viewer.username
        contacts = (await viewer(CONTACTS, slug="acme"))["team"]["contacts"]
        others = {
            c["user"]["username"]: c["user"]["email"]
            for c in contacts
            if c["user"]["username"] != viewer.username
        }
        assert {"olga", "adam"} <= set(others)
        assert set(others.values()) == {None}


async def test_p2_emails_outside_the_domain_stay_private_from_admins(acme: Acme) -> None:
    assert await email_of(acme.adam, acme.otto) is None
    assert await email_of(acme.olga, acme.kim) is None


async def test_p2_another_teams_admin_sees_only_what_its_own_domains_allow(
    acme: Acme,
) -> None:
    # Mia is in Rival too, but her address is not in Rival's domain; Kim's address is in
    # Rival's domain, but Kim is not in Rival.
    assert await email_of(acme.eve, acme.mia) is None
    assert await email_of(acme.eve, acme.kim) is None


async def test_p2_anonymous_callers_see_no_user_at_all(world: World, acme: Acme) -> None:
    anonymous = world.client()

    for subject in (acme.mia, acme.pub):
        assert (await anonymous(USER, username=subject.username))["user"] is None
        assert (await anonymous(NODE, id=subject.id))["node"] is None


async def test_p2_a_pending_domain_reveals_nothing(world: World, acme: Acme) -> None:
    nina = await world.sign_up("nina", email="nina@pending.example")
    await world.add_member(acme.team, nina, Role.MEMBER)
    await add_domain(acme.adam, acme.team, "pending.example")

    assert await email_of(acme.adam, nina) is None


async def test_p2_the_admins_view_ends_when_the_domain_lapses(world: World, acme: Acme) -> None:
    world.clock.advance(days=7)  # no re-check succeeded: verifiedUntil has passed

    assert await email_of(acme.adam, acme.mia) is None
    assert await email_of(acme.adam, acme.adam) == "adam@acme.example"


async def test_p2_domain_visibility_costs_no_statement_per_member(world: World, dns: Zone) -> None:
    olga = await world.sign_up("olga", email="olga@acme.example", verified=False)
    team = await world.make_team(olga, name="Acme", slug="acme")
    await verified_domain(dns, olga, team, "acme.example")
    for number in range(60):
        domain = "acme.example" if number % 2 else "elsewhere.example"
        person = await world.sign_up(
            f"member{number:02d}", email=f"m{number}@{domain}", verified=False
        )
        await world.add_member(team, person, Role.MEMBER if number % 3 else Role.ADMIN)
    await olga(DASHBOARD_5, slug="acme")  # warm caches shared by both shapes

    with world.count_statements() as five:
        small = await olga(DASHBOARD_5, slug="acme")
    with world.count_statements() as fifty:
        large = await olga(DASHBOARD_50, slug="acme")

    emails = [edge["node"]["user"]["email"] for edge in large["team"]["members"]["edges"]]
    assert len(small["team"]["members"]["edges"]) == 5 and len(emails) == 50
    assert emails[1:5] == [None, "m1@acme.example", None, "m3@acme.example"]
    assert fifty.count == five.count, (five.statements, fifty.statements)
    assert five.count <= 4, five.statements
