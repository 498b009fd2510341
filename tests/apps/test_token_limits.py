"""POST /oauth/token under abuse: failed authentications slow the caller's address down but never
lock the partner out, and successful requests are limited per installation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import session_factory
from models import ApiToken, AuditEvent, Throttle
from tests.apps.flows import Credentials, Partner, installed, register_app
from tests.support.world import World

GRANT = {"grant_type": "client_credentials", "team": "acme"}


async def _acme_app(world: World) -> Credentials:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    return app


def _unavailable(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["retry-after"])


async def test_nobody_can_lock_a_partner_out_by_failing_on_its_client_id(world: World) -> None:
    app = await _acme_app(world)
    attacker = Partner(world, address="127.0.0.9")
    wrong = (app.client_id, "ows_" + "w" * 40)
    for _ in range(world.settings.signin_max_failures * world.settings.signin_ip_factor + 3):
        response = await attacker.token_request(GRANT, basic=wrong)
        assert response.status_code in (401, 429)
    # The attacker's own address is slowed down...
    assert _unavailable(await attacker.token_request(GRANT, basic=wrong)) >= 1
    # ...but the right secret always works: from the partner's address, and even from the
    # attacker's (the secrets are far too long to guess, so there is nothing to protect).
    partner = Partner(world)
    assert (
        await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    ).status_code == 200
    correct = await attacker.token_request(GRANT, basic=(app.client_id, app.secret))
    assert correct.status_code == 200


async def test_unknown_client_ids_cost_what_known_ones_cost_and_leave_one_throttle_row(
    world: World,
) -> None:
    app = await _acme_app(world)
    partner = Partner(world)

    async def statements(client_id: str) -> list[str]:
        with world.count_statements() as counter:
            response = await partner.token_request(GRANT, basic=(client_id, "ows_" + "w" * 40))
        assert response.status_code == 401
        return counter.statements

    known = await statements(app.client_id)
    for number in range(5):
        assert await statements(f"owc_{number:024d}") == known
    async with session_factory(world.engine)() as db:
        keys = (await db.execute(select(Throttle.key))).scalars().all()
    assert keys == ["oauth:address:127.0.0.1"]


async def test_token_issuance_is_limited_per_installation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.settings, "installation_tokens_per_hour", 3)
    app = await _acme_app(world)
    partner = Partner(world)
    basic = (app.client_id, app.secret)
    for _ in range(3):
        assert (await partner.token_request(GRANT, basic=basic)).status_code == 200
        world.clock.advance(timedelta(minutes=10))
    # The first of the three was issued 30 minutes ago: it leaves the window in 30 minutes.
    assert _unavailable(await partner.token_request(GRANT, basic=basic)) == 30 * 60
    async with session_factory(world.engine)() as db:
        assert len((await db.execute(select(ApiToken))).scalars().all()) == 3
    world.clock.advance(timedelta(minutes=30, seconds=1))
    assert (await partner.token_request(GRANT, basic=basic)).status_code == 200


async def test_a_new_token_beyond_the_live_cap_supersedes_the_oldest(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.settings, "installation_live_tokens", 2)
    app = await _acme_app(world)
    partner = Partner(world)
    tokens = [await partner.token(app, team="acme") for _ in range(3)]
    async with session_factory(world.engine)() as db:
        rows = (await db.execute(select(ApiToken).order_by(ApiToken.id))).scalars().all()
        issued = (
            (
                await db.execute(
                    select(AuditEvent)
                    .where(AuditEvent.action == "installation.token_issued")
                    .order_by(AuditEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert [row.revoked_reason for row in rows] == ["superseded", None, None]
    assert [event.details["superseded"] for event in issued] == [0, 0, 1]
    query = '{ team(slug: "acme") { slug } }'
    assert (await partner.graphql(tokens[0], query)).status_code == 401
    assert (await partner.graphql(tokens[2], query)).status_code == 200
