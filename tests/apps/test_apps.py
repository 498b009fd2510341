"""Partner apps: registration, the secret shown once, rotation, deletion."""

from __future__ import annotations

from sqlalchemy import select

from auth.secrets import token_hash
from core.db import session_factory
from models import ApiToken, App, AuditEvent, Installation
from tests.apps.flows import (
    DELETE_APP,
    MY_APPS,
    REGISTER_APP,
    ROTATE_SECRET,
    Partner,
    installed,
    register_app,
)
from tests.support.world import World


async def test_registration_shows_the_secret_once_and_never_again(world: World) -> None:
    pat = await world.sign_up("pat")
    data = await pat(
        REGISTER_APP,
        input={
            "name": "  Pipeline  CI ",
            "homepageUrl": "https://pipeline.example.com",
            "requestedScopes": ["teams:read", "audit:read", "teams:read"],
        },
    )
    payload = data["registerApp"]
    assert payload["errors"] == []
    app, secret = payload["app"], payload["clientSecret"]
    assert app["name"] == "Pipeline CI"
    assert app["requestedScopes"] == ["audit:read", "teams:read"]
    assert app["clientId"].startswith("owc_") and len(app["clientId"]) == 28
    assert secret.startswith("ows_") and len(secret) == 44

    listed = await pat.client.post(MY_APPS)
    node = listed.json()["data"]["viewer"]["apps"]["edges"][0]["node"]
    assert node["clientId"] == app["clientId"] and node["name"] == "Pipeline CI"
    as_node = await pat.client.post(
        "query($id: ID!) { node(id: $id) { id ... on App { clientId } } }", {"id": app["id"]}
    )
    assert as_node.json()["data"]["node"]["clientId"] == app["clientId"]
    for response in (listed, as_node):
        assert secret not in response.text and secret[4:] not in response.text

    async with session_factory(world.engine)() as db:
        row = (await db.execute(select(App))).scalar_one()
        events = (await db.execute(select(AuditEvent))).scalars().all()
    assert row.client_secret_hash == token_hash(world.settings.secret_key, secret)
    assert secret not in repr(row.model_dump())
    registered = [e for e in events if e.action == "app.registered"]
    assert len(registered) == 1 and registered[0].target_type == "app"
    assert all(secret not in repr(e.details) for e in events)


async def test_registration_needs_a_signed_in_person(world: World) -> None:
    anonymous = world.client()
    body = await anonymous.raw(REGISTER_APP, input={"name": "X", "requestedScopes": ["teams:read"]})
    assert body["data"]["registerApp"]["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_registration_refuses_bad_input(world: World) -> None:
    pat = await world.sign_up("pat")
    cases = [
        ({"requestedScopes": ["teams:read", "root:all"]}, "requestedScopes"),
        ({"requestedScopes": []}, "requestedScopes"),
        ({"homepageUrl": "http://insecure.example.com"}, "homepageUrl"),
        ({"homepageUrl": "javascript:alert(1)"}, "homepageUrl"),
        ({"name": "   "}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"requestedScopes": ["teams:read\x00"]}, "requestedScopes"),
    ]
    for override, field in cases:
        data = await pat(
            REGISTER_APP, input={"name": "Pipeline", "requestedScopes": ["teams:read"], **override}
        )
        errors = data["registerApp"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", field)], override
        assert data["registerApp"]["clientSecret"] is None
    assert (await pat(MY_APPS))["viewer"]["apps"]["edges"] == []


async def test_rotating_the_secret_retires_the_old_one_and_its_tokens(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    partner = Partner(world)
    await partner.token(app, team="acme")

    data = await olga(ROTATE_SECRET, input={"appId": app.app_id})
    payload = data["rotateAppSecret"]
    assert payload["errors"] == []
    new_secret = payload["clientSecret"]
    assert new_secret != app.secret and payload["app"]["secretRotatedAt"]

    old = await partner.token_request(
        {"grant_type": "client_credentials", "team": "acme"}, basic=(app.client_id, app.secret)
    )
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    app.secret = new_secret
    await partner.token(app, team="acme")
    async with session_factory(world.engine)() as db:
        tokens = (await db.execute(select(ApiToken).order_by(ApiToken.id))).scalars().all()
        actions = (await db.execute(select(AuditEvent.action))).scalars().all()
    assert [(t.revoked_reason, t.revoked_at is None) for t in tokens] == [
        ("secret_rotated", False),
        (None, True),
    ]
    assert "app.secret_rotated" in actions


async def test_only_the_owner_manages_an_app(world: World) -> None:
    pat = await world.sign_up("pat")
    mallory = await world.sign_up("mallory")
    app = await register_app(pat)
    for document, name in ((ROTATE_SECRET, "rotateAppSecret"), (DELETE_APP, "deleteApp")):
        data = await mallory(document, input={"appId": app.app_id})
        assert [e["code"] for e in data[name]["errors"]] == ["NOT_FOUND"]
    node = await mallory("query($id: ID!) { node(id: $id) { id } }", id=app.app_id)
    assert node["node"] is None
    assert (await mallory(MY_APPS))["viewer"]["apps"]["edges"] == []
    bad = await pat(ROTATE_SECRET, input={"appId": "not-an-id"})
    assert bad["rotateAppSecret"]["errors"][0]["code"] == "INVALID_INPUT"


async def test_deleting_an_app_uninstalls_it_everywhere_and_revokes_its_tokens(
    world: World,
) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    globex = await world.make_team(olga, "Globex", slug="globex")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    await installed(olga, globex, app.client_id)
    partner = Partner(world)
    token = await partner.token(app, team="acme")

    data = await olga(DELETE_APP, input={"appId": app.app_id})
    assert data["deleteApp"] == {"deletedId": app.app_id, "errors": []}

    async with session_factory(world.engine)() as db:
        rows = (await db.execute(select(Installation))).scalars().all()
        token_row = (await db.execute(select(ApiToken))).scalar_one()
        events = (await db.execute(select(AuditEvent))).scalars().all()
    assert all(row.uninstalled_at is not None for row in rows) and len(rows) == 2
    assert token_row.revoked_reason == "app_deleted"
    uninstalled = sorted(e.team_id for e in events if e.action == "app.uninstalled")
    assert uninstalled == sorted([acme.pk, globex.pk])
    assert "app.deleted" in [e.action for e in events]
    refused = await partner.token_request(
        {"grant_type": "client_credentials", "team": "acme"}, basic=(app.client_id, app.secret)
    )
    assert refused.status_code == 401
    assert (await partner.graphql(token, '{ team(slug: "acme") { slug } }')).status_code == 401
    assert (await olga(MY_APPS))["viewer"]["apps"]["edges"] == []


async def test_a_rotation_racing_a_token_request_wins(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from services import installation_tokens

    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    load = installation_tokens._load_client

    async def load_then_rotate(ctx, client_id):  # type: ignore[no-untyped-def]
        client = await load(ctx, client_id)
        data = await olga(ROTATE_SECRET, input={"appId": app.app_id})
        assert data["rotateAppSecret"]["errors"] == []
        return client

    monkeypatch.setattr(installation_tokens, "_load_client", load_then_rotate)
    response = await Partner(world).token_request(
        {"grant_type": "client_credentials", "team": "acme"}, basic=(app.client_id, app.secret)
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    async with session_factory(world.engine)() as db:
        assert (await db.execute(select(ApiToken))).scalars().all() == []


async def test_rotation_and_deletion_are_recorded_in_every_installing_team(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    globex = await world.make_team(olga, "Globex", slug="globex")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    await installed(olga, globex, app.client_id)
    partner = Partner(world)
    for _ in range(2):
        await partner.token(app, team="acme")
    await partner.token(app, team="globex")

    rotated = await olga(ROTATE_SECRET, input={"appId": app.app_id})
    app.secret = rotated["rotateAppSecret"]["clientSecret"]
    await partner.token(app, team="globex")
    await olga(DELETE_APP, input={"appId": app.app_id})

    async with session_factory(world.engine)() as db:
        events = (await db.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars().all()
    revoked = [
        (e.team_id, e.details["reason"], e.details["tokens_revoked"], e.target_type)
        for e in events
        if e.action == "installation.tokens_revoked"
    ]
    assert sorted(revoked) == sorted(
        [
            (acme.pk, "secret_rotated", 2, "installation"),
            (globex.pk, "secret_rotated", 1, "installation"),
        ]
    )
    uninstalled = [
        (e.team_id, e.details["reason"], e.details["tokens_revoked"])
        for e in events
        if e.action == "app.uninstalled"
    ]
    assert sorted(uninstalled) == sorted(
        [(acme.pk, "app_deleted", 0), (globex.pk, "app_deleted", 1)]
    )
