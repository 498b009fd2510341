"""POST /oauth/token: the client-credentials grant, its standard errors and its limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.relay import to_global_id
from auth import token_format
from auth.secrets import token_hash
from core.db import session_factory
from models import ApiToken, AuditEvent, TokenKind
from tests.apps.flows import UNINSTALL_APP, Credentials, Partner, installed, register_app
from tests.support.world import Person, TeamRef, World

GRANT = {"grant_type": "client_credentials", "team": "acme"}
NO_TEAM = {"grant_type": "client_credentials"}


async def _acme_with_app(
    world: World, scopes: list[str] | None = None
) -> tuple[Person, TeamRef, Credentials, Partner]:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga, scopes=["teams:read", "audit:read", "members:manage"])
    await installed(olga, acme, app.client_id, scopes or ["teams:read", "audit:read"])
    return olga, acme, app, Partner(world)


def _oauth_error(response, status: int, error: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")


async def test_an_installed_app_gets_a_team_token_with_http_basic(world: World) -> None:
    _, acme, app, partner = await _acme_with_app(world)
    response = await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "audit:read teams:read"
    assert "refresh_token" not in body
    token = body["access_token"]
    assert token.startswith("owi_") and token_format.parse(token) is TokenKind.INSTALLATION

    async with session_factory(world.engine)() as db:
        row = (await db.execute(select(ApiToken))).scalar_one()
        event = (
            await db.execute(
                select(AuditEvent).where(AuditEvent.action == "installation.token_issued")
            )
        ).scalar_one()
    assert row.kind is TokenKind.INSTALLATION and row.team_id == acme.pk
    assert row.token_hash == token_hash(world.settings.secret_key, token)
    assert row.hint == token[:8] and row.scopes == "audit:read teams:read"
    assert row.expires_at - row.created_at == timedelta(hours=1)
    assert event.team_id == acme.pk and event.actor_kind == "app"
    assert event.details["token_id"] == row.id and token not in repr(event.details)


async def test_client_secret_post_works_too(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    response = await partner.token_request(
        {**GRANT, "client_id": app.client_id, "client_secret": app.secret}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("how", ["basic", "post"])
async def test_wrong_or_unknown_credentials_are_invalid_client(world: World, how: str) -> None:
    _, _, app, partner = await _acme_with_app(world)
    answers = []
    for client_id, secret in (
        (app.client_id, app.secret[:-1] + ("x" if app.secret[-1] != "x" else "y")),
        ("owc_" + "Z" * 24, app.secret),
        ("not-a-client", app.secret),
        (app.client_id, ""),
    ):
        if how == "basic":
            response = await partner.token_request(GRANT, basic=(client_id, secret))
        else:
            response = await partner.token_request(
                {**GRANT, "client_id": client_id, "client_secret": secret}
            )
        _oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"] == 'Basic realm="orgward"'
        answers.append(response.json())
    # Unknown clients and wrong secrets get the very same answer.
    assert all(answer == answers[0] for answer in answers)


async def test_missing_or_mangled_credentials_are_invalid_client(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    _oauth_error(await partner.token_request(GRANT), 401, "invalid_client")
    for header in ("Basic !!!notbase64", "Basic bm9jb2xvbg==", "Basic /w=="):
        response = await partner.token_request(GRANT, headers={"authorization": header})
        _oauth_error(response, 401, "invalid_client")


async def test_malformed_requests_are_invalid_request(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    basic = (app.client_id, app.secret)
    _oauth_error(await partner.token_request({}, basic=basic), 400, "invalid_request")
    both = await partner.token_request(
        {**GRANT, "client_id": app.client_id, "client_secret": app.secret}, basic=basic
    )
    _oauth_error(both, 400, "invalid_request")
    repeated = await partner.token_request(
        content=b"grant_type=client_credentials&scope=teams:read&scope=audit:read",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "authorization": _basic(app),
        },
    )
    _oauth_error(repeated, 400, "invalid_request")
    as_json = await partner.token_request(
        content=b'{"grant_type": "client_credentials"}',
        headers={"content-type": "application/json", "authorization": _basic(app)},
    )
    _oauth_error(as_json, 400, "invalid_request")
    not_utf8 = await partner.token_request(
        content=b"grant_type=client_credentials&team=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _oauth_error(not_utf8, 400, "invalid_request")
    huge = await partner.token_request(
        content=b"grant_type=client_credentials&pad=" + b"x" * 10_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _oauth_error(huge, 413, "invalid_request")
    assert (await partner.http.get("/oauth/token")).status_code == 405


async def test_other_grant_types_are_unsupported(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    for grant_type in ("password", "authorization_code", "refresh_token", "x\x00"):
        response = await partner.token_request(
            {"grant_type": grant_type, "username": "olga", "password": "pw"},
            basic=(app.client_id, app.secret),
        )
        _oauth_error(response, 400, "unsupported_grant_type")


async def test_scope_may_narrow_the_grant_but_never_widen_it(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    basic = (app.client_id, app.secret)
    narrowed = await partner.token_request({**GRANT, "scope": "teams:read"}, basic=basic)
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "teams:read"
    async with session_factory(world.engine)() as db:
        assert (await db.execute(select(ApiToken.scopes))).scalar_one() == "teams:read"
    # Requested by the app but not granted by the team; unknown; malformed.
    for scope in ("teams:read members:manage", "root", "teams:read\x00"):
        response = await partner.token_request({**GRANT, "scope": scope}, basic=basic)
        _oauth_error(response, 400, "invalid_scope")


async def test_an_app_installed_nowhere_or_uninstalled_is_unauthorized(world: World) -> None:
    olga, acme, app, partner = await _acme_with_app(world)
    lonely = await register_app(olga, name="Lonely")
    response = await partner.token_request(GRANT, basic=(lonely.client_id, lonely.secret))
    _oauth_error(response, 400, "unauthorized_client")

    installation_id = (
        await olga('{ team(slug: "acme") { installations { edges { node { id } } } } }')
    )["team"]["installations"]["edges"][0]["node"]["id"]
    await olga(UNINSTALL_APP, input={"installationId": installation_id})
    response = await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    _oauth_error(response, 400, "unauthorized_client")


async def test_an_app_in_several_teams_names_one_and_gets_only_that_one(world: World) -> None:
    olga, acme, app, partner = await _acme_with_app(world)
    globex = await world.make_team(olga, "Globex", slug="globex")
    initech = await world.make_team(olga, "Initech", slug="initech")
    await installed(olga, globex, app.client_id, ["audit:read"])
    basic = (app.client_id, app.secret)

    _oauth_error(await partner.token_request(NO_TEAM, basic=basic), 400, "invalid_request")
    by_slug = await partner.token_request({**GRANT, "team": "GLOBEX"}, basic=basic)
    assert by_slug.status_code == 200 and by_slug.json()["scope"] == "audit:read"
    by_id = await partner.token_request({**GRANT, "team": acme.id}, basic=basic)
    assert by_id.status_code == 200 and by_id.json()["scope"] == "audit:read teams:read"
    async with session_factory(world.engine)() as db:
        teams = (await db.execute(select(ApiToken.team_id).order_by(ApiToken.id))).scalars().all()
    assert teams == [globex.pk, acme.pk]

    # A team that exists but did not install the app, and one that does not exist at all.
    for team in ("initech", initech.id, "nowhere", str(to_global_id("Team", 999999)), "a\x00"):
        response = await partner.token_request({**GRANT, "team": team}, basic=basic)
        _oauth_error(response, 400, "unauthorized_client")
    # A wider scope than the named team granted is refused even though another team granted it.
    wider = await partner.token_request(
        {**GRANT, "team": "globex", "scope": "teams:read"}, basic=basic
    )
    _oauth_error(wider, 400, "invalid_scope")


async def test_failed_client_authentication_is_slowed_per_address_only(world: World) -> None:
    """Failures slow the address they come from; the right secret is never refused (it is far
    too long to guess, so a lockout would only hand anyone knowing the client id a DoS)."""
    _, _, app, partner = await _acme_with_app(world)
    wrong = (app.client_id, "ows_" + "w" * 40)
    free = world.settings.signin_free_failures * world.settings.signin_ip_factor
    for _ in range(free):
        _oauth_error(await partner.token_request(GRANT, basic=wrong), 401, "invalid_client")
    slowed = await partner.token_request(GRANT, basic=wrong)
    _oauth_error(slowed, 429, "temporarily_unavailable")
    assert int(slowed.headers["retry-after"]) >= 1
    # The right secret, from the very same address, during the slowdown.
    assert (
        await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    ).status_code == 200
    # Another address is not slowed down by this one's failures.
    elsewhere = Partner(world, address="127.0.0.5")
    _oauth_error(await elsewhere.token_request(GRANT, basic=wrong), 401, "invalid_client")


async def test_every_token_request_names_its_team(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    basic = (app.client_id, app.secret)
    for params in (NO_TEAM, {**NO_TEAM, "team": ""}, {**NO_TEAM, "team": "  "}):
        _oauth_error(await partner.token_request(params, basic=basic), 400, "invalid_request")


async def test_a_stranger_installing_the_app_does_not_disturb_the_partner(world: World) -> None:
    """Anyone may install a partner's app in a team of their own; the partner always names the
    team it wants, so a new installation elsewhere changes nothing for it."""
    _, _, app, partner = await _acme_with_app(world)
    eve = await world.sign_up("eve")
    evil = await world.make_team(eve, "Evil", slug="evil")
    await installed(eve, evil, app.client_id, ["teams:read"])
    response = await partner.token_request(GRANT, basic=(app.client_id, app.secret))
    assert response.status_code == 200 and response.json()["scope"] == "audit:read teams:read"


async def test_the_endpoint_ignores_cookies_and_origins(world: World) -> None:
    """Exempt from the cookie CSRF rule because a cookie never authenticates here."""
    olga, _, app, _ = await _acme_with_app(world)
    response = await olga.client.http.post(
        "/oauth/token", data=GRANT, headers={"origin": "https://evil.example"}
    )
    _oauth_error(response, 401, "invalid_client")
    response = await olga.client.http.post(
        "/oauth/token",
        data=GRANT,
        auth=(app.client_id, app.secret),
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 200


def _basic(app: Credentials) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()


async def test_requests_refused_before_authentication_do_not_count_as_failures(
    world: World,
) -> None:
    _, _, app, partner = await _acme_with_app(world)
    basic = (app.client_id, app.secret)
    for _ in range(world.settings.signin_free_failures + 2):
        _oauth_error(await partner.token_request({}, basic=basic), 400, "invalid_request")
        response = await partner.token_request({"grant_type": "password"}, basic=basic)
        _oauth_error(response, 400, "unsupported_grant_type")
    assert (await partner.token_request(GRANT, basic=basic)).status_code == 200


async def test_hostile_parameters_get_oauth_errors_not_500(world: World) -> None:
    _, _, app, partner = await _acme_with_app(world)
    for body in (
        b'grant_type=client_credentials&a"\\=1&a"\\=2',
        b"grant_type=%00&grant_type=x",
        b"grant_type=client_credentials&client_id=%00&client_secret=%22",
        b"grant_type=client_credentials&client_id=owc_%F0%9F%98%80&client_secret=x",
    ):
        response = await partner.token_request(
            content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code in (400, 401), (body, response.text)
        assert response.json()["error"] in ("invalid_request", "invalid_client")
