"""The claim is set-based (SPEC 5): announcing for 30 accounts, and making that takeover
effective, issue exactly as many SQL statements as for 3."""

from __future__ import annotations

from core.db import session_factory
from models import User
from tests.domains.flows import verified_domain
from tests.support.dns import Zone
from tests.support.world import World
from worker.context import WorkerContext
from worker.takeover import make_takeovers_effective

from .flows import acme, announced, notices


async def insert_users(world: World, prefix: str, domain: str, count: int) -> None:
    """Accounts with a verified address in `domain`, written straight to the database."""
    now = world.clock.now()
    async with session_factory(world.engine)() as db:
        db.add_all(
            User(
                username=f"{prefix}{i}",
                email=f"{prefix}{i}@{domain}",
                email_verified_at=now,
                created_at=now,
                updated_at=now,
            )
            for i in range(count)
        )
        await db.commit()


def worker(world: World) -> WorkerContext:
    return WorkerContext(
        engine=world.engine,
        sessions=session_factory(world.engine),
        settings=world.settings,
        clock=world.clock,
    )


async def test_announcing_and_taking_effect_cost_the_same_statements_for_3_or_30(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns, name="warmup.example")
    small = await verified_domain(dns, org.adam, org.team, "small.example")
    large = await verified_domain(dns, org.adam, org.team, "large.example")
    await insert_users(world, "s", "small.example", 3)
    await insert_users(world, "l", "large.example", 30)
    await insert_users(world, "w", "warmup.example", 1)
    # Whatever happens only once (the first takeover of the team, caches) happens here.
    await announced(org.olga, org.domain, noticeDays=1)

    with world.count_statements() as three:
        assert (await announced(org.olga, small, noticeDays=2))["affectedCount"] == 3
    with world.count_statements() as thirty:
        assert (await announced(org.olga, large, noticeDays=3))["affectedCount"] == 30
    assert three.count == thirty.count, (three.statements, thirty.statements)

    world.clock.advance(days=1)
    assert await make_takeovers_effective(worker(world)) == 1
    world.clock.advance(days=1)
    with world.count_statements() as three:
        assert await make_takeovers_effective(worker(world)) == 1
    world.clock.advance(days=1)
    with world.count_statements() as thirty:
        assert await make_takeovers_effective(worker(world)) == 1
    assert three.count == thirty.count, (three.statements, thirty.statements)
    # ... and no statement per account anywhere in it.
    assert three.count < 25, three.statements


async def test_a_viewers_notices_are_one_page_query(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)

    with world.count_statements() as counter:
        viewer = await notices(ann)
    assert viewer["managedBy"]["name"] == "Acme"
    # Session lookup and its touch, managedBy, the page, the unread count.
    assert counter.count <= 6, counter.statements
