"""[P14] A token can do exactly what its scopes AND its owner's current roles allow.

The matrix: for every scope in the catalog, a representative operation succeeds with a token
granted only that scope, and is refused (FORBIDDEN, or null where a field hides) with a token
granted every other scope (but those that imply it: members:manage lets one read members)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from auth.scopes import IMPLIES, Scope, with_implied
from models import Role
from tests.support.world import Person, TeamRef, World
from tests.tokens.support import Bearer, bearer_for


@dataclass
class Scene:
    world: World
    alice: Person  # owner of Acme
    bob: Person  # member of Acme
    team: TeamRef
    bob_member_id: str


async def scene(world: World) -> Scene:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")
    team = await world.make_team(alice, "Acme", slug="acme")
    bob_member_id = await world.add_member(team, bob, Role.MEMBER)
    return Scene(world, alice, bob, team, bob_member_id)


def first_error(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def payload_codes(body: dict[str, Any], field: str) -> list[str]:
    return [error["code"] for error in body["data"][field]["errors"]]


# Each check runs one operation and answers True when it was allowed, False when refused.
Check = Callable[[Scene, Bearer], Awaitable[bool]]


async def users_read(s: Scene, client: Bearer) -> bool:
    body = await client.raw('{ viewer { id } user(username: "bob") { id } }')
    assert body["data"]["viewer"] is None or body["data"]["user"] is not None
    return body["data"]["viewer"] is not None


async def users_write(s: Scene, client: Bearer) -> bool:
    body = await client.raw(
        'mutation { updateProfile(input: {company: "Initech"}) { errors { code } } }'
    )
    return payload_codes(body, "updateProfile") == []


async def teams_read(s: Scene, client: Bearer) -> bool:
    body = await client.raw(
        'query($id: ID!) { team(slug: "acme") { members { edges { node { id } } } }'
        " node(id: $id) { id } }",
        id=s.bob_member_id,
    )
    if body["data"]["team"] is None:
        assert first_error(body) == "FORBIDDEN" and body["data"]["node"] is None
        return False
    assert body["data"]["node"] == {"id": s.bob_member_id}
    return True


async def teams_write(s: Scene, client: Bearer) -> bool:
    body = await client.raw(
        'mutation($id: ID!) { updateTeam(input: {teamId: $id, name: "Acme Inc"}) '
        "{ errors { code } } }",
        id=s.team.id,
    )
    return payload_codes(body, "updateTeam") == []


async def members_manage(s: Scene, client: Bearer) -> bool:
    body = await client.raw(
        "mutation($id: ID!) { changeMemberRole(input: {memberId: $id, role: BILLING}) "
        "{ errors { code } } }",
        id=s.bob_member_id,
    )
    listed = await client.raw('{ team(slug: "acme") { invitations { id } } }')
    allowed = payload_codes(body, "changeMemberRole") == []
    assert (listed["data"]["team"]["invitations"] is not None) == allowed
    return allowed


async def domains_read(s: Scene, client: Bearer) -> bool:
    body = await client.raw('{ team(slug: "acme") { domains { id } } }')
    return body["data"]["team"]["domains"] is not None


async def domains_write(s: Scene, client: Bearer) -> bool:
    body = await client.raw(
        'mutation($id: ID!) { addDomain(input: {teamId: $id, name: "acme-corp.org"}) '
        "{ errors { code } } }",
        id=s.team.id,
    )
    return payload_codes(body, "addDomain") == []


async def audit_read(s: Scene, client: Bearer) -> bool:
    body = await client.raw('{ team(slug: "acme") { auditEvents { edges { node { id } } } } }')
    if body["data"]["team"] is None:
        assert first_error(body) == "FORBIDDEN"
        return False
    return True


async def takeover_manage(s: Scene, client: Bearer) -> bool:
    body = await client.raw('{ team(slug: "acme") { takeovers { edges { node { id } } } } }')
    return body["data"]["team"]["takeovers"] is not None


async def managed_accounts_manage(s: Scene, client: Bearer) -> bool:
    body = await client.raw('{ team(slug: "acme") { managedAccounts { edges { cursor } } } }')
    return body["data"]["team"]["managedAccounts"] is not None


CHECKS: dict[Scope, Check] = {
    Scope.USERS_READ: users_read,
    Scope.USERS_WRITE: users_write,
    Scope.TEAMS_READ: teams_read,
    Scope.TEAMS_WRITE: teams_write,
    Scope.MEMBERS_MANAGE: members_manage,
    Scope.DOMAINS_READ: domains_read,
    Scope.DOMAINS_WRITE: domains_write,
    Scope.AUDIT_READ: audit_read,
    Scope.TAKEOVER_MANAGE: takeover_manage,
    Scope.MANAGED_ACCOUNTS_MANAGE: managed_accounts_manage,
}


def test_every_scope_in_the_catalog_has_a_check() -> None:
    assert set(CHECKS) == set(Scope)


@pytest.mark.parametrize("scope", list(Scope), ids=str)
async def test_p14_a_scope_allows_its_operations(world: World, scope: Scope) -> None:
    s = await scene(world)
    client = await bearer_for(world, s.alice, [str(scope)])
    assert await CHECKS[scope](s, client) is True


@pytest.mark.parametrize("scope", list(Scope), ids=str)
async def test_p14_without_a_scope_its_operations_are_refused(world: World, scope: Scope) -> None:
    s = await scene(world)
    others = [
        str(other)
        for other in Scope
        if other is not scope and scope not in IMPLIES.get(other, frozenset())
    ]
    client = await bearer_for(world, s.alice, others)
    assert await CHECKS[scope](s, client) is False


@pytest.mark.parametrize("scope", list(Scope), ids=str)
async def test_p14_a_cookie_session_holds_every_scope(world: World, scope: Scope) -> None:
    s = await scene(world)

    class Session(Bearer):
        def __init__(self) -> None:
            self.client = s.alice.client

        async def raw(self, query: str, **variables: Any) -> dict[str, Any]:
            return await self.client.raw(query, **variables)

    assert await CHECKS[scope](s, Session()) is True


def test_writing_implies_reading_what_is_written() -> None:
    assert with_implied(frozenset({Scope.MEMBERS_MANAGE})) == {
        Scope.MEMBERS_MANAGE,
        Scope.TEAMS_READ,
    }
    assert with_implied(frozenset({Scope.AUDIT_READ})) == {Scope.AUDIT_READ}
