"""Idle connections lent and taken back without a greenlet (core/idle_pool.py).

On PostgreSQL a read-only request's hot reads run on an idle pooled connection the pool lends
with no greenlet hop and takes back the same way; whenever the pool could need I/O (none
idle, no room to return one, a transaction open, a connection invalidated, pre-ping or
recycling asked for) it goes the awaited way. These tests hold both sides to that, under
concurrency and after a drop, and hold a request to one connection when it makes a session.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Integer, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core import idle_pool
from core.db import create_engine, session_factory
from core.hot_reads import HotRead
from core.request_db import RequestDatabase
from core.settings import Settings
from tests.support.world import Person, World

WHO = {"query": "{ viewer { username } }"}
ONE = HotRead(select(literal(1, Integer()).label("one")))
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _settings(**changes: Any) -> Settings:
    return Settings(_env_file=None, **{"database_url": POSTGRES, **changes})  # type: ignore[call-arg]


def test_only_plain_asyncpg_queue_pools_qualify() -> None:
    # Engines are made without connecting: this needs no database.
    engines = {
        "plain": create_engine(_settings()),
        "pre_ping": create_engine(_settings(), pool_pre_ping=True),
        "recycle": create_engine(_settings(), pool_recycle=3600),
        "sqlite": create_engine(_settings(database_url="sqlite+aiosqlite:///:memory:")),
    }
    suitable = {
        name: engine.sync_engine.pool in idle_pool._suitable for name, engine in engines.items()
    }
    assert suitable == {"plain": True, "pre_ping": False, "recycle": False, "sqlite": False}


class _Counted:
    """Counts the awaited ways of taking and returning a connection."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connects = 0
        self.closes = 0
        connect, close = AsyncEngine.connect, AsyncConnection.close

        def counted_connect(engine: AsyncEngine) -> Any:
            self.connects += 1
            return connect(engine)

        async def counted_close(connection: AsyncConnection) -> None:
            self.closes += 1
            await close(connection)

        monkeypatch.setattr(AsyncEngine, "connect", counted_connect)
        monkeypatch.setattr(AsyncConnection, "close", counted_close)


@pytest.fixture
async def small_pool(world: World) -> AsyncIterator[tuple[AsyncEngine, Person, httpx.AsyncClient]]:
    """An app of its own on PostgreSQL whose pool holds 2 connections (and 2 more at most)."""
    if world.engine.dialect.driver != "asyncpg":
        pytest.skip("idle connections are taken directly on PostgreSQL only")
    alice = await world.sign_up("alice")
    settings = world.settings.model_copy(
        update={"database_pool_size": 2, "database_max_overflow": 2}
    )
    engine = create_engine(settings)
    async with world.own_app(alice, engine, settings) as http:
        yield engine, alice, http


async def _who(http: httpx.AsyncClient) -> str:
    response = await http.post("/graphql", json=WHO)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["viewer"]["username"])


async def test_a_read_takes_an_idle_connection_and_returns_it_without_awaiting(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _alice, http = small_pool
    assert await _who(http) == "alice"  # the pool's first connection is made the awaited way
    counted = _Counted(monkeypatch)

    for _ in range(3):
        assert await _who(http) == "alice"

    assert (counted.connects, counted.closes) == (0, 0)
    pool: Any = engine.sync_engine.pool
    assert pool.checkedout() == 0 and pool.checkedin() == 1


async def test_a_busy_pool_is_waited_for_and_overflow_closed_the_usual_way(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _alice, http = small_pool
    counted = _Counted(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a coroutine of the pool's left unawaited
        for _ in range(3):
            # 12 at once through a pool of 2 (+2 overflow): most find no idle connection,
            # wait for one or open an overflow connection, and overflow ones are closed.
            names = await asyncio.gather(*(_who(http) for _ in range(12)))
            assert names == ["alice"] * 12
    pool: Any = engine.sync_engine.pool
    assert counted.connects > 0 and counted.closes > 0
    assert pool.checkedout() == 0
    assert pool.checkedin() <= pool.size() and pool.overflow() <= 0


async def test_a_request_with_a_session_returns_its_connection_the_awaited_way(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _alice, http = small_pool
    await _who(http)
    counted = _Counted(monkeypatch)
    response = await http.post(
        "/graphql",
        json={
            "query": 'mutation { updateProfile(input: {company: "Initech"}) { errors { code } } }'
        },
    )
    assert response.status_code == 200 and not response.json().get("errors"), response.text
    assert counted.closes == 1
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _who(http) == "alice"


async def test_a_connection_in_a_transaction_is_not_given_back_directly(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient],
) -> None:
    engine, _alice, _http = small_pool
    connection = await engine.connect()
    try:
        await connection.begin()
        assert idle_pool.give_back(connection) is False
        await connection.rollback()
        assert idle_pool.give_back(connection) is True
        assert connection.closed
    finally:
        await connection.close()


async def test_an_invalidated_connection_is_reconnected_the_awaited_way_then_lent_again(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a dropped link or a cancelled statement leaves it, found by SQLAlchemy.
    engine, _alice, http = small_pool
    await _who(http)
    pool: Any = engine.sync_engine.pool
    connection = await engine.connect()
    await connection.invalidate()
    await connection.close()
    assert pool.checkedin() == 1
    counted = _Counted(monkeypatch)

    # Never lent while it needs reconnecting: put back untouched, the awaited way taken.
    assert idle_pool.lend(engine) is None and idle_pool.take_idle(engine) is None
    assert pool.checkedin() == 1
    assert await _who(http) == "alice"
    assert counted.connects == 1  # SQLAlchemy reconnected it
    # From then on it is lent again: one bad connection does not end lending for good.
    for _ in range(3):
        assert await _who(http) == "alice"
    assert counted.connects == 1
    lease = idle_pool.lend(engine)
    assert lease is not None and lease.give_back_now()


async def test_an_invalidation_before_any_request_is_seen(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient],
) -> None:
    # The worker or start-up met a dropped connection before the first request came.
    engine, _alice, http = small_pool
    connection = await engine.connect()
    await connection.exec_driver_sql("select 1")
    await connection.invalidate()
    await connection.close()
    assert idle_pool.lend(engine) is None

    assert [await _who(http) for _ in range(3)] == ["alice"] * 3
    lease = idle_pool.lend(engine)
    assert lease is not None and lease.give_back_now()


async def test_a_connection_collected_unclosed_is_seen(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient],
) -> None:
    # SQLAlchemy detaches it and puts its pool entry back without a connection.
    engine, _alice, http = small_pool
    await _who(http)
    leaked = await engine.connect()
    await leaked.exec_driver_sql("select 1")
    await leaked.rollback()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warns of the unclosed connection
        del leaked
        gc.collect()
    assert idle_pool.lend(engine) is None

    assert [await _who(http) for _ in range(4)] == ["alice"] * 4
    lease = idle_pool.lend(engine)
    assert lease is not None and lease.give_back_now()


async def test_a_pool_made_stale_by_a_disconnect_is_reconnected_entry_by_entry(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a disconnect SQLAlchemy replaces every pooled connection made before it: none of
    them is lent; each is put back untouched and reconnected by an awaited checkout."""
    engine, _alice, http = small_pool
    await asyncio.gather(*(_who(http) for _ in range(2)))
    pool: Any = engine.sync_engine.pool
    assert pool.checkedin() == 2
    pool._invalidate_time = time.time()
    counted = _Counted(monkeypatch)

    assert idle_pool.lend(engine) is None and idle_pool.take_idle(engine) is None
    assert pool.checkedin() == 2  # both put back untouched
    assert [await _who(http) for _ in range(4)] == ["alice"] * 4
    assert counted.connects >= 1 and pool.checkedout() == 0
    lease = idle_pool.lend(engine)
    assert lease is not None and lease.give_back_now()


async def test_a_hot_read_after_the_request_ended_is_refused(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient],
) -> None:
    # A connection lent then would never be given back.
    engine, _alice, http = small_pool
    await _who(http)
    db = RequestDatabase(engine, session_factory(engine))
    assert await ONE.first(db) == (1,)
    await db.end(commit=False)
    with pytest.raises(RuntimeError, match="ended"):
        await ONE.first(db)
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_request_making_a_session_keeps_to_its_lent_connection(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who-am-I runs on a lent connection; the mutation's session then goes on on that same
    connection. With one connection in the pool and no overflow, a second one would be
    waited for until the pool's timeout."""
    if world.engine.dialect.driver != "asyncpg":
        pytest.skip("idle connections are lent on PostgreSQL only")
    alice = await world.sign_up("alice")
    settings = world.settings.model_copy(
        update={
            "database_pool_size": 1,
            "database_max_overflow": 0,
            "database_pool_timeout_seconds": 2.0,
        }
    )
    engine = create_engine(settings)
    async with world.own_app(alice, engine, settings) as http:
        assert await _who(http) == "alice"
        counted = _Counted(monkeypatch)
        lent = []
        lend = idle_pool.lend

        def counted_lend(engine_: AsyncEngine) -> idle_pool.Lease | None:
            lease = lend(engine_)
            lent.append(lease)
            return lease

        monkeypatch.setattr(idle_pool, "lend", counted_lend)
        mutation = 'mutation { updateProfile(input: {company: "Initech"}) { errors { code } } }'
        response = await http.post("/graphql", json={"query": mutation})
        assert response.status_code == 200 and not response.json().get("errors"), response.text
        assert len(lent) == 1 and lent[0] is not None
        assert counted.connects == 0 and counted.closes == 1  # the session's, given back
        pool: Any = engine.sync_engine.pool
        assert pool.checkedout() == 0 and pool.checkedin() == 1
        profile = await http.post("/graphql", json={"query": "{ viewer { company } }"})
        assert profile.json()["data"]["viewer"]["company"] == "Initech"


async def test_a_lent_connection_the_pool_has_no_room_for_is_closed(
    small_pool: tuple[AsyncEngine, Person, httpx.AsyncClient],
) -> None:
    engine, _alice, http = small_pool
    await asyncio.gather(*(_who(http) for _ in range(2)))
    pool: Any = engine.sync_engine.pool
    assert pool.checkedin() == 2
    lease = idle_pool.lend(engine)
    assert lease is not None and pool.checkedin() == 1
    # Meanwhile the pool fills up again: one idle, one made in overflow, both given back.
    busy = [await engine.connect(), await engine.connect()]
    for connection in busy:
        await connection.close()
    assert pool.checkedin() == 2 and pool.overflow() == 1

    assert lease.give_back_now() is False
    await lease.give_back()

    assert lease.adapter._connection.is_closed()
    assert pool.checkedin() == 2 and pool.checkedout() == 0 and pool.overflow() == 0
    assert await _who(http) == "alice"
