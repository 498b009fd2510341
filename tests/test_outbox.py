"""The email outbox: written with the change, delivered over real SMTP, retried with backoff."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db import session_factory
from models import OutboxMessage
from tests.support.world import World
from worker.context import WorkerContext
from worker.outbox import MAX_ATTEMPTS, backoff, deliver_outbox
from worker.outbox import _claim as claim


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _worker(world: World, **overrides: object) -> WorkerContext:
    settings = world.settings.model_copy(update=overrides)
    return WorkerContext(
        engine=world.engine,
        sessions=session_factory(world.engine),
        settings=settings,
        clock=world.clock,
    )


async def _messages(world: World) -> list[OutboxMessage]:
    async with session_factory(world.engine)() as db:
        return list((await db.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_smtp_round_trip(world: World) -> None:
    await world.sign_up("alice", verified=False)
    assert world.mailbox.to("alice@example.org") == []  # nothing leaves before the worker runs
    delivered = await deliver_outbox(_worker(world))
    assert delivered == 1
    message = world.mailbox.last_to("alice@example.org", "verify_email")
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == world.settings.smtp_sender
    assert "http://127.0.0.1:8000/verify-email?token=" in message.get_content()
    (row,) = await _messages(world)
    assert row.sent_at == world.clock.now() and row.attempts == 1
    # Delivered once only.
    assert await deliver_outbox(_worker(world)) == 0
    assert len(world.mailbox.to("alice@example.org")) == 1


async def test_unreachable_smtp_is_retried_with_backoff(world: World) -> None:
    await world.sign_up("alice", verified=False)
    down = _worker(world, smtp_port=_closed_port(), smtp_timeout_seconds=1)
    assert await deliver_outbox(down) == 0
    (row,) = await _messages(world)
    assert row.attempts == 1 and row.sent_at is None and row.failed_at is None
    assert row.last_error and row.due_at == world.clock.now() + backoff(1)

    # Not due yet: a second run does not touch it.
    assert await deliver_outbox(down) == 0
    assert (await _messages(world))[0].attempts == 1

    world.clock.advance(backoff(1))
    assert await deliver_outbox(_worker(world)) == 1  # the server is back
    (row,) = await _messages(world)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    assert world.mailbox.last_to("alice@example.org", "verify_email")


async def test_delivery_gives_up_after_the_last_attempt(world: World) -> None:
    await world.sign_up("alice", verified=False)
    down = _worker(world, smtp_port=_closed_port(), smtp_timeout_seconds=1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await deliver_outbox(down)
        world.clock.advance(backoff(attempt) + timedelta(seconds=1))
    (row,) = await _messages(world)
    assert row.attempts == MAX_ATTEMPTS and row.failed_at is not None and row.sent_at is None
    assert await deliver_outbox(_worker(world)) == 0  # given up for good


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(30) == timedelta(hours=2)


async def test_concurrent_workers_deliver_each_message_once(world: World) -> None:
    if world.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED concurrency needs PostgreSQL (ORGWARD_TEST_DATABASE_URL)")
    for name in ("alice", "bob", "carol", "dave"):
        await world.sign_up(name, verified=False)
    counts = await asyncio.gather(*(deliver_outbox(_worker(world)) for _ in range(3)))
    assert sum(counts) == 4
    async with session_factory(world.engine)() as db:
        pending = await db.scalar(
            select(func.count()).where(OutboxMessage.sent_at.is_(None))  # type: ignore[union-attr]
        )
    assert pending == 0
    assert len(world.mailbox.messages) == 4


async def test_one_broken_message_does_not_resend_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.outbox as outbox

    await world.sign_up("alice", verified=False)
    await world.sign_up("bob", verified=False)
    real_compose = outbox.compose

    def compose(message: OutboxMessage, sender: str):  # type: ignore[no-untyped-def]
        if message.to_address.startswith("alice"):
            raise RuntimeError("template exploded")
        return real_compose(message, sender)

    monkeypatch.setattr(outbox, "compose", compose)
    for _ in range(3):
        await deliver_outbox(_worker(world))
        world.clock.advance(hours=3)
    assert len(world.mailbox.to("bob@example.org")) == 1  # delivered once, never again
    alice_row = next(m for m in await _messages(world) if m.to_address.startswith("alice"))
    assert alice_row.sent_at is None and "template exploded" in (alice_row.last_error or "")
    assert alice_row.attempts == 3


async def test_a_claimed_message_is_not_taken_by_another_worker(world: World) -> None:
    await world.sign_up("alice", verified=False)
    claimed = await claim(_worker(world), world.clock.now())
    assert len(claimed) == 1
    # A second worker finds nothing due while the lease runs …
    assert await deliver_outbox(_worker(world)) == 0
    # … and retries it once the lease has ended (the first worker died before sending).
    world.clock.advance(minutes=6)
    assert await deliver_outbox(_worker(world)) == 1
    assert len(world.mailbox.to("alice@example.org")) == 1
