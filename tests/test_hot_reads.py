"""Hot reads (core/hot_reads.py) and a request's lazy database (core/request_db.py).

On PostgreSQL a hot read goes straight to asyncpg; these tests hold it to what SQLAlchemy
would have returned, to the request's transaction, and to the statement counters.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Enum as SAEnum
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aiosqlite
from sqlmodel import col

import models
from core import hot_reads
from core.db import create_engine, session_factory
from core.hot_reads import HotRead, columns_of, loaded
from core.request_db import RequestDatabase
from models import User, UserStatus
from models.base import UTCDateTime
from tests.support.client import ORIGIN
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
    # Every datetime in UTC as such, as SQLAlchemy's processors give it (asyncpg's own).
    moments = [value for value in got[0] if isinstance(value, datetime)]
    assert moments and all(moment.tzinfo is UTC for moment in moments)
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
        user = loaded(database, User, row)
        user.company = "Initech"
        # The session made later knows the entity: no second copy, and the change is saved.
        same = await database.get(User, user.id)
        assert same is user
    finally:
        await database.end(commit=True)
    async with session_factory(world.engine)() as db:
        saved = (await db.execute(select(User).where(col(User.username) == "alice"))).scalar()
        assert saved is not None and saved.company == "Initech"


async def test_an_entity_changed_before_the_session_exists_is_updated_not_inserted(
    world: World,
) -> None:
    """On every database: the entity waits for the session as a plain object, and what was
    changed meanwhile is still saved, as an UPDATE of that one row."""
    await world.sign_up("alice")
    async with session_factory(world.engine)() as other:
        row = (await other.execute(USERS.statement, {"username": "alice"})).one()
    database = RequestDatabase(world.engine, session_factory(world.engine))
    try:
        user = loaded(database, User, row)
        assert not database.has_session
        user.company = "Initech"
        user.job_title = user.job_title  # the same value again: nothing to write
        with world.count_statements() as counted:
            assert await database.get(User, user.id) is user
            await database.flush()
    finally:
        await database.end(commit=True)
    assert [statement.split()[0] for statement in counted.statements] == ["UPDATE"]
    assert "company" in counted.statements[0] and "job_title" not in counted.statements[0]
    async with session_factory(world.engine)() as db:
        saved = (await db.execute(select(User).where(col(User.username) == "alice"))).scalar()
        assert saved is not None and saved.company == "Initech"


async def test_what_waits_for_a_session_that_is_never_made_is_still_committed(
    world: World,
) -> None:
    """An entity only added, and a loaded one only changed, with nothing else asking for the
    session: the end of the request makes it for them. Unchanged, nothing is written."""
    await world.sign_up("alice")
    async with session_factory(world.engine)() as other:
        row = (await other.execute(USERS.statement, {"username": "alice"})).one()
    now = world.clock.now()

    unchanged = RequestDatabase(world.engine, session_factory(world.engine))
    loaded(unchanged, User, row)
    with world.count_statements() as counted:
        await unchanged.end(commit=True)
    assert counted.count == 0 and not unchanged.has_session

    changed = RequestDatabase(world.engine, session_factory(world.engine))
    user = loaded(changed, User, row)
    assert loaded(changed, User, row) is user  # one entity per row, as in a session
    user.company = "Initech"
    await changed.end(commit=True)

    added = RequestDatabase(world.engine, session_factory(world.engine))
    added.add(
        models.UserSession(
            user_id=user.id,
            token_hash="f" * 64,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=1),
        )
    )
    assert not added.has_session
    await added.end(commit=True)

    async with session_factory(world.engine)() as db:
        saved = await db.get(User, user.id)
        assert saved is not None and saved.company == "Initech"
        sessions = await db.execute(
            select(models.UserSession).where(col(models.UserSession.token_hash) == "f" * 64)
        )
        assert len(sessions.all()) == 1


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


async def test_a_dropped_connection_leaves_the_pool(world: World) -> None:
    # A restarted database or a dropped link: hot reads go around SQLAlchemy, so they must
    # invalidate the dead connections themselves, or every request they serve fails after.
    if world.engine.dialect.driver != "asyncpg":
        pytest.skip("hot reads reach the driver directly on PostgreSQL only")
    alice = await world.sign_up("alice")
    # An app of its own whose connections are told apart, so only they are cut.
    engine = create_engine(
        world.settings, connect_args={"server_settings": {"application_name": "drop-test"}}
    )
    query = {"query": "{ viewer { username } }"}
    async with world.own_app(alice, engine) as http:
        # Side by side, so the pool holds several connections to cut.
        responses = await asyncio.gather(*(http.post("/graphql", json=query) for _ in range(4)))
        before = [response.status_code for response in responses]
        url = world.engine.url.set(drivername="postgresql")
        admin = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'drop-test'"
            )
        finally:
            await admin.close()
        after = [(await http.post("/graphql", json=query)).status_code for _ in range(4)]
    assert before == [200] * 4 and cut >= 2
    # The request on the dead connection fails; the pool then replaces every older one.
    assert after[1:] == [200, 200, 200], after


async def test_a_cancelled_request_gives_its_connection_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await world.sign_up("alice")
    endpoint = next(r.endpoint for r in world.app.routes if getattr(r, "path", "") == "/graphql")
    started = asyncio.Event()

    async def hang(*_args: Any, **_kwargs: Any) -> None:
        started.set()
        await asyncio.sleep(3600)

    monkeypatch.setattr(endpoint.operations, "run", hang)
    body = b'{"query": "{ viewer { id } }"}'
    cookie = "; ".join(f"{k}={v}" for k, v in alice.client.http.cookies.items())
    scope = {
        "type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql",
        "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "app": world.app,
        "headers": [
            (b"content-type", b"application/json"), (b"origin", ORIGIN.encode()),
            (b"cookie", cookie.encode()), (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(_message: Any) -> None:
        pass

    before = world.engine.pool.checkedout()  # type: ignore[attr-defined]
    request = asyncio.create_task(endpoint(scope, receive, send))
    await asyncio.wait_for(started.wait(), 5)
    assert world.engine.pool.checkedout() == before + 1  # type: ignore[attr-defined]
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert world.engine.pool.checkedout() == before  # type: ignore[attr-defined]


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1), timezones=st.none() | st.timezones() | st.just(UTC)
    ),
    text=st.text(max_size=12),
)
@settings(max_examples=100, deadline=None)
def test_hot_processors_give_what_sqlalchemys_give(moment: datetime, text: str) -> None:
    """The shortcuts for enums and UTC datetimes (core/hot_reads._result_processor) convert
    every value of every model column as SQLAlchemy's own processors do, errors included."""
    for dialect in (postgresql_asyncpg.dialect(), sqlite_aiosqlite.dialect()):
        for table in models.metadata.sorted_tables:
            for column in table.columns:
                impl = column.type.dialect_impl(dialect)
                stock = impl.result_processor(dialect, None)
                hot = hot_reads._result_processor(column.type, dialect)
                if stock is None:
                    assert hot is None
                    continue
                if isinstance(impl, UTCDateTime) and dialect.driver == "asyncpg":
                    # asyncpg hands a timestamptz over in UTC: left as it is, as SQLAlchemy
                    # leaves it (the real driver's: test_a_hot_read_returns_...).
                    assert hot is None
                    in_utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
                    assert _outcome(stock, in_utc) == ("value", (datetime, in_utc, UTC))
                    continue
                assert hot is not None
                samples: list[Any] = []
                if isinstance(impl, SAEnum):
                    samples = [*impl._object_lookup, text]
                for value in samples:
                    assert _outcome(hot, value) == _outcome(stock, value), (column, value)


def _outcome(process: Any, value: Any) -> tuple[str, Any]:
    try:
        result = process(value)
    except Exception as error:
        return ("error", (type(error), str(error)))
    return ("value", (type(result), result, getattr(result, "tzinfo", None)))
