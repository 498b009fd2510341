"""Personal access tokens: created from a session, shown once, listed without the secret,
revoked at once; only a keyed hash is stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from auth import token_format
from core.db import session_factory
from models import ApiToken, AuditEvent
from tests.support.world import World
from tests.tokens.support import CREATE_TOKEN, REVOKE_TOKEN, Bearer, create_token

MY_TOKENS = """
{ viewer { personalAccessTokens(first: 10) {
    edges { node { id name scopes hint createdAt expiresAt lastUsedAt revokedAt } }
    pageInfo { hasNextPage }
} } }"""

VIEWER = "{ viewer { id username } }"


async def test_a_token_is_shown_once_and_stored_only_as_a_keyed_hash(world: World) -> None:
    alice = await world.sign_up("alice")
    token, token_id = await create_token(alice, ["users:read", "teams:read"], name="laptop")
    assert token.startswith("owp_") and len(token) == 4 + 36
    assert token_format.parse(token) is token_format.TokenKind.PERSONAL
    listed = (await alice(MY_TOKENS))["viewer"]["personalAccessTokens"]["edges"]
    assert [edge["node"]["id"] for edge in listed] == [token_id]
    node = listed[0]["node"]
    assert node["name"] == "laptop" and node["scopes"] == ["teams:read", "users:read"]
    assert node["hint"] == token[:8] and node["lastUsedAt"] is None
    assert token not in str(listed)
    async with session_factory(world.engine)() as db:
        row = (await db.execute(select(ApiToken))).scalar_one()
        assert token not in (row.token_hash, row.hint, row.name)
        assert len(row.token_hash) == 64
        actions = (await db.execute(select(AuditEvent.action))).scalars().all()
    assert "token.created" in actions
    assert (await Bearer(world, token)(VIEWER))["viewer"]["username"] == "alice"


async def test_last_used_is_recorded_but_coalesced(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"])
    client = Bearer(world, token)
    await client(VIEWER)
    first = (await alice(MY_TOKENS))["viewer"]["personalAccessTokens"]["edges"][0]["node"]
    assert first["lastUsedAt"] is not None
    world.clock.advance(timedelta(minutes=1))
    with world.count_statements() as counter:
        await client(VIEWER)
    # The token lookup and the rate counter: no last-used write within five minutes.
    assert not any("UPDATE api_token" in s for s in counter.statements), counter.statements
    again = (await alice(MY_TOKENS))["viewer"]["personalAccessTokens"]["edges"][0]["node"]
    assert again["lastUsedAt"] == first["lastUsedAt"]
    world.clock.advance(timedelta(minutes=5))
    await client(VIEWER)
    later = (await alice(MY_TOKENS))["viewer"]["personalAccessTokens"]["edges"][0]["node"]
    assert later["lastUsedAt"] > first["lastUsedAt"]


async def test_revocation_takes_effect_on_the_next_request(world: World) -> None:
    alice = await world.sign_up("alice")
    token, token_id = await create_token(alice, ["users:read"])
    client = Bearer(world, token)
    assert (await client(VIEWER))["viewer"]
    revoked = (await alice(REVOKE_TOKEN, id=token_id))["revokePersonalAccessToken"]
    assert revoked["errors"] == [] and revoked["personalAccessToken"]["revokedAt"]
    response = await client.post(VIEWER)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_using_a_revoked_token_is_audited_without_flooding(world: World) -> None:
    alice = await world.sign_up("alice")
    token, token_id = await create_token(alice, ["users:read"])
    client = Bearer(world, token)
    await client(VIEWER)
    await alice(REVOKE_TOKEN, id=token_id)
    for _ in range(5):
        assert (await client.post(VIEWER)).status_code == 401
    async with session_factory(world.engine)() as db:
        used = (
            (await db.execute(select(AuditEvent).where(AuditEvent.action == "token.revoked_used")))
            .scalars()
            .all()
        )
    assert len(used) == 1
    assert used[0].target_type == "api_token" and used[0].ip_address == "127.0.0.1"
    world.clock.advance(timedelta(hours=2))
    assert (await client.post(VIEWER)).status_code == 401
    async with session_factory(world.engine)() as db:
        count = len(
            (
                await db.execute(
                    select(AuditEvent.id).where(AuditEvent.action == "token.revoked_used")
                )
            ).all()
        )
    assert count == 2


async def test_someone_elses_token_cannot_be_revoked(world: World) -> None:
    alice = await world.sign_up("alice")
    mallory = await world.sign_up("mallory")
    token, token_id = await create_token(alice, ["users:read"])
    result = (await mallory(REVOKE_TOKEN, id=token_id))["revokePersonalAccessToken"]
    assert [error["code"] for error in result["errors"]] == ["NOT_FOUND"]
    assert (await Bearer(world, token)(VIEWER))["viewer"]["username"] == "alice"


async def test_expired_tokens_are_refused(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"], days=1)
    client = Bearer(world, token)
    assert (await client(VIEWER))["viewer"]
    world.clock.advance(timedelta(days=1, seconds=1))
    response = await client.post(VIEWER)
    assert response.status_code == 401 and "www-authenticate" in response.headers


async def test_expiry_is_required_and_at_most_a_year(world: World) -> None:
    alice = await world.sign_up("alice")
    now = world.clock.now()
    cases = [
        ({"scopes": ["users:read"]}, "expiresAt"),
        ({"scopes": ["users:read"], "expiresInDays": 366}, "expiresInDays"),
        ({"scopes": ["users:read"], "expiresInDays": 0}, "expiresInDays"),
        (
            {"scopes": ["users:read"], "expiresAt": (now + timedelta(days=400)).isoformat()},
            "expiresAt",
        ),
        (
            {"scopes": ["users:read"], "expiresAt": (now - timedelta(days=1)).isoformat()},
            "expiresAt",
        ),
        ({"scopes": ["users:read", "root:all"], "expiresInDays": 5}, "scopes"),
        ({"scopes": [], "expiresInDays": 5}, "scopes"),
    ]
    for extra, field in cases:
        payload = (await alice(CREATE_TOKEN, input={"name": "x", **extra}))[
            "createPersonalAccessToken"
        ]
        assert payload["token"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", field)]
    ok = (
        await alice(
            CREATE_TOKEN,
            input={
                "name": "x",
                "scopes": ["users:read"],
                "expiresAt": (now + timedelta(days=365)).isoformat(),
            },
        )
    )["createPersonalAccessToken"]
    assert ok["errors"] == [] and ok["token"]


async def test_tokens_cannot_mint_list_or_revoke_tokens(world: World) -> None:
    alice = await world.sign_up("alice")
    token, token_id = await create_token(alice, ["users:read", "users:write", "teams:write"])
    client = Bearer(world, token)
    created = (
        await client(
            CREATE_TOKEN, input={"name": "y", "scopes": ["users:read"], "expiresInDays": 1}
        )
    )["createPersonalAccessToken"]
    assert created["token"] is None
    assert [e["code"] for e in created["errors"]] == ["FORBIDDEN"]
    revoked = (await client(REVOKE_TOKEN, id=token_id))["revokePersonalAccessToken"]
    assert [e["code"] for e in revoked["errors"]] == ["FORBIDDEN"]
    listed = await client.raw("{ viewer { personalAccessTokens { edges { node { id } } } } }")
    assert listed["data"]["viewer"] is None
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
