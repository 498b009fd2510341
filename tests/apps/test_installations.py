"""Installing apps into teams: owners and admins grant a subset of the requested scopes."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session_factory
from models import ApiToken, AuditEvent, Role
from tests.apps.flows import (
    INSTALL_APP,
    TEAM_INSTALLATIONS,
    UNINSTALL_APP,
    UPDATE_SCOPES,
    Partner,
    install,
    installed,
    register_app,
)
from tests.support.world import World


async def test_an_admin_installs_an_app_granting_a_subset_of_its_scopes(world: World) -> None:
    olga = await world.sign_up("olga")
    adam = await world.sign_up("adam")
    acme = await world.make_team(olga, "Acme", slug="acme")
    await world.add_member(acme, adam, Role.ADMIN)
    pat = await world.sign_up("pat")
    app = await register_app(pat, scopes=["teams:read", "members:manage", "audit:read"])

    payload = await install(adam, acme, app.client_id, ["audit:read", "teams:read"])
    assert payload["errors"] == []
    installation = payload["installation"]
    assert installation["appName"] == "Pipeline"
    assert installation["scopes"] == ["audit:read", "teams:read"]
    assert installation["installedBy"] == {"username": "adam"}
    assert installation["uninstalledAt"] is None

    listed = await olga(TEAM_INSTALLATIONS, slug="acme")
    nodes = [edge["node"] for edge in listed["team"]["installations"]["edges"]]
    assert [node["id"] for node in nodes] == [installation["id"]]
    as_node = await olga(
        "query($id: ID!) { node(id: $id) { ... on Installation { scopes } } }",
        id=installation["id"],
    )
    assert as_node["node"] == {"scopes": ["audit:read", "teams:read"]}
    async with session_factory(world.engine)() as db:
        event = (
            await db.execute(select(AuditEvent).where(AuditEvent.action == "app.installed"))
        ).scalar_one()
    assert event.team_id == acme.pk and event.details["scopes"] == "audit:read teams:read"


async def test_scopes_outside_the_request_or_the_catalog_are_refused(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga, scopes=["teams:read"])
    for scopes in (["teams:read", "audit:read"], ["sudo"], [], ["teams:read\x00"]):
        payload = await install(olga, acme, app.client_id, scopes)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_INPUT", "scopes")
        ], scopes
        assert payload["installation"] is None
    assert (await olga(TEAM_INSTALLATIONS, slug="acme"))["team"]["installations"]["edges"] == []


async def test_members_cannot_install_and_outsiders_learn_nothing(world: World) -> None:
    olga = await world.sign_up("olga")
    mia = await world.sign_up("mia")
    eve = await world.sign_up("eve")
    acme = await world.make_team(olga, "Acme", slug="acme")
    await world.add_member(acme, mia, Role.MEMBER)
    app = await register_app(eve)

    member = await install(mia, acme, app.client_id)
    assert [e["code"] for e in member["errors"]] == ["FORBIDDEN"]
    outsider = await install(eve, acme, app.client_id)
    assert [(e["code"], e["field"]) for e in outsider["errors"]] == [("NOT_FOUND", "teamId")]
    anonymous = await world.client().raw(
        INSTALL_APP, input={"teamId": acme.id, "clientId": app.client_id, "scopes": ["teams:read"]}
    )
    assert anonymous["data"]["installApp"]["errors"][0]["code"] == "UNAUTHENTICATED"
    # Members do not see the team's installations either.
    assert (await mia(TEAM_INSTALLATIONS, slug="acme"))["team"]["installations"] is None


async def test_unknown_client_ids_are_not_found(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    for client_id in ("owc_" + "A" * 24, "nonsense", "owc_\x00" + "A" * 23, ""):
        payload = await install(olga, acme, client_id)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "clientId")]


async def test_installing_twice_is_a_conflict_until_uninstalled(world: World) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    first = await installed(olga, acme, app.client_id)
    again = await install(olga, acme, app.client_id)
    assert [e["code"] for e in again["errors"]] == ["CONFLICT"]

    gone = await olga(UNINSTALL_APP, input={"installationId": first})
    assert gone["uninstallApp"]["installation"]["uninstalledAt"] is not None
    assert (await install(olga, acme, app.client_id))["errors"] == []
    twice = await olga(UNINSTALL_APP, input={"installationId": first})
    assert [e["code"] for e in twice["uninstallApp"]["errors"]] == ["NOT_FOUND"]


async def test_only_the_teams_managers_uninstall(world: World) -> None:
    olga = await world.sign_up("olga")
    mia = await world.sign_up("mia")
    eve = await world.sign_up("eve")
    acme = await world.make_team(olga, "Acme", slug="acme")
    await world.add_member(acme, mia, Role.MEMBER)
    app = await register_app(olga)
    installation_id = await installed(olga, acme, app.client_id)
    member = await mia(UNINSTALL_APP, input={"installationId": installation_id})
    assert [e["code"] for e in member["uninstallApp"]["errors"]] == ["FORBIDDEN"]
    outsider = await eve(UNINSTALL_APP, input={"installationId": installation_id})
    assert [(e["code"], e["field"]) for e in outsider["uninstallApp"]["errors"]] == [
        ("NOT_FOUND", "installationId")
    ]
    node = await eve("query($id: ID!) { node(id: $id) { id } }", id=installation_id)
    assert node["node"] is None


async def test_shrinking_the_grant_revokes_live_tokens_and_widening_keeps_them(
    world: World,
) -> None:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga, scopes=["teams:read", "audit:read", "members:manage"])
    installation_id = await installed(olga, acme, app.client_id, ["teams:read", "audit:read"])
    partner = Partner(world)
    await partner.token(app, team="acme")

    wider = await olga(
        UPDATE_SCOPES,
        input={
            "installationId": installation_id,
            "scopes": ["teams:read", "audit:read", "members:manage"],
        },
    )
    assert wider["updateInstallationScopes"]["installation"]["scopes"] == [
        "audit:read",
        "members:manage",
        "teams:read",
    ]
    async with session_factory(world.engine)() as db:
        assert (await db.execute(select(ApiToken.revoked_at))).scalar_one() is None

    narrower = await olga(
        UPDATE_SCOPES, input={"installationId": installation_id, "scopes": ["teams:read"]}
    )
    assert narrower["updateInstallationScopes"]["errors"] == []
    async with session_factory(world.engine)() as db:
        assert (await db.execute(select(ApiToken.revoked_reason))).scalar_one() == "scopes_reduced"
    refused = await olga(
        UPDATE_SCOPES, input={"installationId": installation_id, "scopes": ["domains:write"]}
    )
    assert refused["updateInstallationScopes"]["errors"][0]["code"] == "INVALID_INPUT"


async def test_installations_of_many_teams_cost_one_query(world: World) -> None:
    olga = await world.sign_up("olga")
    app = await register_app(olga)
    query = """{ viewer { teams(first: 10) { edges { node { slug
      installations(first: 5) { edges { node { appName installedBy { username } } } }
    } } } } }"""

    async def statements() -> int:
        with world.count_statements() as counter:
            await olga(query)
        return counter.count

    team = await world.make_team(olga, "Team 0", slug="team-0")
    await installed(olga, team, app.client_id)
    one = await statements()
    for number in range(1, 4):
        team = await world.make_team(olga, f"Team {number}", slug=f"team-{number}")
        await installed(olga, team, app.client_id)
    assert await statements() == one
