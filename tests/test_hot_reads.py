"""Hot reads (core/hot_reads.py) and a request's lazy database (core/request_db.py).

On PostgreSQL a hot read goes straight to asyncpg; these tests hold it to what SQLAlchemy
would have returned, to the request's transaction, and to the statement counters.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlmodel import col

from core.db import session_factory
from core.hot_reads import HotRead, columns_of, loaded
from core.request_db import RequestDatabase
from models import User, UserStatus
from tests.support.world import World

USERS = HotRead(
    select(*columns_of(User))
    .where(col(User.username) == bindparam("username"), col(User.status) == UserStatus.ACTIVE)
    .order_by(col(User.id))
)


async def test_a_hot_read_returns_what_the_session_returns(world: World) -> None:
    await world.sign_up("alice")
    async with session_factory(world.engine)() as db:
        expected = [tuple(row) for row in await db.execute(USERS.statement, {"username": "alice"})]
        with world.count_statements() as counted:
            got = await USERS.rows(db, username="alice")
    assert got == expected and len(got) == 1
    # Converted by SQLAlchemy's own processors: an enum, aware datetimes.
    row = dict(zip([c.key for c in columns_of(User)], got[0], strict=True))
    assert row["status"] is UserStatus.ACTIVE
    assert row["created_at"].utcoffset() == timedelta(0)
    assert counted.count == 1  # statement counters see it like any other


async def test_a_hot_read_sees_the_requests_own_uncommitted_writes(world: World) -> None:
    await world.sign_up("alice")
    database = RequestDatabase(world.engine, session_factory(world.engine))
    try:
        user = (await database.execute(select(User).where(col(User.username) == "alice"))).scalar()
        assert user is not None
        user.status = UserStatus.DEACTIVATED
        await database.flush()
        assert await USERS.rows(database, username="alice") == []
    finally:
        await database.end(commit=False)
    async with session_factory(world.engine)() as db:
        assert len(await USERS.rows(db, username="alice")) == 1  # rolled back


async def test_an_entity_from_a_hot_read_joins_the_session_and_saves(world: World) -> None:
    await world.sign_up("alice")
    database = RequestDatabase(world.engine, session_factory(world.engine))
    try:
        row = await USERS.first(database, username="alice")
        assert row is not None
        # On PostgreSQL the read needed no session (elsewhere it goes through one).
        assert database.has_session is (world.engine.dialect.driver != "asyncpg")
        user = loaded(
            database, User, {c.key: v for c, v in zip(columns_of(User), row, strict=True)}
        )
        user.company = "Initech"
        # The session made later knows the entity: no second copy, and the change is saved.
        same = await database.get(User, user.id)
        assert same is user
    finally:
        await database.end(commit=True)
    async with session_factory(world.engine)() as db:
        saved = (await db.execute(select(User).where(col(User.username) == "alice"))).scalar()
        assert saved is not None and saved.company == "Initech"


async def test_a_request_that_needs_no_database_opens_nothing(world: World) -> None:
    anonymous = world.client()
    with world.count_statements() as counted:
        data = await anonymous("{ viewer { id } }")
    assert data == {"viewer": None}
    assert counted.count == 0


async def test_a_signed_in_viewer_costs_one_statement(world: World) -> None:
    alice = await world.sign_up("alice")
    await alice("{ viewer { id } }")  # the last-seen write, at most once a minute
    with world.count_statements() as counted:
        data = await alice("{ viewer { username } }")
    assert data == {"viewer": {"username": "alice"}}
    assert [s.split()[0] for s in counted.statements] == ["SELECT"]


async def test_loaders_of_one_request_share_its_connection_one_statement_at_a_time(
    world: World,
) -> None:
    # Members, domains and invitations load side by side (DataLoaders), all as hot reads or
    # statements on the one connection of the request.
    alice = await world.sign_up("alice")
    team = await world.make_team(alice, slug="acme")
    bob = await world.sign_up("bob")
    await world.add_member(team, bob)
    data = await alice(
        """query($slug: String!) { team(slug: $slug) {
            members(first: 5) { edges { node { role user { username } } } }
            domains { name }
            invitations { email }
            contacts { role }
        } }""",
        slug="acme",
    )
    members = [edge["node"]["user"]["username"] for edge in data["team"]["members"]["edges"]]
    assert members == ["alice", "bob"]
    assert data["team"]["domains"] == [] and data["team"]["invitations"] == []
