"""GraphQL documents and steps shared by the takeover tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from api.relay import from_global_id
from core.db import session_factory
from models import Role, User
from tests.domains.flows import verified_domain
from tests.support.dns import Zone
from tests.support.world import Person, TeamRef, World

TAKEOVER_FIELDS = """
fragment TakeoverFields on Takeover {
  id domainName status noticeDays announcedAt effectiveAt completedAt cancelledAt
  affectedCount managedCount skippedCount
  domain { name } announcedBy { username }
}"""

PREVIEW = """
mutation Preview($input: PreviewTakeoverInput!) {
  previewTakeover(input: $input) {
    affectedCount
    accounts { edges { cursor node { id username email } } pageInfo { hasNextPage endCursor } }
    errors { code field message }
  }
}"""

ANNOUNCE = (
    """
mutation Announce($input: AnnounceTakeoverInput!) {
  announceTakeover(input: $input) { takeover { ...TakeoverFields } errors { code field message } }
}"""
    + TAKEOVER_FIELDS
)

CANCEL = (
    """
mutation Cancel($input: CancelTakeoverInput!) {
  cancelTakeover(input: $input) { takeover { ...TakeoverFields } errors { code field message } }
}"""
    + TAKEOVER_FIELDS
)

RELEASE = """
mutation Release($input: ReleaseManagedAccountsInput!) {
  releaseManagedAccounts(input: $input) { releasedCount errors { code field message } }
}"""

TEAM_TAKEOVERS = (
    """
query TeamTakeovers($slug: String!, $first: Int, $after: String) {
  team(slug: $slug) {
    takeovers(first: $first, after: $after) {
      edges { cursor node { ...TakeoverFields } } pageInfo { hasNextPage endCursor }
    }
  }
}"""
    + TAKEOVER_FIELDS
)

TAKEOVER_NODE = (
    """
query TakeoverNode($id: ID!) { node(id: $id) { __typename ... on Takeover { ...TakeoverFields } } }
"""
    + TAKEOVER_FIELDS
)

MY_NOTICES = """
query MyNotices($first: Int, $after: String, $unreadOnly: Boolean) {
  viewer {
    managedBy { name slug since domain team { slug viewerRole } }
    notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
      unreadCount
      edges { cursor node { id kind details createdAt readAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

MARK_READ = """
mutation MarkRead($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { markedCount errors { code field message } }
}"""

TRAIL = """
query Trail($slug: String!) {
  team(slug: $slug) {
    auditEvents(first: 50) { edges { node { action targetType targetId details } } }
  }
}"""


@dataclass
class Acme:
    """A team whose owner and admin use another domain, holding acme.example verified."""

    olga: Person
    adam: Person
    team: TeamRef
    domain: dict[str, Any]


async def acme(world: World, dns: Zone, name: str = "acme.example") -> Acme:
    olga = await world.sign_up("olga", email="olga@hq.example")
    adam = await world.sign_up("adam", email="adam@hq.example")
    team = await world.make_team(olga, name="Acme", slug="acme")
    await world.add_member(team, adam, Role.ADMIN)
    domain = await verified_domain(dns, adam, team, name)
    return Acme(olga=olga, adam=adam, team=team, domain=domain)


async def preview(person: Person, domain: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return (await person(PREVIEW, input={"domainId": domain["id"], **extra}))["previewTakeover"]


async def announce(person: Person, domain: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return (await person(ANNOUNCE, input={"domainId": domain["id"], **extra}))["announceTakeover"]


async def announced(person: Person, domain: dict[str, Any], **extra: Any) -> dict[str, Any]:
    payload = await announce(person, domain, **extra)
    assert payload["errors"] == [], payload["errors"]
    return payload["takeover"]


async def notices(person: Person, **variables: Any) -> dict[str, Any]:
    return (await person(MY_NOTICES, **variables))["viewer"]


def kinds(viewer: dict[str, Any]) -> list[str]:
    return [edge["node"]["kind"] for edge in viewer["notifications"]["edges"]]


async def trail(person: Person, slug: str = "acme") -> list[dict[str, Any]]:
    data = await person(TRAIL, slug=slug)
    return [edge["node"] for edge in data["team"]["auditEvents"]["edges"]]


def pk(global_id: str) -> int:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


async def set_managed(world: World, person: Person, team: TeamRef, domain: str) -> None:
    """Make an account managed by `team` directly (another team's takeover, long ago)."""
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(User)
            .where(User.id == pk(person.id))  # type: ignore[arg-type]
            .values(
                managed_by_team_id=team.pk,
                managed_since=datetime(2025, 1, 1, tzinfo=UTC),
                managed_domain=domain,
            )
        )
        await db.commit()
