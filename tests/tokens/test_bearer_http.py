"""Bearer authentication over HTTP: 401 with a challenge, GET for queries only, no CSRF
origin rule, a checksum that refuses typos before any database work, per-token rate limits."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event

from api.app import create_app
from auth import bearer, token_format, token_rate
from tests.support.client import ORIGIN
from tests.support.world import StatementCounter, World
from tests.tokens.support import Bearer, bearer_for, create_token

VIEWER = "{ viewer { id username } }"


def test_the_token_lookup_row_names_the_tokens_columns() -> None:
    # auth/bearer.authenticate reads them by name; a clash with the user's columns that
    # follow (only `id`) renames the later one, never the token's.
    fields = bearer.FIND_TOKEN.row_type._fields
    assert fields[: len(bearer._COLUMNS)] == tuple(c.key for c in bearer._COLUMNS)
    assert fields.count("id") == 1 and fields[0] == "id"


async def test_a_mistyped_token_is_refused_before_any_database_work(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"])
    mistyped = token[:10] + ("x" if token[10] != "x" else "y") + token[11:]
    assert token_format.parse(mistyped) is None
    client = Bearer(world, mistyped)
    with world.count_statements() as counter:
        response = await client.post(VIEWER)
    assert response.status_code == 401
    assert counter.count == 0, counter.statements
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="orgward"') and 'error="invalid_token"' in challenge


async def test_authenticating_costs_one_lookup_and_at_most_one_write(world: World) -> None:
    alice = await world.sign_up("alice")
    client = await bearer_for(world, alice, ["users:read"])
    side = StatementCounter()
    side_engine = world.app.state.orgward.side_engine.sync_engine
    event.listen(side_engine, "before_cursor_execute", side)
    try:
        with world.count_statements() as first:
            await client(VIEWER)  # takes a lease of the rate limit and records last-used
        taken = list(side.statements)
        with world.count_statements() as leased:
            await client(VIEWER)  # served from the lease: no write at all
        served = side.statements[len(taken) :]
    finally:
        event.remove(side_engine, "before_cursor_execute", side)
    assert [s.split()[0] for s in first.statements] == ["SELECT"]  # token, owner, installation
    assert [s.split()[0] for s in taken] == ["INSERT", "UPDATE"]  # counter, last-used
    assert [s.split()[0] for s in leased.statements] == ["SELECT"]
    assert served == []


async def test_requests_that_find_the_lease_spent_share_the_next_one(world: World) -> None:
    state = world.app.state.orgward
    side = StatementCounter()
    event.listen(state.side_engine.sync_engine, "before_cursor_execute", side)
    try:
        # Eight requests of one token arrive together with no lease left (600 a minute: leases
        # of 12): the first takes the next lease, the others wait for it and share it.
        await asyncio.gather(
            *(
                token_rate.spend(
                    state.side_engine,
                    state.token_leases,
                    token_id=41,
                    limit=600,
                    now=world.clock.now(),
                    touch=False,
                )
                for _ in range(8)
            )
        )
    finally:
        event.remove(state.side_engine.sync_engine, "before_cursor_execute", side)
    assert [s.split()[0] for s in side.statements] == ["INSERT"]
    assert state.token_leases.take(41, world.clock.now())  # 12 - 8 = 4 left


async def test_unknown_tokens_get_401_with_a_challenge(world: World) -> None:
    client = Bearer(world, token_format.new_token(token_format.TokenKind.PERSONAL))
    response = await client.post(VIEWER)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_bearer_queries_may_use_get_but_mutations_may_not(world: World) -> None:
    alice = await world.sign_up("alice")
    client = await bearer_for(world, alice, ["users:read", "users:write"])
    query = await client.http.get("/graphql", params={"query": VIEWER})
    assert query.status_code == 200 and query.json()["data"]["viewer"]["username"] == "alice"
    mutation = await client.http.get(
        "/graphql",
        params={"query": 'mutation { updateProfile(input: {company: "X"}) { errors { code } } }'},
    )
    assert mutation.status_code in (400, 405)
    assert (await alice("{ viewer { company } }"))["viewer"]["company"] is None


async def test_bearer_requests_are_exempt_from_the_cookie_origin_check(world: World) -> None:
    alice = await world.sign_up("alice")
    client = await bearer_for(world, alice, ["users:write"])
    response = await client.http.post(
        "/graphql",
        json={"query": 'mutation { updateProfile(input: {company: "X"}) { errors { code } } }'},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["updateProfile"]["errors"] == []
    # The same request with the cookie instead is refused.
    refused = await alice.client.http.post(
        "/graphql",
        json={"query": 'mutation { updateProfile(input: {company: "Y"}) { errors { code } } }'},
        headers={"origin": "https://evil.example"},
    )
    assert refused.status_code == 403


async def test_a_bearer_header_wins_over_the_session_cookie(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["teams:read"])
    response = await alice.client.http.post(
        "/graphql",
        json={"query": "{ viewer { id } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    # The cookie would show the viewer; the token (no users:read) does not.
    assert response.status_code == 200 and response.json()["data"]["viewer"] is None


def _limited_app(world: World, **overrides: object):  # type: ignore[no-untyped-def]
    settings = world.settings.model_copy(update={"token_rate_per_minute": 3, **overrides})
    return create_app(
        settings, engine=world.engine, clock=world.clock, run_worker=False, apply_migrations=False
    )


async def _rate_limit_scenario(world: World, app: object) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"])
    client = Bearer(world, token, app=app)
    for _ in range(3):
        assert (await client.post(VIEWER)).status_code == 200
    limited = await client.post(VIEWER)
    assert limited.status_code == 429
    retry = int(limited.headers["retry-after"])
    assert 1 <= retry <= 60
    error = limited.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfterSeconds": retry}
    # Another token of the same user has its own allowance.
    other = Bearer(world, (await create_token(alice, ["users:read"]))[0], app=app)
    assert (await other.post(VIEWER)).status_code == 200
    world.clock.advance(timedelta(seconds=retry))
    assert (await client.post(VIEWER)).status_code == 200


async def test_a_token_over_its_rate_limit_is_told_when_to_retry(world: World) -> None:
    await _rate_limit_scenario(world, _limited_app(world))


def _redis_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_running(), reason="no Redis at 127.0.0.1:6379")
async def test_rate_limits_can_live_in_redis(world: World) -> None:
    app = _limited_app(world, redis_url="redis://127.0.0.1:6379/15")
    state = app.state.orgward
    assert state.redis is not None
    await state.redis.flushdb()
    try:
        await _rate_limit_scenario(world, app)
    finally:
        await state.redis.flushdb()
        await state.redis.aclose()


async def test_rate_limited_export_answers_429(world: World) -> None:
    alice = await world.sign_up("alice")
    await world.make_team(alice, "Acme", slug="acme")
    token, _ = await create_token(alice, ["audit:read"])
    app = _limited_app(world)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=ORIGIN,
        headers={"authorization": f"Bearer {token}"},
    ) as http:
        statuses = [
            (await http.get("/teams/acme/audit-events.jsonl")).status_code for _ in range(4)
        ]
    assert statuses == [200, 200, 200, 429]
