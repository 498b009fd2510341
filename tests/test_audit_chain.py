"""The audit trail is hash-chained per team: edits, insertions and deletions are detectable."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

from core.db import session_factory
from models import AuditChain, AuditEvent, Role
from services import audit_chain
from tests.support.world import World

RENAME = """mutation($id: ID!, $name: String!) {
  updateTeam(input: {teamId: $id, name: $name}) { team { name } errors { code } } }"""


async def _verify(world: World, key: str) -> audit_chain.ChainCheck:
    async with session_factory(world.engine)() as db:
        return await audit_chain.verify(db, key)


async def _team_setup(world: World) -> tuple[World, str]:
    alice = await world.sign_up("alice")
    team = await world.make_team(alice)
    for name in ("One", "Two", "Three"):
        await alice(RENAME, id=team.id, name=name)
    return world, f"team:{team.pk}"


async def test_mutations_append_an_intact_chain(world: World) -> None:
    _, key = await _team_setup(world)
    check = await _verify(world, key)
    assert check.intact and check.events == 4  # created + three renames
    async with session_factory(world.engine)() as db:
        every = await audit_chain.verify_all(db)
        events = (
            (
                await db.execute(
                    select(AuditEvent)
                    .where(AuditEvent.chain_key == key)
                    .order_by(AuditEvent.chain_seq)
                )
            )
            .scalars()
            .all()
        )
    assert all(c.intact for c in every)
    assert [e.action for e in events] == ["team.created"] + ["team.updated"] * 3
    assert events[1].prev_hash == events[0].hash


async def test_an_edited_event_breaks_the_chain(world: World) -> None:
    _, key = await _team_setup(world)
    async with world.engine.begin() as connection:
        await connection.execute(
            update(AuditEvent)
            .where(AuditEvent.chain_key == key, AuditEvent.chain_seq == 2)
            .values(details={"fields": ["nothing"]})
        )
    assert (await _verify(world, key)).broken_at_seq == 2


async def test_a_deleted_event_breaks_the_chain(world: World) -> None:
    _, key = await _team_setup(world)
    async with world.engine.begin() as connection:
        await connection.execute(
            delete(AuditEvent).where(AuditEvent.chain_key == key, AuditEvent.chain_seq == 2)
        )
    assert (await _verify(world, key)).broken_at_seq == 2


async def test_a_truncated_chain_is_detected_by_its_head(world: World) -> None:
    _, key = await _team_setup(world)
    async with world.engine.begin() as connection:
        await connection.execute(
            delete(AuditEvent).where(AuditEvent.chain_key == key, AuditEvent.chain_seq == 4)
        )
    check = await _verify(world, key)
    assert not check.intact and check.events == 3


async def test_concurrent_appends_to_one_chain_never_fork(world: World) -> None:
    alice = await world.sign_up("alice")
    team = await world.make_team(alice)
    bob = await world.sign_up("bob")
    await world.add_member(team, bob, role=Role.ADMIN)
    await asyncio.gather(
        *((alice if i % 2 else bob)(RENAME, id=team.id, name=f"Name {i}") for i in range(8))
    )
    check = await _verify(world, f"team:{team.pk}")
    assert check.intact and check.events == 9
    async with session_factory(world.engine)() as db:
        head = await db.get(AuditChain, f"team:{team.pk}")
    assert head is not None and head.seq == 9


async def test_failed_sign_ins_are_chained_too(world: World) -> None:
    alice = await world.sign_up("alice")
    body = await world.client().raw(
        'mutation { signIn(input: {identifier: "alice", password: "wrong password!"}) '
        "{ errors { code } } }"
    )
    assert body["data"]["signIn"]["errors"][0]["code"] == "INVALID_INPUT"
    from api.relay import from_global_id

    user_pk = from_global_id(alice.id)[1]  # type: ignore[index]
    check = await _verify(world, f"user:{user_pk}")
    async with session_factory(world.engine)() as db:
        actions = (
            (
                await db.execute(
                    select(AuditEvent.action)
                    .where(AuditEvent.chain_key == f"user:{user_pk}")
                    .order_by(AuditEvent.chain_seq)
                )
            )
            .scalars()
            .all()
        )
    assert check.intact
    assert actions[-1] == "user.sign_in_failed" and "user.signed_up" in actions
