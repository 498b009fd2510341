"""GraphQL documents and steps shared by the domain tests."""

from __future__ import annotations

from typing import Any

from models import Role
from tests.support.dns import Zone
from tests.support.world import Person, TeamRef, World

DOMAIN_FIELDS = """
fragment DomainFields on Domain {
  id name unicodeName status enrollment token tokenExpiresAt
  txtRecord { name value }
  verifiedAt verifiedUntil
  lastCheck { at ok message }
}"""

ADD_DOMAIN = (
    """
mutation AddDomain($input: AddDomainInput!) {
  addDomain(input: $input) { domain { ...DomainFields } errors { __typename code field message } }
}"""
    + DOMAIN_FIELDS
)

VERIFY_DOMAIN = (
    """
mutation VerifyDomain($input: DomainIdInput!) {
  verifyDomain(input: $input) {
    domain { ...DomainFields }
    errors { __typename code field message ... on RateLimitedError { retryAfterSeconds } }
  }
}"""
    + DOMAIN_FIELDS
)

REMOVE_DOMAIN = """
mutation RemoveDomain($input: DomainIdInput!) {
  removeDomain(input: $input) { removedId errors { __typename code field message } }
}"""

SET_ENROLLMENT = (
    """
mutation SetEnrollment($input: SetDomainEnrollmentInput!) {
  setDomainEnrollment(input: $input) {
    domain { ...DomainFields } errors { __typename code field message }
  }
}"""
    + DOMAIN_FIELDS
)

TEAM_DOMAINS = (
    """
query TeamDomains($slug: String!) {
  team(slug: $slug) { domains { ...DomainFields } }
}"""
    + DOMAIN_FIELDS
)

DOMAIN_NODE = (
    """
query DomainNode($id: ID!) { node(id: $id) { __typename ... on Domain { ...DomainFields } } }
"""
    + DOMAIN_FIELDS
)


async def add_domain(person: Person, team: TeamRef, name: str) -> dict[str, Any]:
    data = await person(ADD_DOMAIN, input={"teamId": team.id, "name": name})
    payload = data["addDomain"]
    assert payload["errors"] == [], payload["errors"]
    return payload["domain"]


async def verify(person: Person, domain: dict[str, Any]) -> dict[str, Any]:
    data = await person(VERIFY_DOMAIN, input={"domainId": domain["id"]})
    return data["verifyDomain"]


def publish(dns: Zone, domain: dict[str, Any], *, at_apex: bool = False) -> None:
    record = domain["txtRecord"]
    dns.publish(domain["name"] if at_apex else record["name"], record["value"])


def unpublish(dns: Zone, domain: dict[str, Any]) -> None:
    dns.remove(domain["txtRecord"]["name"])
    dns.remove(domain["name"])


async def verified_domain(
    dns: Zone, person: Person, team: TeamRef, name: str, enrollment: str | None = None
) -> dict[str, Any]:
    """A domain the team added, published and verified (and set to `enrollment`)."""
    domain = await add_domain(person, team, name)
    publish(dns, domain)
    payload = await verify(person, domain)
    assert payload["domain"]["status"] == "VERIFIED", payload
    if enrollment is not None:
        data = await person(
            SET_ENROLLMENT, input={"domainId": domain["id"], "enrollment": enrollment}
        )
        assert data["setDomainEnrollment"]["errors"] == []
        return data["setDomainEnrollment"]["domain"]
    return payload["domain"]


async def team_with_admin(
    world: World, owner_name: str = "olga", admin_name: str = "adam"
) -> tuple[Person, Person, TeamRef]:
    owner = await world.sign_up(owner_name, email=f"{owner_name}@acme.example")
    admin = await world.sign_up(admin_name, email=f"{admin_name}@acme.example")
    team = await world.make_team(owner, name="Acme", slug="acme")
    await world.add_member(team, admin, Role.ADMIN)
    return owner, admin, team
