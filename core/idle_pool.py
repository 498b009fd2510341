"""Idle pooled connections lent to hot reads without a greenlet (SPEC 10, issue 7).

SQLAlchemy's async engine runs every pool operation in a greenlet, in case it needs I/O: a new
connection, a wait for a busy pool, a reconnect after an invalidation, a ROLLBACK on return.
A request that only runs hot reads (core/hot_reads.py) needs none of that: an idle connection
is in the pool, nothing begins a transaction on it, and there is room to put it back. It
needs no `Connection` either: hot reads go straight to the driver. So a request's database
(core/request_db.py) first asks here for a `Lease`: the pool's entry for an idle connection,
taken off the pool's queue and put back on it, nothing built around it. For "who am I?" the
greenlet hops cost more than all the rest but the round trip (~100 µs of ~380 a request,
measured in-process), and the `Connection` objects a further ~30 µs of ~215.

Whenever one of these checks says I/O could be needed, the usual awaited way is taken:
- taking: the engine is asyncpg's, its pool a QueuePool with an idle connection, no pre-ping,
  no recycling, no listeners that would expect to see the checkout or the statements
  (pool `checkout`, `checkin`, `reset`; engine `engine_connect`, `before_cursor_execute`:
  statement counters); and an idle entry needs no reconnecting. One that does (invalidated by a
  dropped link or a cancelled statement, detached, or older than a disconnect the pool saw) is
  put back untouched and the next one tried; when none will do, the request takes the awaited
  way, where SQLAlchemy reconnects what it takes;
- giving back: no transaction was begun on a lent connection (hot reads run outside one), so
  it goes straight back on the queue when there is room; a full queue means it is one
  connection too many, closed in a greenlet as SQLAlchemy closes an overflow connection.
A connection checked out for a session (`take_idle`) is a lent one adopted as SQLAlchemy's own
checkout, so the same checks hold for it.

Each check runs with no await between it and the act, so nothing else can change the pool
in between. Listeners added while a connection is lent do not see that request's hot reads.
Tests: tests/test_idle_pool.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any
from weakref import WeakSet

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool, QueuePool
from sqlalchemy.pool.base import _ConnectionFairy
from sqlalchemy.util import greenlet_spawn

# Pools of the kind this works for, found as each engine is made: asyncpg's, a QueuePool,
# no pre-ping, no recycling (missing attributes, as of another SQLAlchemy, count as "may do
# I/O").
_suitable: WeakSet[Pool] = WeakSet()


def watch(engine: AsyncEngine) -> None:
    """Note whether the engine's pool suits: called as the engine is made."""
    pool = engine.sync_engine.pool
    if (
        engine.dialect.driver == "asyncpg"
        and isinstance(pool, QueuePool)
        and getattr(pool, "_pre_ping", True) is False
        and getattr(pool, "_recycle", 0) == -1
    ):
        _suitable.add(pool)


def _usable(pool: Pool) -> bool:
    return pool in _suitable


class Lease:
    """An idle connection lent by its pool: the pool's entry for it, and the DBAPI connection
    (SQLAlchemy's asyncpg adapter) hot reads run on."""

    __slots__ = ("pool", "record", "adapter")

    def __init__(self, pool: Any, record: Any) -> None:
        self.pool = pool
        self.record = record
        self.adapter = record.dbapi_connection

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """One statement's rows, run on the driver outside any transaction."""
        driver = self.adapter._connection  # asyncpg's, as the dialect's get_driver_connection
        try:
            # One statement at a time per connection, hot reads and SQLAlchemy's alike:
            # DataLoaders of one request run side by side, and asyncpg refuses overlapping
            # operations.
            async with self.adapter._execute_mutex:
                return await driver.fetch(sql, *args)  # type: ignore[no-any-return]
        except Exception as error:
            if driver.is_closed():
                self._spoiled(error)
            raise

    def adopt(self, engine: AsyncEngine) -> AsyncConnection:
        """The lent connection as SQLAlchemy's own checkout (what `pool.connect()` makes of
        an idle entry), for the request's session: the request keeps its one connection, hot
        reads already started on it finish there, and closing it gives it back as usual."""
        fairy = _ConnectionFairy(
            self.pool, self.adapter, self.record, self.pool._should_log_debug()
        )
        self.record.fairy_ref = weakref.ref(fairy, _ignore)
        fairy._counter += 1
        return AsyncConnection(engine, Connection(engine.sync_engine, connection=fairy))

    def give_back_now(self) -> bool:
        """Back on the pool's queue, if there is room: no I/O. False when it is not back."""
        if self.pool.checkedin() >= self.pool.size():
            return False
        self.pool._do_return_conn(self.record)
        return True

    async def give_back(self) -> None:
        """Back in the pool; closed when the pool has no room for it, which awaits the driver
        (as SQLAlchemy closes an overflow connection coming back)."""
        if not self.give_back_now():
            await greenlet_spawn(self.pool._do_return_conn, self.record)

    def _spoiled(self, error: BaseException) -> None:
        """The connection died under a hot read (a restarted database, a dropped link): as
        SQLAlchemy does on a disconnect, it is dropped, every pooled connection made before now
        is replaced when next checked out (never lent: they are stale)."""
        if self.pool._invalidate_time < self.record.starttime:  # not already done
            self.pool._invalidate(self.record, error, _checkin=False)
        self.record.invalidate(error)


def _ignore(_reference: object) -> None:
    """The pool's weak reference to a checkout needs a callback (see SQLAlchemy's own)."""


def lend(engine: AsyncEngine) -> Lease | None:
    """An idle connection of the engine's pool, lent now; None when taking one could need I/O
    or would go unseen by listeners (then `await engine.connect()`)."""
    sync_engine = engine.sync_engine
    pool: Any = sync_engine.pool
    if pool.dispatch.checkin or pool.dispatch.reset or sync_engine.dispatch.before_cursor_execute:
        return None
    record = _idle_record(engine)
    return None if record is None else Lease(pool, record)


def take_idle(engine: AsyncEngine) -> AsyncConnection | None:
    """An idle connection of the engine's pool, checked out now as SQLAlchemy's own
    `Connection` (for a session, or hot reads while listeners watch); None when that could
    need I/O (then `await engine.connect()`)."""
    record = _idle_record(engine)
    if record is None:
        return None
    return Lease(engine.sync_engine.pool, record).adopt(engine)


def _idle_record(engine: AsyncEngine) -> Any:
    """The pool's entry for an idle connection that needs no reconnecting, taken off the
    queue; None if no idle one does (or listeners expect to see the checkout)."""
    sync_engine = engine.sync_engine
    pool: Any = sync_engine.pool
    if not _usable(pool) or pool.dispatch.checkout or sync_engine.dispatch.engine_connect:
        return None
    for _ in range(pool.checkedin()):
        record = pool._do_get()  # an idle entry: off the queue without waiting
        if (
            record.dbapi_connection is not None
            and record.starttime >= pool._invalidate_time
            and record.starttime >= record._soft_invalidate_time
        ):
            return record
        # Invalidated (a dropped link, a cancelled statement), detached or made stale by a
        # disconnect: back untouched, at the end of the queue. Once no idle entry is usable,
        # the awaited way is taken, and SQLAlchemy reconnects what it takes.
        pool._do_return_conn(record)
    return None


def give_back(connection: AsyncConnection) -> bool:
    """Return a checked-out connection to its pool now, if that needs no I/O; False when it
    was not (then `await connection.close()`)."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    pool = connection.sync_engine.pool
    if (
        not _usable(pool)
        # Its own pool still (after engine.dispose() the engine has another).
        or getattr(sync.connection, "_pool", None) is not pool
        or pool.checkedin() >= pool.size()  # type: ignore[attr-defined]
        or pool.dispatch.checkin
        or pool.dispatch.reset
    ):
        return False
    sync.close()
    return True
