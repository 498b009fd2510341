"""The worker's domain sweeps (SPEC 4): pending domains re-checked with backoff and removed after
seven days, verified ones re-checked daily, admins told of failures, lapse past verifiedUntil."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.db import session_factory
from models import Role
from tests.domains.flows import (
    TEAM_DOMAINS,
    add_domain,
    publish,
    team_with_admin,
    unpublish,
    verify,
)
from tests.domains.flows import verified_domain as verified
from tests.support.dns import Zone
from tests.support.world import World
from worker.context import WorkerContext
from worker.domains import check_due_domains

TRAIL = """
query($slug: String!) {
  team(slug: $slug) { auditEvents(first: 50) { edges { node { action actorKind details } } } }
}"""


async def sweep(world: World) -> dict[str, int]:
    done = await world.deliver_mail()
    assert done["domain_checks"] >= 0 and done["domain_expiry"] >= 0, done
    return done


async def domains_of(person, slug: str = "acme") -> list[dict]:  # type: ignore[no-untyped-def]
    return (await person(TEAM_DOMAINS, slug=slug))["team"]["domains"]


async def test_when_nothing_is_due_the_sweeps_ask_no_dns(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    await add_domain(adam, team, "acme.example")
    await verified(dns, adam, team, "verified.example")
    dns.asked.clear()

    done = await sweep(world)

    assert (done["domain_checks"], done["domain_expiry"]) == (0, 0)
    assert dns.asked == []


async def test_a_pending_domain_is_verified_by_the_worker_once_published(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    publish(dns, domain)
    world.clock.advance(minutes=5)

    done = await sweep(world)

    assert done["domain_checks"] == 1
    (checked,) = await domains_of(adam)
    assert checked["status"] == "VERIFIED"
    assert checked["verifiedUntil"] == (world.clock.now() + timedelta(days=7)).isoformat()
    newest = (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"][0]["node"]
    assert (newest["action"], newest["actorKind"]) == ("domain.verified", "system")


async def test_pending_domains_are_checked_with_a_growing_backoff(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    await add_domain(adam, team, "acme.example")

    checked_at_minutes = []
    for minute in range(1, 41):
        world.clock.advance(minutes=1)
        if (await sweep(world))["domain_checks"]:
            checked_at_minutes.append(minute)

    assert checked_at_minutes == [5, 10, 20, 40]
    (domain,) = await domains_of(adam)
    assert domain["status"] == "PENDING" and domain["lastCheck"]["ok"] is False


async def test_a_domain_never_verified_is_removed_seven_days_after_it_was_added(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    await add_domain(adam, team, "acme.example")
    world.clock.advance(days=7, seconds=-1)
    await sweep(world)
    assert len(await domains_of(adam)) == 1

    world.clock.advance(seconds=1)
    done = await sweep(world)

    assert done["domain_expiry"] == 1
    assert await domains_of(adam) == []
    newest = (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"][0]["node"]
    assert newest == {
        "action": "domain.expired",
        "actorKind": "system",
        "details": {"name": "acme.example"},
    }
    assert (await sweep(world))["domain_expiry"] == 0


async def test_a_verified_domain_is_checked_daily_and_each_success_extends_it(
    world: World, dns: Zone
) -> None:
    _, adam, team = await team_with_admin(world)
    await verified(dns, adam, team, "acme.example")

    world.clock.advance(hours=23)
    assert (await sweep(world))["domain_checks"] == 0
    world.clock.advance(hours=1)
    assert (await sweep(world))["domain_checks"] == 1

    (domain,) = await domains_of(adam)
    assert domain["status"] == "VERIFIED"
    assert domain["verifiedUntil"] == (world.clock.now() + timedelta(days=7)).isoformat()
    assert domain["lastCheck"] == {
        "at": world.clock.now().isoformat(),
        "ok": True,
        "message": "Found the TXT record at _orgward-challenge.acme.example.",
    }


async def test_a_record_removed_later_warns_the_admins_then_the_domain_lapses(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    mia = await world.sign_up("mia", email="mia@acme.example")
    await world.add_member(team, mia, Role.MEMBER)
    domain = await verified(dns, adam, team, "acme.example")
    verified_until = domain["verifiedUntil"]
    unpublish(dns, domain)

    world.clock.advance(days=1)
    await sweep(world)
    await sweep(world)  # the outbox sends what the domain sweep queued

    (failing,) = await domains_of(adam)
    assert failing["status"] == "VERIFIED"
    assert failing["verifiedUntil"] == verified_until
    assert failing["lastCheck"]["ok"] is False
    for manager in (olga, adam):
        (warning,) = world.mailbox.to(manager.email, "domain_check_failed")
        assert "acme.example" in warning["Subject"]
        assert "No TXT record" in warning.get_content()
    assert world.mailbox.to(mia.email, "domain_check_failed") == []

    world.clock.advance(hours=1)  # retried sooner than daily, without another email
    assert (await sweep(world))["domain_checks"] == 1
    assert len(world.mailbox.to(olga.email, "domain_check_failed")) == 1

    world.clock.advance(days=6)
    await sweep(world)
    await sweep(world)

    (lapsed,) = await domains_of(adam)
    assert lapsed["status"] == "LAPSED"
    for manager in (olga, adam):
        (notice,) = world.mailbox.to(manager.email, "domain_lapsed")
        assert "no longer verified" in notice["Subject"]
    actions = [
        edge["node"]["action"]
        for edge in (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"]
    ]
    assert world.mailbox.to(mia.email, "domain_lapsed") == []
    assert actions[:2] == ["domain.lapsed", "domain.check_failed"]
    dns.asked.clear()
    world.clock.advance(days=30)
    await sweep(world)
    assert dns.asked == []  # a lapsed domain is checked again only when an admin asks


async def test_a_record_put_back_in_time_keeps_the_domain(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await verified(dns, adam, team, "acme.example")
    unpublish(dns, domain)
    world.clock.advance(days=1)
    await sweep(world)

    publish(dns, domain)
    world.clock.advance(hours=1)
    await sweep(world)
    world.clock.advance(days=6, hours=1)
    await sweep(world)

    (kept,) = await domains_of(adam)
    assert kept["status"] == "VERIFIED"
    assert kept["lastCheck"]["ok"] is True


async def test_workers_sweeping_at_once_check_each_domain_once(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    for number in range(6):
        publish(dns, await add_domain(adam, team, f"site{number}.example"))
    world.clock.advance(minutes=5)
    context = WorkerContext(
        engine=world.engine,
        sessions=session_factory(world.engine),
        settings=world.settings,
        clock=world.clock,
    )

    counts = await asyncio.gather(*(check_due_domains(context) for _ in range(3)))

    assert sum(counts) == 6
    challenge_lookups = [name for name in dns.asked if name.startswith("_orgward-challenge.")]
    assert sorted(challenge_lookups) == [f"_orgward-challenge.site{n}.example" for n in range(6)]
    assert {d["status"] for d in await domains_of(adam)} == {"VERIFIED"}


async def test_two_teams_proving_one_name_at_once_cannot_stop_other_teams_checks(
    world: World, dns: Zone
) -> None:
    """One person's two teams add the same name and publish both tokens, so both become due in
    the batch that also re-checks another team's verified domain; the worker is then down for
    a day (the clock jumps). Only the first of the two may hold the name, and the victim's
    domain is re-checked and kept every day after."""
    _, adam, acme = await team_with_admin(world)
    victim = await verified(dns, adam, acme, "acme.example")
    eve = await world.sign_up("eve")
    first = await world.make_team(eve, name="Eve One", slug="eve-one")
    second = await world.make_team(eve, name="Eve Two", slug="eve-two")
    world.clock.advance(hours=23, minutes=55)
    publish(dns, await add_domain(eve, first, "evil.example"))
    publish(dns, await add_domain(eve, second, "evil.example"), at_apex=True)

    for _day in range(9):
        world.clock.advance(days=1)
        done = await sweep(world)
        assert done["domain_checks"] >= 1, done
        (kept,) = await domains_of(adam)
        assert kept["status"] == "VERIFIED"
        assert kept["lastCheck"]["at"] == world.clock.now().isoformat()
        assert kept["verifiedUntil"] == (world.clock.now() + timedelta(days=7)).isoformat()

    (held,) = await domains_of(eve, "eve-one")
    assert held["status"] == "VERIFIED"
    assert kept["verifiedAt"] == victim["verifiedAt"]


async def test_of_two_teams_proving_one_name_in_one_batch_the_first_added_holds_it(
    world: World, dns: Zone
) -> None:
    eve = await world.sign_up("eve")
    first = await world.make_team(eve, name="Eve One", slug="eve-one")
    second = await world.make_team(eve, name="Eve Two", slug="eve-two")
    publish(dns, await add_domain(eve, first, "evil.example"))
    publish(dns, await add_domain(eve, second, "evil.example"), at_apex=True)
    world.clock.advance(minutes=5)

    assert (await sweep(world))["domain_checks"] == 2

    (held,) = await domains_of(eve, "eve-one")
    (refused,) = await domains_of(eve, "eve-two")
    assert held["status"] == "VERIFIED"
    assert refused["status"] == "PENDING"
    assert refused["lastCheck"]["ok"] is False
    assert refused["lastCheck"]["message"] == "Another team has already verified this domain."


async def test_a_failed_check_asked_by_an_admin_warns_once_for_the_whole_run(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    domain = await verified(dns, adam, team, "acme.example")
    unpublish(dns, domain)
    world.clock.advance(hours=2)

    checked = (await verify(adam, domain))["domain"]
    assert (checked["status"], checked["lastCheck"]["ok"]) == ("VERIFIED", False)
    await sweep(world)
    for manager in (olga, adam):
        assert len(world.mailbox.to(manager.email, "domain_check_failed")) == 1

    for _step in range(8 * 6):  # the worker's retries, every 4 hours, until it lapses
        world.clock.advance(hours=4)
        await sweep(world)
        await sweep(world)

    (lapsed,) = await domains_of(adam)
    assert lapsed["status"] == "LAPSED"
    for manager in (olga, adam):
        assert len(world.mailbox.to(manager.email, "domain_check_failed")) == 1
        assert len(world.mailbox.to(manager.email, "domain_lapsed")) == 1


async def test_a_success_ends_the_run_so_the_next_failure_warns_again(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    domain = await verified(dns, adam, team, "acme.example")
    unpublish(dns, domain)
    world.clock.advance(days=1)
    await sweep(world)
    publish(dns, domain)
    world.clock.advance(hours=1)
    await sweep(world)

    unpublish(dns, domain)
    world.clock.advance(days=1)
    await sweep(world)
    await sweep(world)

    assert len(world.mailbox.to(olga.email, "domain_check_failed")) == 2
