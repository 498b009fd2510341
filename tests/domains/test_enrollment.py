"""Domain enrollment (SPEC 2): `suggest` offers the team to users of the domain, `auto_join`
makes them members when their address is verified."""

from __future__ import annotations

from models import Role
from tests.domains.flows import team_with_admin, unpublish, verified_domain
from tests.support.dns import Zone
from tests.support.world import Person, World

SUGGESTED = "query { viewer { suggestedTeams { teamId slug name domain } } }"

MY_TEAMS = "query { viewer { teams { edges { node { slug viewerRole } } } } }"

JOIN = """
mutation Join($input: JoinSuggestedTeamInput!) {
  joinSuggestedTeam(input: $input) {
    member { role user { username } }
    errors { __typename code field message }
  }
}"""

INVITE = """
mutation Invite($input: InviteMemberInput!) {
  inviteMember(input: $input) { invitation { id } errors { code } }
}"""

ACCEPT = """
mutation Accept($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) { member { role } errors { code message } }
}"""

TRAIL = """
query($slug: String!) {
  team(slug: $slug) {
    auditEvents(first: 50) { edges { node { action actor { username } details } } }
  }
}"""


async def suggested(person: Person) -> list[dict]:
    return (await person(SUGGESTED))["viewer"]["suggestedTeams"]


async def my_teams(person: Person) -> dict[str, str]:
    edges = (await person(MY_TEAMS))["viewer"]["teams"]["edges"]
    return {edge["node"]["slug"]: edge["node"]["viewerRole"] for edge in edges}


async def join(person: Person, team_id: str) -> dict:
    return (await person(JOIN, input={"teamId": team_id}))["joinSuggestedTeam"]


# --- suggest --------------------------------------------------------------------------------


async def test_a_user_of_a_suggesting_domain_is_offered_the_team_and_joins_it(
    world: World, dns: Zone
) -> None:
    olga, _, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "acme.example", enrollment="SUGGEST")
    bob = await world.sign_up("bob", email="bob@acme.example")

    offers = await suggested(bob)
    joined = await join(bob, offers[0]["teamId"])

    assert offers == [{"teamId": team.id, "slug": "acme", "name": "Acme", "domain": "acme.example"}]
    assert joined == {"member": {"role": "MEMBER", "user": {"username": "bob"}}, "errors": []}
    assert await my_teams(bob) == {"acme": "MEMBER"}
    assert await suggested(bob) == []
    newest = (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"][0]["node"]
    assert newest["action"] == "member.joined_by_domain"
    assert newest["actor"] == {"username": "bob"}
    assert newest["details"]["via"] == "suggestion"
    assert newest["details"]["domain"] == "acme.example"


async def test_joining_twice_is_a_conflict(world: World, dns: Zone) -> None:
    olga, _, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "acme.example", enrollment="SUGGEST")
    bob = await world.sign_up("bob", email="bob@acme.example")
    await join(bob, team.id)

    again = await join(bob, team.id)

    assert [(e["code"], e["field"]) for e in again["errors"]] == [("CONFLICT", "teamId")]


async def test_suggest_is_for_verified_addresses_inside_the_domain_only(
    world: World, dns: Zone
) -> None:
    olga, _, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "acme.example", enrollment="SUGGEST")
    unverified = await world.sign_up("carl", email="carl@acme.example", verified=False)
    outsider = await world.sign_up("dora", email="dora@other.example")
    subdomain = await world.sign_up("emil", email="emil@eng.acme.example")

    for person in (unverified, outsider, subdomain):
        assert await suggested(person) == [], person.username
        errors = (await join(person, team.id))["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", "teamId")]
        assert await my_teams(person) == {}


async def test_no_offer_while_enrollment_is_off_or_the_domain_is_pending(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "acme.example")  # enrollment OFF
    bob = await world.sign_up("bob", email="bob@acme.example")

    assert await suggested(bob) == []
    assert [e["code"] for e in (await join(bob, team.id))["errors"]] == ["NOT_FOUND"]


async def test_the_offer_ends_when_the_domain_lapses(world: World, dns: Zone) -> None:
    olga, _, team = await team_with_admin(world)
    domain = await verified_domain(dns, olga, team, "acme.example", enrollment="SUGGEST")
    bob = await world.sign_up("bob", email="bob@acme.example")
    assert len(await suggested(bob)) == 1
    unpublish(dns, domain)

    world.clock.advance(days=7)  # past verifiedUntil, before any worker ran

    assert await suggested(bob) == []
    assert [e["code"] for e in (await join(bob, team.id))["errors"]] == ["NOT_FOUND"]


async def test_internationalized_domains_match_the_users_address(world: World, dns: Zone) -> None:
    olga, _, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "bücher.example", enrollment="SUGGEST")
    bea = await world.sign_up("bea", email="bea@bücher.example")

    assert [offer["domain"] for offer in await suggested(bea)] == ["bücher.example"]


# --- auto-join ------------------------------------------------------------------------------


async def test_auto_join_makes_a_user_a_member_when_their_address_is_verified(
    world: World, dns: Zone
) -> None:
    olga, _, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "acme.example", enrollment="AUTO_JOIN")

    unverified = await world.sign_up("erin", email="erin@acme.example", verified=False)
    fred = await world.sign_up("fred", email="fred@acme.example")  # verified by the link

    assert await my_teams(unverified) == {}
    assert await my_teams(fred) == {"acme": "MEMBER"}
    assert await suggested(fred) == []
    newest = (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"][0]["node"]
    assert newest["action"] == "member.joined_by_domain"
    assert newest["actor"] == {"username": "fred"}
    assert newest["details"]["via"] == "auto_join"


async def test_auto_join_teams_are_offered_to_users_verified_before_it_was_on(
    world: World, dns: Zone
) -> None:
    olga, _, team = await team_with_admin(world)
    bob = await world.sign_up("bob", email="bob@acme.example")
    await verified_domain(dns, olga, team, "acme.example", enrollment="AUTO_JOIN")

    assert [offer["slug"] for offer in await suggested(bob)] == ["acme"]
    assert (await join(bob, team.id))["errors"] == []


async def test_an_accepted_invitation_to_the_auto_join_team_keeps_its_role(
    world: World, dns: Zone
) -> None:
    olga, _, team = await team_with_admin(world)
    await verified_domain(dns, olga, team, "acme.example", enrollment="AUTO_JOIN")
    await olga(INVITE, input={"teamId": team.id, "email": "gina@acme.example", "role": "ADMIN"})
    await world.deliver_mail()
    token = world.mailbox.token_in("gina@acme.example", "invitation")
    gina = await world.sign_up("gina", email="gina@acme.example", verified=False)

    accepted = (await gina(ACCEPT, input={"token": token}))["acceptInvitation"]

    assert accepted == {"member": {"role": "ADMIN"}, "errors": []}
    assert await my_teams(gina) == {"acme": "ADMIN"}


async def test_an_invitation_elsewhere_verifies_the_address_and_auto_joins_too(
    world: World, dns: Zone
) -> None:
    olga, _, acme = await team_with_admin(world)
    await verified_domain(dns, olga, acme, "acme.example", enrollment="AUTO_JOIN")
    pat = await world.sign_up("pat")
    beta = await world.make_team(pat, name="Beta", slug="beta")
    await pat(INVITE, input={"teamId": beta.id, "email": "hugo@acme.example", "role": "BILLING"})
    await world.deliver_mail()
    token = world.mailbox.token_in("hugo@acme.example", "invitation")
    hugo = await world.sign_up("hugo", email="hugo@acme.example", verified=False)

    await hugo(ACCEPT, input={"token": token})

    assert await my_teams(hugo) == {"beta": "BILLING", "acme": "MEMBER"}


async def test_members_already_in_the_team_are_left_as_they_are(world: World, dns: Zone) -> None:
    olga, _, team = await team_with_admin(world)
    ivy = await world.sign_up("ivy", email="ivy@acme.example", verified=False)
    await world.add_member(team, ivy, Role.BILLING)
    await verified_domain(dns, olga, team, "acme.example", enrollment="AUTO_JOIN")
    await world.deliver_mail()

    await ivy(
        "mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }",
        t=world.mailbox.token_in("ivy@acme.example", "verify_email"),
    )

    assert await my_teams(ivy) == {"acme": "BILLING"}
