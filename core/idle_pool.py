"""An idle pooled connection taken and given back without a greenlet (SPEC 10, issue 7).

SQLAlchemy's async engine runs every pool operation in a greenlet, in case it needs I/O: a new
connection, a wait for a busy pool, a reconnect after an invalidation, a ROLLBACK on return.
A request that only runs hot reads (core/hot_reads.py) needs none of that: an idle connection
is in the pool, it begins no transaction, and there is room to put it back. The two greenlet
hops then cost more than all the rest of "who am I?" but the round trip (measured in-process:
~100 µs of ~380 a request). So a request's database (core/request_db.py) asks here first and
takes the usual awaited way whenever one of these checks says I/O could be needed:

- taking: the engine is asyncpg's, its pool a QueuePool with an idle connection, no pre-ping,
  no recycling, no `checkout` or `engine_connect` listeners, and no connection of it was ever
  invalidated (after a dropped connection every older one reconnects on its next checkout:
  from then on the pool is always used the awaited way, as before, until it is replaced);
- giving back: the same pool, the connection valid and outside any transaction, room in the
  pool (a full pool closes an overflow connection), no `checkin` or `reset` listeners.

Both run with no await between the check and the act, so nothing else can change the pool
in between. Tests: tests/test_idle_pool.py.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool, QueuePool

log = structlog.get_logger("orgward.db")


class _PoolWatch:
    """Whether a pool is of the kind this works for, and whether it ever invalidated."""

    def __init__(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        # Read once: set when the engine is created. Missing attributes (another SQLAlchemy)
        # count as "may do I/O".
        self.suitable = (
            engine.dialect.driver == "asyncpg"
            and isinstance(pool, QueuePool)
            and getattr(pool, "_pre_ping", True) is False
            and getattr(pool, "_recycle", 0) == -1
        )
        self.invalidated = False
        if self.suitable:
            event.listen(pool, "invalidate", self._invalidated)
            event.listen(pool, "soft_invalidate", self._invalidated)

    def _invalidated(self, *_args: object) -> None:
        if not self.invalidated:
            log.info("idle_pool.off", reason="a pooled connection was invalidated")
        self.invalidated = True


_watches: WeakKeyDictionary[Pool, _PoolWatch] = WeakKeyDictionary()


def _watch(engine: AsyncEngine) -> _PoolWatch:
    pool = engine.sync_engine.pool
    watch = _watches.get(pool)
    if watch is None:
        watch = _watches[pool] = _PoolWatch(engine)
    return watch


def take_idle(engine: AsyncEngine) -> AsyncConnection | None:
    """An idle connection of the engine's pool, taken now; None when taking one could need
    I/O (then `await engine.connect()`)."""
    watch = _watch(engine)
    sync_engine = engine.sync_engine
    pool = sync_engine.pool
    if (
        not watch.suitable
        or watch.invalidated
        or pool.checkedin() == 0  # type: ignore[attr-defined]
        or pool.dispatch.checkout
        or sync_engine.dispatch.engine_connect
    ):
        return None
    return AsyncConnection(engine, Connection(sync_engine))


def give_back(connection: AsyncConnection) -> bool:
    """Return a connection to its pool now, if that needs no I/O; False when it was not
    (then `await connection.close()`)."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    watch = _watch(connection.engine)
    pool = connection.sync_engine.pool
    if (
        not watch.suitable
        or watch.invalidated
        or pool.checkedin() >= pool.size()  # type: ignore[attr-defined]
        or pool.dispatch.checkin
        or pool.dispatch.reset
    ):
        return False
    sync.close()
    return True
