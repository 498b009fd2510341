"""A takeover's (and a release's) notices leave its transaction as one NoticeBatch each; the
worker writes them out per user (in-app and by email) once, however many workers run, and a
batch that fails is tried again. Who is told is exactly who was told before: the accounts
named, managed, skipped, still waiting at a cancellation, or released."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col
from structlog.testing import capture_logs

from core.db import session_factory
from models import NoticeBatch, Notification, OutboxMessage
from services import notice_batches
from tests.conftest import POSTGRES_URL
from tests.domains.flows import verified_domain
from tests.managed.conftest import CHANGE_EMAIL
from tests.support.dns import Zone
from tests.support.world import PASSWORD, World
from worker.notices import expand_notice_batches

from .flows import CANCEL, RELEASE, acme, announced, kinds, notices
from .test_takeover_statements import insert_users, worker


async def counts(world: World) -> tuple[int, int, int]:
    """(notifications, takeover emails queued, batches not yet written out)."""
    async with session_factory(world.engine)() as db:
        notes = await db.scalar(select(func.count()).select_from(Notification))
        mails = await db.scalar(
            select(func.count()).where(col(OutboxMessage.kind).like("takeover%"))
        )
        waiting = await db.scalar(select(func.count()).where(col(NoticeBatch.done_at).is_(None)))
    return int(notes or 0), int(mails or 0), int(waiting or 0)


async def test_the_notices_appear_after_the_sweep_and_only_once(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    before = await counts(world)
    await announced(org.adam, org.domain, noticeDays=7)

    # The announcement wrote one batch, no notice and no email.
    assert await counts(world) == (before[0], before[1], 1)
    assert kinds(await notices(ann)) == []
    assert await expand_notice_batches(worker(world)) == 1
    assert kinds(await notices(ann)) == ["takeover.announced"]
    assert await counts(world) == (before[0] + 1, before[1] + 1, 0)
    # Nothing left to write out: a second run changes nothing.
    assert await expand_notice_batches(worker(world)) == 0
    assert await counts(world) == (before[0] + 1, before[1] + 1, 0)
    await world.deliver_mail()
    assert len(world.mailbox.to("ann@acme.example", "takeover_announced")) == 1


async def test_each_step_tells_whom_it_concerns(world: World, dns: Zone) -> None:
    """Announced: every named account (by the address it was named by); effective: the
    managed ones; skipped: those that left (by email only at a verified address); released:
    the released ones."""
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    bob = await world.sign_up("bob", email="bob@acme.example")
    outsider = await world.sign_up("otto", email="otto@other.example")
    await announced(org.adam, org.domain, noticeDays=7)
    world.mailbox.clear()
    # Bob moves to an address he has not confirmed: the announcement, written out after,
    # still goes to the address he was named by.
    data = await bob(CHANGE_EMAIL, input={"email": "bob@personal.example", "password": PASSWORD})
    assert data["changeEmail"]["errors"] == []
    world.clock.advance(days=7)
    assert (await world.deliver_mail())["takeovers"] == 1
    await world.deliver_mail()

    assert kinds(await notices(ann)) == ["takeover.effective", "takeover.announced"]
    assert kinds(await notices(bob)) == ["takeover.skipped", "takeover.announced"]
    assert kinds(await notices(outsider)) == []
    assert world.mailbox.last_to("ann@acme.example", "takeover_effective")
    assert world.mailbox.last_to("bob@acme.example", "takeover_announced")
    assert world.mailbox.to("bob@personal.example", "takeover_skipped") == []

    released = await org.adam(RELEASE, input={"teamId": org.team.id, "domainId": org.domain["id"]})
    assert released["releaseManagedAccounts"]["releasedCount"] == 1
    await world.deliver_mail()
    assert kinds(await notices(ann))[0] == "managed_account.released"
    assert kinds(await notices(bob))[0] == "takeover.skipped"
    assert world.mailbox.last_to("ann@acme.example", "managed_account_released")


async def test_a_failed_batch_is_rolled_back_and_tried_again(
    world: World, dns: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    takeover = await announced(org.adam, org.domain, noticeDays=7)
    await org.adam(CANCEL, input={"takeoverId": takeover["id"]})
    real = notice_batches._audience
    calls: list[int] = []

    def fail_the_first(batch: NoticeBatch) -> Any:
        calls.append(batch.id or 0)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(batch)

    monkeypatch.setattr(notice_batches, "_audience", fail_the_first)
    with capture_logs() as logs:
        # The first fails (nothing of it stays); the run goes on past it to the second.
        assert await expand_notice_batches(worker(world)) == 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["notices.expand_failed"]
    assert kinds(await notices(ann)) == ["takeover.cancelled"]
    assert (await counts(world))[2] == 1

    assert await expand_notice_batches(worker(world)) == 1
    assert (await counts(world))[2] == 0
    assert sorted(kinds(await notices(ann))) == ["takeover.announced", "takeover.cancelled"]


async def test_writing_a_batch_out_costs_the_same_statements_for_3_or_30(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    small = await verified_domain(dns, org.adam, org.team, "small.example")
    large = await verified_domain(dns, org.adam, org.team, "large.example")
    await insert_users(world, "s", "small.example", 3)
    await insert_users(world, "l", "large.example", 30)
    await announced(org.olga, org.domain, noticeDays=1)
    await expand_notice_batches(worker(world))

    await announced(org.olga, small, noticeDays=1)
    with world.count_statements() as three:
        assert await expand_notice_batches(worker(world)) == 1
    await announced(org.olga, large, noticeDays=1)
    with world.count_statements() as thirty:
        assert await expand_notice_batches(worker(world)) == 1
    assert three.count == thirty.count, (three.statements, thirty.statements)
    assert (await counts(world))[:2] == (33, 33)


@pytest.mark.skipif(not POSTGRES_URL, reason="row locks: PostgreSQL only")
async def test_two_workers_write_a_batch_out_once(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    await insert_users(world, "u", "acme.example", 200)
    for n in range(4):
        domain = await verified_domain(dns, org.adam, org.team, f"d{n}.example")
        await insert_users(world, f"d{n}u", f"d{n}.example", 50)
        await announced(org.olga, domain, noticeDays=1)
    await announced(org.olga, org.domain, noticeDays=1)

    done = await asyncio.gather(*(expand_notice_batches(worker(world)) for _ in range(2)))

    assert sum(done) == 5
    assert await counts(world) == (400, 400, 0)
