"""An idle pooled connection taken and given back without a greenlet (SPEC 10, issue 7).

SQLAlchemy's async engine runs every pool operation in a greenlet, in case it needs I/O: a new
connection, a wait for a busy pool, a reconnect after an invalidation, a ROLLBACK on return.
A request that only runs hot reads (core/hot_reads.py) needs none of that: an idle connection
is in the pool, it begins no transaction, and there is room to put it back. The two greenlet
hops then cost more than all the rest of "who am I?" but the round trip (measured in-process:
~100 µs of ~380 a request). So a request's database (core/request_db.py) asks here first and
takes the usual awaited way whenever one of these checks says I/O could be needed:

- taking: the engine is asyncpg's, its pool a QueuePool with an idle connection, no pre-ping,
  no recycling, no `checkout` or `engine_connect` listeners, and none of its connections was
  ever invalidated or detached (a pooled record may then need reconnecting). The pool is
  watched from the moment the engine is made (core/db.py), so no such event goes unseen;
  should SQLAlchemy still need I/O, its MissingGreenlet is caught (SQLAlchemy has put the
  record back in the pool, to connect on its next checkout). Either way, from then on the
  pool is used the awaited way, as before, until it is replaced;
- giving back: the connection belongs to that same pool, is valid and outside any
  transaction, there is room in the pool (a full pool closes an overflow connection), and
  no `checkin` or `reset` listeners.

Both run with no await between the check and the act, so nothing else can change the pool
in between. Tests: tests/test_idle_pool.py.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool, QueuePool

log = structlog.get_logger("orgward.db")


class _PoolWatch:
    """Whether a pool is of the kind this works for, and whether it may hold a record that
    needs reconnecting."""

    def __init__(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        # Read once: set when the engine is made. Missing attributes (another SQLAlchemy)
        # count as "may do I/O".
        self.suitable = (
            engine.dialect.driver == "asyncpg"
            and isinstance(pool, QueuePool)
            and getattr(pool, "_pre_ping", True) is False
            and getattr(pool, "_recycle", 0) == -1
        )
        self.off = False
        if self.suitable:
            for name in ("invalidate", "soft_invalidate", "detach"):
                event.listen(pool, name, self._record_spoiled)

    def _record_spoiled(self, *_args: object) -> None:
        self.turn_off("a pooled connection was invalidated or detached")

    def turn_off(self, reason: str) -> None:
        if not self.off:
            log.info("idle_pool.off", reason=reason)
        self.off = True


_watches: WeakKeyDictionary[Pool, _PoolWatch] = WeakKeyDictionary()


def watch(engine: AsyncEngine) -> None:
    """Watch the engine's pool: called as the engine is made, before any connection."""
    pool = engine.sync_engine.pool
    if pool not in _watches:
        _watches[pool] = _PoolWatch(engine)


def _usable(pool: Pool) -> _PoolWatch | None:
    found = _watches.get(pool)
    return found if found is not None and found.suitable and not found.off else None


def take_idle(engine: AsyncEngine) -> AsyncConnection | None:
    """An idle connection of the engine's pool, taken now; None when taking one could need
    I/O (then `await engine.connect()`)."""
    sync_engine = engine.sync_engine
    pool = sync_engine.pool
    found = _usable(pool)
    if (
        found is None
        or pool.checkedin() == 0  # type: ignore[attr-defined]
        or pool.dispatch.checkout
        or sync_engine.dispatch.engine_connect
    ):
        return None
    try:
        return AsyncConnection(engine, Connection(sync_engine))
    except MissingGreenlet:
        # A record needed reconnecting after all; SQLAlchemy has put it back in the pool.
        found.turn_off("a pooled connection needed reconnecting")
        return None


def give_back(connection: AsyncConnection) -> bool:
    """Return a connection to its pool now, if that needs no I/O; False when it was not
    (then `await connection.close()`)."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    pool = connection.sync_engine.pool
    if (
        _usable(pool) is None
        # Its own pool still (after engine.dispose() the engine has another).
        or getattr(sync.connection, "_pool", None) is not pool
        or pool.checkedin() >= pool.size()  # type: ignore[attr-defined]
        or pool.dispatch.checkin
        or pool.dispatch.reset
    ):
        return False
    sync.close()
    return True
