"""[P14] A partner's token does exactly what its scopes and its team allow; uninstalling the
app revokes its tokens at once."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session_factory
from models import ApiToken, Installation, Role
from tests.apps.flows import (
    TEAM_INSTALLATIONS,
    TEAM_MEMBERS,
    UNINSTALL_APP,
    Partner,
    installed,
    register_app,
)
from tests.support.world import World


async def test_p14_uninstall_revokes_tokens_in_the_same_transaction(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    installation_id = await installed(olga, acme, app.client_id)
    partner = Partner(world)
    tokens = [await partner.token(app, team="acme"), await partner.token(app, team="acme")]
    for token in tokens:
        assert (await partner.graphql(token, TEAM_MEMBERS, slug="acme")).status_code == 200

    with world.count_statements() as counter:
        data = await olga(UNINSTALL_APP, input={"installationId": installation_id})
    assert data["uninstallApp"]["errors"] == []
    # One set-based UPDATE revokes every token, inside the request's one transaction.
    revokes = [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE API_TOKEN")]
    assert len(revokes) == 1

    async with session_factory(world.engine)() as db:
        installation = (await db.execute(select(Installation))).scalar_one()
        rows = (await db.execute(select(ApiToken))).scalars().all()
    assert installation.uninstalled_at is not None
    assert [(row.revoked_reason, row.revoked_at) for row in rows] == [
        ("uninstalled", installation.uninstalled_at)
    ] * 2
    # The very next request with either token is refused.
    for token in tokens:
        response = await partner.graphql(token, TEAM_MEMBERS, slug="acme")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer ")


async def test_p14_partner_reads_members_then_loses_access(world: World) -> None:
    # A team with an owner and an admin; a partner registers an app asking to read teams.
    olga = await world.sign_up("olga")
    adam = await world.sign_up("adam")
    mia = await world.sign_up("mia")
    acme = await world.make_team(olga, "Acme", slug="acme")
    await world.add_member(acme, adam, Role.ADMIN)
    await world.add_member(acme, mia, Role.MEMBER)
    pat = await world.sign_up("pat")
    app = await register_app(pat, name="Roster Sync", scopes=["teams:read", "members:manage"])

    # The admin installs it, granting only teams:read.
    installation_id = await installed(adam, acme, app.client_id, ["teams:read"])
    listed = await olga(TEAM_INSTALLATIONS, slug="acme")
    node = listed["team"]["installations"]["edges"][0]["node"]
    assert node["appName"] == "Roster Sync" and node["installedBy"] == {"username": "adam"}

    # The partner's server trades its credentials for a token and reads the members.
    partner = Partner(world)
    token = await partner.token(app, team="acme")
    response = await partner.graphql(token, TEAM_MEMBERS, slug="acme")
    assert response.status_code == 200, response.text
    team = response.json()["data"]["team"]
    assert team["slug"] == "acme"
    assert sorted(edge["node"]["user"]["username"] for edge in team["members"]["edges"]) == [
        "adam",
        "mia",
        "olga",
    ]

    # The admin uninstalls the app: the same token fails on the very next request, and no new
    # token can be had.
    data = await adam(UNINSTALL_APP, input={"installationId": installation_id})
    assert data["uninstallApp"]["errors"] == []
    assert (await partner.graphql(token, TEAM_MEMBERS, slug="acme")).status_code == 401
    refused = await partner.token_request(
        {"grant_type": "client_credentials", "team": "acme"}, basic=(app.client_id, app.secret)
    )
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"


async def test_p14_a_token_reaches_only_its_own_team(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    globex = await world.make_team(olga, "Globex", slug="globex")
    await world.make_team(olga, "Initech", slug="initech")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    await installed(olga, globex, app.client_id)
    partner = Partner(world)
    token = await partner.token(app, team="acme")

    own = await partner.graphql(token, TEAM_MEMBERS, slug="acme")
    assert own.json()["data"]["team"]["slug"] == "acme"
    # Installed in Globex too, but this token was issued for Acme.
    for slug in ("globex", "initech"):
        other = await partner.graphql(token, TEAM_MEMBERS, slug=slug)
        assert other.status_code == 200 and other.json()["data"]["team"] is None
    # An app's token never sees the team's list of installed apps.
    listed = await partner.graphql(token, TEAM_INSTALLATIONS, slug="acme")
    assert listed.json()["data"]["team"]["installations"] is None


async def test_p14_a_token_cannot_install_or_uninstall_apps(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga, scopes=["teams:read", "members:manage", "teams:write"])
    installation_id = await installed(olga, acme, app.client_id, ["teams:read", "teams:write"])
    partner = Partner(world)
    token = await partner.token(app, team="acme")
    response = await partner.graphql(
        token,
        "mutation($id: ID!) { uninstallApp(input: {installationId: $id}) { errors { code } } }",
        id=installation_id,
    )
    assert response.json()["data"]["uninstallApp"]["errors"] == [{"code": "FORBIDDEN"}]
    other = await register_app(olga, name="Other")
    response = await partner.graphql(
        token,
        "mutation($input: InstallAppInput!) { installApp(input: $input) { errors { code } } }",
        input={"teamId": acme.id, "clientId": other.client_id, "scopes": ["teams:read"]},
    )
    assert response.json()["data"]["installApp"]["errors"] == [{"code": "FORBIDDEN"}]


async def test_p14_an_uninstall_racing_a_token_request_wins(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The token endpoint read the installation as live; an uninstall commits before it writes
    the token. The endpoint checks again under lock and issues nothing."""
    from services import installation_tokens

    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    installation_id = await installed(olga, acme, app.client_id)
    load = installation_tokens._live_installations

    async def load_then_uninstall(ctx, app_id):  # type: ignore[no-untyped-def]
        installations = await load(ctx, app_id)
        data = await olga(UNINSTALL_APP, input={"installationId": installation_id})
        assert data["uninstallApp"]["errors"] == []
        return installations

    monkeypatch.setattr(installation_tokens, "_live_installations", load_then_uninstall)
    response = await Partner(world).token_request(
        {"grant_type": "client_credentials", "team": "acme"}, basic=(app.client_id, app.secret)
    )
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    async with session_factory(world.engine)() as db:
        assert (await db.execute(select(ApiToken))).scalars().all() == []


async def test_p14_a_personal_token_cannot_register_or_install_apps(world: World) -> None:
    """An installation's grant is not bounded by any token's scopes, so only a signed-in
    person may create one; a personal token, even with every scope, is refused."""
    from auth.scopes import ALL
    from tests.tokens.support import bearer_for

    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    bearer = await bearer_for(world, olga, sorted(str(scope) for scope in ALL))
    try:
        registered = await bearer.raw(
            'mutation { registerApp(input: {name: "X", requestedScopes: ["teams:read"]}) '
            "{ clientSecret errors { code } } }"
        )
        assert registered["data"]["registerApp"] == {
            "clientSecret": None,
            "errors": [{"code": "FORBIDDEN"}],
        }
        installed_ = await bearer.raw(
            "mutation($input: InstallAppInput!) { installApp(input: $input) { errors { code } } }",
            input={"teamId": acme.id, "clientId": app.client_id, "scopes": ["teams:read"]},
        )
        assert installed_["data"]["installApp"]["errors"] == [{"code": "FORBIDDEN"}]
        listed = await bearer.raw("{ viewer { apps { edges { node { id } } } } }")
        assert listed["data"]["viewer"]["apps"]["edges"] == []
    finally:
        await bearer.aclose()
