"""Who decides a takeover, and how much notice users get: a person (an owner or admin of the
domain's team, signed in or with a personal token granted takeover:manage), never an app; and
only an owner may give less notice than the team's setting."""

from __future__ import annotations

import pytest

from tests.support.dns import Zone
from tests.support.world import World
from tests.tokens.support import Bearer, bearer_for, install_app

from .flows import (
    ANNOUNCE,
    CANCEL,
    PREVIEW,
    RELEASE,
    acme,
    announce,
    announced,
    notices,
)

UPDATE_SETTINGS = """
mutation Settings($input: UpdateManagedAccountSettingsInput!) {
  updateManagedAccountSettings(input: $input) { team { takeoverNoticeDays } errors { code } }
}"""

NOTIFICATION_NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Notification { kind details readAt } }
}"""


@pytest.fixture(autouse=True)
async def _close_bearers(world: World):  # type: ignore[no-untyped-def]
    world.app.state.orgward.token_leases.clear()
    yield
    for client in getattr(world, "_bearers", []):
        await client.aclose()


def codes(payload: dict) -> list[str]:  # type: ignore[type-arg]
    return [error["code"] for error in payload["errors"]]


async def test_an_apps_token_may_not_preview_announce_cancel_or_release(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    app, _ = await install_app(
        world, org.team, ["takeover:manage", "users:read", "teams:read", "domains:read"]
    )
    takeover = await announced(org.adam, org.domain)

    preview = (await app(PREVIEW, input={"domainId": org.domain["id"]}))["previewTakeover"]
    assert codes(preview) == ["FORBIDDEN"]
    # Not a single account of the domain is listed to the app, members of its team or not.
    assert preview["affectedCount"] is None and preview["accounts"] is None
    cancel = (await app(CANCEL, input={"takeoverId": takeover["id"]}))["cancelTakeover"]
    assert codes(cancel) == ["FORBIDDEN"]
    tried = (await app(ANNOUNCE, input={"domainId": org.domain["id"]}))["announceTakeover"]
    assert codes(tried) == ["FORBIDDEN"]
    released = await app(RELEASE, input={"teamId": org.team.id, "userIds": [ann.id]})
    assert codes(released["releaseManagedAccounts"]) == ["FORBIDDEN"]
    await world.deliver_mail()
    assert (await notices(ann))["notifications"]["edges"][0]["node"]["kind"] == (
        "takeover.announced"
    )


async def test_a_personal_token_needs_takeover_manage(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    await world.sign_up("ann", email="ann@acme.example")
    without = await bearer_for(world, org.adam, ["users:read", "domains:read"])
    granted = await bearer_for(world, org.adam, ["takeover:manage"])

    refused = (await without(PREVIEW, input={"domainId": org.domain["id"]}))["previewTakeover"]
    assert codes(refused) == ["FORBIDDEN"]
    shown = (await granted(PREVIEW, input={"domainId": org.domain["id"]}))["previewTakeover"]
    assert shown["errors"] == [] and shown["affectedCount"] == 1
    # The admin sees who would be affected; the address only as [P1]/[P2] allow (Ann is no
    # member of the team and keeps hers private).
    (edge,) = shown["accounts"]["edges"]
    assert (edge["node"]["username"], edge["node"]["email"]) == ("ann", None)


async def test_an_admin_may_not_give_less_notice_than_the_teams_setting(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")

    for days in (0, 6):
        payload = await announce(org.adam, org.domain, noticeDays=days)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("FORBIDDEN", "noticeDays")
        ], days
    assert (await notices(ann))["notifications"]["edges"] == []
    # Longer than the setting is fine (and so is the setting itself, the default).
    assert (await announced(org.adam, org.domain, noticeDays=8))["noticeDays"] == 8


async def test_an_owner_may_give_less_notice(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")

    takeover = await announced(org.olga, org.domain, noticeDays=0)

    assert takeover["status"] == "EFFECTIVE"
    assert (await notices(ann))["managedBy"]["name"] == "Acme"


async def test_the_notice_an_admin_may_give_follows_the_teams_setting(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    data = await org.olga(UPDATE_SETTINGS, input={"teamId": org.team.id, "takeoverNoticeDays": 2})
    assert data["updateManagedAccountSettings"]["errors"] == []

    assert codes(await announce(org.adam, org.domain, noticeDays=1)) == ["FORBIDDEN"]
    takeover = await announced(org.adam, org.domain)
    assert takeover["noticeDays"] == 2


async def test_a_notification_is_a_node_for_its_owner_only(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await announced(org.adam, org.domain)
    await world.deliver_mail()
    (edge,) = (await notices(ann))["notifications"]["edges"]
    notice_id = edge["node"]["id"]

    node = (await ann(NOTIFICATION_NODE, id=notice_id))["node"]
    assert node["__typename"] == "Notification" and node["id"] == notice_id
    assert node["kind"] == "takeover.announced" and node["details"]["team_name"] == "Acme"
    # Nobody else, not even the team that sent it.
    for person in (org.adam, org.olga, world.client()):
        assert (await person(NOTIFICATION_NODE, id=notice_id))["node"] is None
    # A token of Ann's reads it with users:read, as it reads her notices.
    token: Bearer = await bearer_for(world, ann, ["users:read"])
    assert (await token(NOTIFICATION_NODE, id=notice_id))["node"]["id"] == notice_id
    other: Bearer = await bearer_for(world, ann, ["teams:read"])
    assert (await other(NOTIFICATION_NODE, id=notice_id))["node"] is None
