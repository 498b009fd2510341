"""A takeover meeting the end of its domain: whichever commits first, no account stays managed
through a domain the team no longer holds, and no stale announcement holds a domain's name.
And the sweep goes on past takeovers that fail."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text, update
from structlog.testing import capture_logs

from auth.actor import Actor
from core.db import session_factory
from models import Takeover, TakeoverStatus
from services import takeover_release
from services.context import ServiceContext
from services.takeover_effect import take_effect_if_due
from tests.conftest import POSTGRES_URL
from tests.domains.flows import REMOVE_DOMAIN, unpublish, verified_domain
from tests.support.dns import Zone
from tests.support.world import World
from worker import takeover as takeover_sweep
from worker.context import WorkerContext
from worker.takeover import make_takeovers_effective

from .flows import TEAM_TAKEOVERS, acme, announce, announced, kinds, notices, pk, trail


def worker(world: World) -> WorkerContext:
    return WorkerContext(
        engine=world.engine,
        sessions=session_factory(world.engine),
        settings=world.settings,
        clock=world.clock,
    )


async def status_of(world: World, takeover: dict[str, Any]) -> TakeoverStatus:
    async with session_factory(world.engine)() as db:
        row = await db.get(Takeover, pk(takeover["id"]))
        assert row is not None
        return TakeoverStatus(row.status)


async def test_a_takeover_taking_effect_while_its_domain_is_removed_leaves_nobody_managed(
    world: World, dns: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    takeover = await announced(org.olga, org.domain, noticeDays=1)
    world.clock.advance(days=1)
    # removeDomain holds the domain row and waits for the team's lock; the takeover sweep,
    # holding it, makes the takeover effective and commits; then removeDomain gets the lock.
    # (Played in removeDomain's own transaction, so that it runs the same on every database.)
    real_lock_team = takeover_release.lock_team
    effects: list[bool] = []

    async def lock_team_after_the_sweep(ctx: ServiceContext, team_id: int) -> None:
        if not effects:
            sweep = ServiceContext(
                db=ctx.db, actor=Actor.system(), settings=ctx.settings, clock=ctx.clock
            )
            effects.append(await take_effect_if_due(sweep, takeover_id=pk(takeover["id"])))
        await real_lock_team(ctx, team_id)

    monkeypatch.setattr(takeover_release, "lock_team", lock_team_after_the_sweep)

    data = await org.adam(REMOVE_DOMAIN, input={"domainId": org.domain["id"]})

    assert data["removeDomain"]["errors"] == []
    assert effects == [True]
    assert await status_of(world, takeover) is TakeoverStatus.EFFECTIVE
    # What the removal found once it held the lock includes Ann, managed a moment before.
    await world.deliver_mail()
    viewer = await notices(ann)
    assert viewer["managedBy"] is None
    assert kinds(viewer)[0] == "managed_account.released"
    event = next(e for e in await trail(org.adam) if e["action"] == "managed_accounts.released")
    assert event["details"]["reason"] == "domain_removed"
    assert event["details"]["user_ids"] == [pk(ann.id)]


async def test_a_takeover_whose_domain_lapsed_is_cancelled_before_its_date(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    takeover = await announced(org.adam, org.domain, noticeDays=30)
    unpublish(dns, org.domain)
    world.clock.advance(days=8)

    # The takeover sweep alone, before the domain sweep marks the domain lapsed.
    assert await make_takeovers_effective(worker(world)) == 1

    assert await status_of(world, takeover) is TakeoverStatus.CANCELLED
    await world.deliver_mail()
    assert kinds(await notices(ann)) == ["takeover.cancelled", "takeover.announced"]
    event = next(e for e in await trail(org.adam) if e["action"] == "takeover.cancelled")
    assert event["details"]["reason"] == "domain_not_verified"


async def test_a_takeover_whose_domain_row_is_gone_no_longer_holds_the_name(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    await world.sign_up("ann", email="ann@acme.example")
    stale = await announced(org.adam, org.domain, noticeDays=30)
    # Its domain row went some way that did not end the takeover (the foreign key set null).
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(Takeover).where(Takeover.id == pk(stale["id"])).values(domain_id=None)  # type: ignore[arg-type]
        )
        await db.commit()
    blocked = await announce(org.adam, org.domain)
    assert [e["code"] for e in blocked["errors"]] == ["CONFLICT"]

    assert await make_takeovers_effective(worker(world)) == 1

    assert await status_of(world, stale) is TakeoverStatus.CANCELLED
    assert (await announced(org.adam, org.domain))["status"] == "ANNOUNCED"


async def test_a_takeover_in_force_and_not_due_is_left_alone(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    takeover = await announced(org.adam, org.domain, noticeDays=7)

    assert await make_takeovers_effective(worker(world)) == 0

    assert await status_of(world, takeover) is TakeoverStatus.ANNOUNCED


async def test_failing_takeovers_do_not_starve_the_others(
    world: World, dns: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await acme(world, dns)
    other = await verified_domain(dns, org.adam, org.team, "acme-labs.example")
    ann = await world.sign_up("ann", email="ann@acme.example")
    bea = await world.sign_up("bea", email="bea@acme-labs.example")
    broken = await announced(org.olga, org.domain, noticeDays=1)
    world.clock.advance(hours=1)
    fine = await announced(org.olga, other, noticeDays=1)
    world.clock.advance(days=1)
    # One place per batch: the broken takeover, due first, would take it on every run.
    monkeypatch.setattr(takeover_sweep, "BATCH_SIZE", 1)
    real = takeover_sweep.take_effect_if_due

    async def failing_for_one(ctx: ServiceContext, *, takeover_id: int) -> bool:
        if takeover_id == pk(broken["id"]):
            raise RuntimeError("broken takeover")
        return await real(ctx, takeover_id=takeover_id)

    monkeypatch.setattr(takeover_sweep, "take_effect_if_due", failing_for_one)

    with capture_logs() as logs:
        assert await make_takeovers_effective(worker(world)) == 1

    assert await status_of(world, fine) is TakeoverStatus.EFFECTIVE
    assert (await notices(bea))["managedBy"]["name"] == "Acme"
    # The broken one stays announced for the next run, and the log says which it was.
    assert await status_of(world, broken) is TakeoverStatus.ANNOUNCED
    assert (await notices(ann))["managedBy"] is None
    failures = [entry for entry in logs if entry["event"] == "takeover.effect_failed"]
    assert [entry["takeover_id"] for entry in failures] == [pk(broken["id"])]


@pytest.mark.skipif(not POSTGRES_URL, reason="row locks: PostgreSQL only")
async def test_announce_takes_the_domain_row_before_the_teams_lock(world: World, dns: Zone) -> None:
    """removeDomain (and the lapse sweep) lock the domain row, then the team. An announcement
    taking them the other way round would deadlock with it (the new takeover row's foreign key
    waits on the domain row while the announcement holds the team's lock)."""
    org = await acme(world, dns)
    await world.sign_up("ann", email="ann@acme.example")
    domain_id = pk(org.domain["id"])
    async with world.engine.connect() as remover:
        transaction = await remover.begin()
        await remover.execute(
            text("SELECT id FROM domain WHERE id = :id FOR UPDATE"), {"id": domain_id}
        )
        announcing = asyncio.create_task(announce(org.olga, org.domain, noticeDays=0))
        await waiting_on_a_lock(world)
        await remover.execute(
            text("UPDATE team SET updated_at = updated_at WHERE id = :id"), {"id": org.team.pk}
        )
        await transaction.commit()

    payload = await announcing
    assert payload["errors"] == []
    assert payload["takeover"]["status"] == "EFFECTIVE"
    data = await org.adam(TEAM_TAKEOVERS, slug="acme")
    assert len(data["team"]["takeovers"]["edges"]) == 1


async def waiting_on_a_lock(world: World) -> None:
    """Until another session of this database waits on a lock (the announcement's request)."""
    async with world.engine.connect() as watcher:
        for _ in range(1000):
            waiting = await watcher.scalar(
                select(text("count(*)"))
                .select_from(text("pg_stat_activity"))
                .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
            )
            if waiting:
                return
            await watcher.rollback()
            await asyncio.sleep(0.01)
    raise AssertionError("the announcement never waited on a lock")
