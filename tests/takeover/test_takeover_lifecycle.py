"""Administrator takeover (SPEC 5) through GraphQL: preview, announce (users told in-app and by
email), the notice period, the sweep that makes it effective, cancellation, and refusals."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from core.db import session_factory
from models import Role
from services import audit_chain
from tests.domains.flows import add_domain
from tests.support.dns import Zone
from tests.support.world import World

from .flows import (
    CANCEL,
    PREVIEW,
    TAKEOVER_NODE,
    TEAM_TAKEOVERS,
    acme,
    announce,
    announced,
    kinds,
    notices,
    preview,
    trail,
)


async def test_p5_preview_announce_notice_period_then_effective(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    bob = await world.sign_up("bob", email="bob@acme.example")
    world.mailbox.clear()

    seen = await preview(org.adam, org.domain)
    assert seen["errors"] == []
    assert seen["affectedCount"] == 2
    names = [edge["node"]["username"] for edge in seen["accounts"]["edges"]]
    assert names == ["ann", "bob"]
    # Shown as any user: neither is a member, neither made the address public [P1, P2].
    assert [edge["node"]["email"] for edge in seen["accounts"]["edges"]] == [None, None]

    started = world.clock.now()
    takeover = await announced(org.adam, org.domain, noticeDays=7)
    assert takeover["status"] == "ANNOUNCED"
    assert takeover["affectedCount"] == 2
    assert takeover["noticeDays"] == 7
    assert takeover["announcedBy"] == {"username": "adam"}
    assert takeover["domain"] == {"name": "acme.example"}
    assert datetime.fromisoformat(takeover["effectiveAt"]) == started + timedelta(days=7)

    # Each affected user is told in-app which team, and from when (once the worker wrote the
    # notices out: one worker run); nothing is managed yet.
    for person in (ann, bob):
        assert kinds(await notices(person)) == []
    await world.deliver_mail()
    for person in (ann, bob):
        viewer = await notices(person)
        assert viewer["managedBy"] is None
        assert kinds(viewer) == ["takeover.announced"]
        details = viewer["notifications"]["edges"][0]["node"]["details"]
        assert details["team_name"] == "Acme"
        assert details["domain"] == "acme.example"
        assert datetime.fromisoformat(details["effective_at"]) == started + timedelta(days=7)
    # ... and by email, through the outbox, in the same run.
    for address in ("ann@acme.example", "bob@acme.example"):
        mail = world.mailbox.last_to(address, "takeover_announced")
        body = mail.get_content()
        assert "Acme" in mail["Subject"] and "acme.example" in body
        assert (started + timedelta(days=7)).strftime("%Y-%m-%d") in body
        for choice in ("personal address", "export your data", "delete your account"):
            assert choice in body
    # Not the admins, whose addresses are elsewhere.
    assert world.mailbox.to("adam@hq.example", "takeover_announced") == []

    # Nothing happens before the notice period ends.
    world.clock.advance(days=6, hours=23)
    assert (await world.deliver_mail())["takeovers"] == 0
    assert (await notices(ann))["managedBy"] is None

    world.clock.advance(hours=1)
    assert (await world.deliver_mail())["takeovers"] == 1
    await world.deliver_mail()

    viewer = await notices(ann)
    assert viewer["managedBy"]["name"] == "Acme"
    assert viewer["managedBy"]["slug"] == "acme"
    assert viewer["managedBy"]["domain"] == "acme.example"
    assert datetime.fromisoformat(viewer["managedBy"]["since"]) == world.clock.now()
    # Ann is not a member of Acme: she learns its name, not the team itself.
    assert viewer["managedBy"]["team"] is None
    assert kinds(viewer) == ["takeover.effective", "takeover.announced"]
    assert world.mailbox.last_to("bob@acme.example", "takeover_effective")

    data = await org.adam(TEAM_TAKEOVERS, slug="acme")
    (edge,) = data["team"]["takeovers"]["edges"]
    assert edge["node"]["status"] == "EFFECTIVE"
    assert (edge["node"]["managedCount"], edge["node"]["skippedCount"]) == (2, 0)
    assert edge["node"]["completedAt"] is not None

    events = await trail(org.adam)
    actions = [event["action"] for event in events]
    assert actions[:3] == ["takeover.effective", "takeover.announced", "takeover.previewed"]
    assert events[0]["details"]["managed_count"] == 2
    assert events[0]["targetId"] == takeover["id"]
    assert events[1]["details"]["affected_count"] == 2
    # The count, not a digest of ids: the TakeoverAccount rows name the accounts.
    assert "accounts_sha256" not in events[1]["details"]
    assert events[2]["details"]["affected_count"] == 2
    async with session_factory(world.engine)() as db:
        assert all(check.intact for check in await audit_chain.verify_all(db))


async def test_a_notice_of_zero_days_takes_effect_at_once(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")

    takeover = await announced(org.olga, org.domain, noticeDays=0)

    assert takeover["status"] == "EFFECTIVE"
    assert (takeover["affectedCount"], takeover["managedCount"]) == (1, 1)
    await world.deliver_mail()
    viewer = await notices(ann)
    assert viewer["managedBy"]["name"] == "Acme"
    # One notice, that it happened: there was no period to announce.
    assert kinds(viewer) == ["takeover.effective"]
    await world.deliver_mail()
    assert world.mailbox.to("ann@acme.example", "takeover_announced") == []
    assert world.mailbox.last_to("ann@acme.example", "takeover_effective")


async def test_the_notice_period_defaults_to_the_teams_setting(world: World, dns: Zone) -> None:
    org = await acme(world, dns)

    takeover = await announced(org.adam, org.domain)

    assert takeover["noticeDays"] == 7


async def test_notice_days_must_be_0_to_30(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    await world.sign_up("ann", email="ann@acme.example")

    for days in (-1, 31, 365):
        payload = await announce(org.adam, org.domain, noticeDays=days)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_INPUT", "noticeDays")
        ]
    assert (await org.adam(TEAM_TAKEOVERS, slug="acme"))["team"]["takeovers"]["edges"] == []
    assert await announced(org.adam, org.domain, noticeDays=30)


async def test_preview_counts_and_pages(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    for name in ("ann", "bob", "cid", "dan", "eve"):
        await world.sign_up(name, email=f"{name}@acme.example")

    first = await preview(org.olga, org.domain, first=2)
    assert first["affectedCount"] == 5
    assert [e["node"]["username"] for e in first["accounts"]["edges"]] == ["ann", "bob"]
    assert first["accounts"]["pageInfo"]["hasNextPage"] is True
    second = await preview(
        org.olga, org.domain, first=2, after=first["accounts"]["pageInfo"]["endCursor"]
    )
    assert [e["node"]["username"] for e in second["accounts"]["edges"]] == ["cid", "dan"]
    third = await preview(
        org.olga, org.domain, first=2, after=second["accounts"]["pageInfo"]["endCursor"]
    )
    assert [e["node"]["username"] for e in third["accounts"]["edges"]] == ["eve"]
    assert third["accounts"]["pageInfo"]["hasNextPage"] is False
    # Every preview is on the record.
    assert [e["action"] for e in await trail(org.adam)].count("takeover.previewed") == 3


async def test_cancel_before_it_takes_effect(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    takeover = await announced(org.adam, org.domain)
    world.mailbox.clear()

    data = await org.olga(CANCEL, input={"takeoverId": takeover["id"]})

    payload = data["cancelTakeover"]
    assert payload["errors"] == []
    assert payload["takeover"]["status"] == "CANCELLED"
    assert payload["takeover"]["cancelledAt"] is not None
    await world.deliver_mail()
    assert kinds(await notices(ann)) == ["takeover.cancelled", "takeover.announced"]
    await world.deliver_mail()
    assert world.mailbox.last_to("ann@acme.example", "takeover_cancelled")

    world.clock.advance(days=8)
    assert (await world.deliver_mail())["takeovers"] == 0
    assert (await notices(ann))["managedBy"] is None
    # Cancelled once: a second cancel is refused; a new announcement is possible again.
    again = await org.olga(CANCEL, input={"takeoverId": takeover["id"]})
    assert [e["code"] for e in again["cancelTakeover"]["errors"]] == ["CONFLICT"]
    assert "takeover.cancelled" in [e["action"] for e in await trail(org.adam)]
    assert (await announced(org.adam, org.domain))["status"] == "ANNOUNCED"


async def test_an_effective_takeover_cannot_be_cancelled(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    takeover = await announced(org.olga, org.domain, noticeDays=0)

    data = await org.adam(CANCEL, input={"takeoverId": takeover["id"]})

    assert [e["code"] for e in data["cancelTakeover"]["errors"]] == ["CONFLICT"]


async def test_only_the_domains_owners_and_admins_may_take_over(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    mel = await world.sign_up("mel", email="mel@hq.example")
    await world.add_member(org.team, mel, Role.MEMBER)
    bill = await world.sign_up("bill", email="bill@hq.example")
    await world.add_member(org.team, bill, Role.BILLING)
    # An admin of another team.
    zed = await world.sign_up("zed", email="zed@zeta.example")
    await world.make_team(zed, name="Zeta", slug="zeta")
    takeover = await announced(org.adam, org.domain)

    for person, code in (
        (mel, "FORBIDDEN"),
        (bill, "FORBIDDEN"),
        (zed, "NOT_FOUND"),
        (ann, "NOT_FOUND"),
    ):
        shown = await preview(person, org.domain)
        assert [e["code"] for e in shown["errors"]] == [code], person.username
        assert shown["affectedCount"] is None
        tried = await announce(person, org.domain)
        assert [e["code"] for e in tried["errors"]] == [code], person.username
        cancel = await person(CANCEL, input={"takeoverId": takeover["id"]})
        assert [e["code"] for e in cancel["cancelTakeover"]["errors"]] == [code]
        # Neither the team's takeovers nor the node show.
        assert (await person(TAKEOVER_NODE, id=takeover["id"]))["node"] is None
    assert (await mel(TEAM_TAKEOVERS, slug="acme"))["team"]["takeovers"] is None

    anonymous = world.client()
    shown = (await anonymous(PREVIEW, input={"domainId": org.domain["id"]}))["previewTakeover"]
    assert [e["code"] for e in shown["errors"]] == ["UNAUTHENTICATED"]
    # The owner sees it as a node.
    node = (await org.olga(TAKEOVER_NODE, id=takeover["id"]))["node"]
    assert node["__typename"] == "Takeover" and node["status"] == "ANNOUNCED"


async def test_a_domain_not_verified_cannot_be_taken_over(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    await world.sign_up("ann", email="ann@pending.example")
    pending = await add_domain(org.adam, org.team, "pending.example")

    for payload in (await preview(org.adam, pending), await announce(org.adam, pending)):
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_INPUT", "domainId")
        ]
    # Nor one whose verification ran out (before the worker marks it lapsed).
    world.clock.advance(days=8)
    late = await announce(org.adam, org.domain)
    assert [e["code"] for e in late["errors"]] == ["INVALID_INPUT"]


async def test_two_announcements_at_once_make_one_takeover(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")

    answers = await asyncio.gather(announce(org.adam, org.domain), announce(org.olga, org.domain))

    outcomes = sorted([e["code"] for e in answer["errors"]] for answer in answers)
    assert outcomes == [[], ["CONFLICT"]], answers
    data = await org.adam(TEAM_TAKEOVERS, slug="acme")
    assert len(data["team"]["takeovers"]["edges"]) == 1
    await world.deliver_mail()
    assert kinds(await notices(ann)) == ["takeover.announced"]
    assert [e["action"] for e in await trail(org.adam)].count("takeover.announced") == 1


async def test_takeovers_page_newest_first(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    other = await verified_other(world, dns, org)
    first = await announced(org.adam, org.domain)
    second = await announced(org.adam, other)

    data = await org.adam(TEAM_TAKEOVERS, slug="acme", first=1)
    page = data["team"]["takeovers"]
    assert [e["node"]["id"] for e in page["edges"]] == [second["id"]]
    assert page["pageInfo"]["hasNextPage"] is True
    data = await org.adam(TEAM_TAKEOVERS, slug="acme", first=1, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in data["team"]["takeovers"]["edges"]] == [first["id"]]


async def verified_other(world: World, dns: Zone, org):  # type: ignore[no-untyped-def]
    from tests.domains.flows import verified_domain

    return await verified_domain(dns, org.adam, org.team, "acme-labs.example")
