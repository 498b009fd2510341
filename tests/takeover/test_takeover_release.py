"""Releasing managed accounts (SPEC 5): by the team, by domain or by account; and by itself when
the team's domain lapses or is removed. Users are told either way."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session_factory
from models import EmailChangeRequest, EmailChangeStatus, Role, Takeover, TakeoverStatus
from tests.domains.flows import REMOVE_DOMAIN, unpublish
from tests.support.dns import Zone
from tests.support.world import PASSWORD, World
from worker.context import WorkerContext
from worker.takeover import make_takeovers_effective

from .flows import (
    RELEASE,
    TEAM_TAKEOVERS,
    acme,
    announced,
    kinds,
    notices,
    pk,
    trail,
)

CHANGE_EMAIL = """
mutation($input: ChangeEmailInput!) { changeEmail(input: $input) { errors { code message } } }"""


async def release(person, **input):  # type: ignore[no-untyped-def]
    return (await person(RELEASE, input=input))["releaseManagedAccounts"]


async def email_change_statuses(world: World) -> list[EmailChangeStatus]:
    async with session_factory(world.engine)() as db:
        rows = await db.execute(select(EmailChangeRequest.status))
        return [EmailChangeStatus(status) for (status,) in rows]


async def test_release_by_domain(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    bob = await world.sign_up("bob", email="bob@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)
    # A managed user's email change waits for the team's approval.
    data = await ann(CHANGE_EMAIL, input={"email": "ann@personal.example", "password": PASSWORD})
    assert data["changeEmail"]["errors"] == []
    assert await email_change_statuses(world) == [EmailChangeStatus.PENDING]
    world.mailbox.clear()

    payload = await release(org.adam, teamId=org.team.id, domainId=org.domain["id"])

    assert payload == {"releasedCount": 2, "errors": []}
    await world.deliver_mail()
    for person in (ann, bob):
        viewer = await notices(person)
        assert viewer["managedBy"] is None
        assert kinds(viewer)[0] == "managed_account.released"
        assert viewer["notifications"]["edges"][0]["node"]["details"]["team_name"] == "Acme"
    assert await email_change_statuses(world) == [EmailChangeStatus.CANCELLED]
    await world.deliver_mail()
    assert world.mailbox.last_to("ann@acme.example", "managed_account_released")
    (event,) = [e for e in await trail(org.adam) if e["action"] == "managed_accounts.released"]
    assert event["details"]["released_count"] == 2
    assert event["details"]["domain"] == "acme.example"
    # Released, Ann changes her email herself.
    data = await ann(CHANGE_EMAIL, input={"email": "ann@personal.example", "password": PASSWORD})
    assert data["changeEmail"]["errors"] == []


async def test_release_named_accounts(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    bob = await world.sign_up("bob", email="bob@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)

    # Olga's account is not managed: naming it releases nothing and says nothing.
    payload = await release(org.olga, teamId=org.team.id, userIds=[ann.id, org.olga.id])

    assert payload == {"releasedCount": 1, "errors": []}
    assert (await notices(ann))["managedBy"] is None
    assert (await notices(bob))["managedBy"]["name"] == "Acme"
    assert kinds(await notices(org.olga)) == []


async def test_release_is_refused_to_others_and_needs_a_target(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    mel = await world.sign_up("mel", email="mel@hq.example")
    await world.add_member(org.team, mel, Role.MEMBER)
    zed = await world.sign_up("zed", email="zed@zeta.example")
    zeta = await world.make_team(zed, name="Zeta", slug="zeta")
    await announced(org.olga, org.domain, noticeDays=0)

    for person, code in ((mel, "FORBIDDEN"), (zed, "NOT_FOUND"), (ann, "NOT_FOUND")):
        payload = await release(person, teamId=org.team.id, userIds=[ann.id])
        assert [e["code"] for e in payload["errors"]] == [code], person.username
    # Zeta's admin cannot release Acme's accounts through Zeta either.
    payload = await release(zed, teamId=zeta.id, userIds=[ann.id])
    assert payload == {"releasedCount": 0, "errors": []}
    payload = await release(zed, teamId=zeta.id, domainId=org.domain["id"])
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "domainId")]
    for input in ({}, {"domainId": org.domain["id"], "userIds": [ann.id]}, {"userIds": []}):
        payload = await release(org.adam, teamId=org.team.id, **input)
        assert [e["code"] for e in payload["errors"]] == ["INVALID_INPUT"], input
    assert (await notices(ann))["managedBy"]["name"] == "Acme"


async def test_a_lapsed_domain_releases_its_accounts_and_cancels_its_takeovers(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)
    bob = await world.sign_up("bob", email="bob@acme.example")
    waiting = await announced(org.adam, org.domain, noticeDays=30)

    unpublish(dns, org.domain)
    world.clock.advance(days=8)
    done = await world.deliver_mail()
    assert done["domain_expiry"] == 1
    # The release's and the cancellation's notices are written out on the next run.
    await world.deliver_mail()

    viewer = await notices(ann)
    assert viewer["managedBy"] is None
    assert kinds(viewer)[0] == "managed_account.released"
    assert viewer["notifications"]["edges"][0]["node"]["details"]["reason"] == "domain_lapsed"
    assert kinds(await notices(bob)) == ["takeover.cancelled", "takeover.announced"]
    data = await org.adam(TEAM_TAKEOVERS, slug="acme")
    statuses = {e["node"]["id"]: e["node"]["status"] for e in data["team"]["takeovers"]["edges"]}
    assert statuses[waiting["id"]] == "CANCELLED"
    await world.deliver_mail()
    assert world.mailbox.last_to("ann@acme.example", "managed_account_released")
    assert world.mailbox.last_to("bob@acme.example", "takeover_cancelled")
    actions = [e["action"] for e in await trail(org.adam)]
    assert {"domain.lapsed", "managed_accounts.released", "takeover.cancelled"} <= set(actions)


async def test_removing_the_domain_releases_its_accounts(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)

    data = await org.adam(REMOVE_DOMAIN, input={"domainId": org.domain["id"]})

    assert data["removeDomain"]["errors"] == []
    assert (await notices(ann))["managedBy"] is None
    event = next(e for e in await trail(org.adam) if e["action"] == "managed_accounts.released")
    assert event["details"]["reason"] == "domain_removed"


async def test_a_takeover_whose_domain_is_gone_at_effect_time_is_cancelled(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    takeover = await announced(org.adam, org.domain, noticeDays=10)
    unpublish(dns, org.domain)
    world.clock.advance(days=10)

    # The takeover sweep alone, before the domain sweep marks the domain lapsed.
    worker = WorkerContext(
        engine=world.engine,
        sessions=session_factory(world.engine),
        settings=world.settings,
        clock=world.clock,
    )
    assert await make_takeovers_effective(worker) == 1

    await world.deliver_mail()
    assert (await notices(ann))["managedBy"] is None
    assert kinds(await notices(ann)) == ["takeover.cancelled", "takeover.announced"]
    async with session_factory(world.engine)() as db:
        row = await db.get(Takeover, pk(takeover["id"]))
        assert row is not None and row.status is TakeoverStatus.CANCELLED
        assert (row.managed_count, row.cancelled_by_id) == (0, None)
    event = next(e for e in await trail(org.adam) if e["action"] == "takeover.cancelled")
    assert event["details"]["reason"] == "domain_not_verified"
