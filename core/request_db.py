"""A request's database: one pooled connection, and the ORM session on it, both made on first use.

Most dashboard requests are reads, and the cheapest of them (who am I?) need one indexed
lookup (core/hot_reads.py). Opening an ORM session and a transaction for those would cost
more than the lookup itself (SPEC 10, issue 7), so here both wait until something needs them:
- hot reads run outside a transaction on an idle connection the pool lends without a greenlet
  (core/idle_pool.py), or else on the request's connection taken the awaited way, or on the
  session's once there is one;
- the session, made when a resolver or service first asks for it, is bound to that same
  connection (a lent one becomes SQLAlchemy's own checkout then), so a request never holds
  two connections and the session sees what the hot reads saw; it commits once at the end
  or rolls back, as before;
- entities loaded by hot reads before the session exists join it when it is made (until
  then they are plain objects holding their values: giving one its identity costs half of
  loading it, and most requests never make a session).

It stands in for the session (ServiceContext.db): whatever it does not do itself, it asks
of the session, made at that moment.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.orm import make_transient_to_detached

from core import idle_pool


class RequestDatabase:
    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession] | None
    ) -> None:
        """`sessions`: None for a database of hot reads only (no session is ever made)."""
        self.bind = engine
        self._sessions = sessions
        self._connection: AsyncConnection | None = None
        self._lease: idle_pool.Lease | None = None
        self._ended = False
        self._session: AsyncSession | None = None
        # Entities for the session when it is made: loaded by hot reads (by identity key,
        # with the values they were loaded with), and added.
        self._loaded: dict[Any, tuple[Any, dict[str, Any]]] = {}
        self._added: list[Any] = []
        # DataLoaders of one request ask at the same moment: open one connection, not two
        # (made when a connection is first awaited: most requests are lent one).
        self._opening: asyncio.Lock | None = None

    @property
    def session(self) -> AsyncSession:
        """The request's ORM session (made now if it was not)."""
        if self._session is None:
            if self._sessions is None:
                raise RuntimeError("this database runs hot reads only")
            if self._lease is not None:
                # The session goes on on the lent connection: a request holds one.
                self._connection = self._lease.adopt(self.bind)
                self._lease = None
            self._session = self._sessions(bind=self._connection or self.bind)
            for entity, values in self._loaded.values():
                _join(self._session, entity, values)
            for entity in self._added:
                self._session.add(entity)
            self._loaded.clear()
            self._added.clear()
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def lease(self) -> idle_pool.Lease | None:
        """The idle connection lent to this request's hot reads while it has no session (lent
        now if the pool can), or None: then they run on `read_connection()`."""
        if self._session is not None:
            return None
        if self._ended:
            # A connection lent now would never be given back.
            raise RuntimeError("the request's database has ended")
        lease = self._lease
        opening = self._opening
        if lease is None and self._connection is None and not (opening and opening.locked()):
            lease = self._lease = idle_pool.lend(self.bind)
        return lease

    async def read_connection(self) -> AsyncConnection:
        """The connection hot reads run on when no connection is lent: the session's once
        there is one, else the request's own, outside any transaction (never for writes
        through SQLAlchemy: those go through the session, which commits; `connection()` is
        the session's)."""
        if self._session is None and self._connection is None:
            if self._ended:
                raise RuntimeError("the request's database has ended")
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._session is None and self._connection is None:
                    connection = idle_pool.take_idle(self.bind) or await self.bind.connect()
                    if self._session is None:
                        self._connection = connection
                    else:
                        # The session was made meanwhile, on a connection of its own.
                        await connection.close()
        if self._session is not None:
            return await self._session.connection()
        assert self._connection is not None
        return self._connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    async def execute(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        return await self.session.execute(statement, params, **kwargs)

    def add(self, entity: Any) -> None:
        """An entity for the session, now or when it is made."""
        if self._session is not None:
            self._session.add(entity)
        else:
            self._added.append(entity)

    def adopt(self, key: Any, entity: Any, values: dict[str, Any]) -> None:
        """An entity a hot read loaded (core.hot_reads.loaded) with these column values: it
        joins the session as if a query had loaded it, now or when the session is made."""
        if self._session is not None:
            _join(self._session, entity, values)
        else:
            self._loaded[key] = (entity, values)

    def _changed_loaded(self) -> bool:
        """Whether an entity waiting for the session was set since it was loaded (SQLAlchemy
        marks its state on any set; one back to the same value leaves the flush nothing)."""
        return any(entity._sa_instance_state.modified for entity, _ in self._loaded.values())

    def known(self, key: Any) -> Any:
        """The entity for an identity key this request already has: in the session, or
        loaded and waiting for it (one entity per row, as a session keeps it)."""
        if self._session is not None:
            return self._session.identity_map.get(key)
        waiting = self._loaded.get(key)
        return waiting[0] if waiting is not None else None

    async def end(self, *, commit: bool) -> None:
        """Commit (or roll back) the session's work, then give the connection back. Entities
        added, or loaded and then changed, while no session was made are committed too: the
        session is made for them now."""
        self._ended = True
        try:
            if commit and self._session is None and (self._added or self._changed_loaded()):
                self.session  # noqa: B018 - made now, the waiting entities join it
            if self._session is not None:
                try:
                    await (self._session.commit() if commit else self._session.rollback())
                finally:
                    await self._session.close()
        finally:
            lease, self._lease = self._lease, None
            if lease is not None and not lease.give_back_now():
                await lease.give_back()
            connection = self._connection
            # Without a session nothing began a transaction on it: usually no I/O to return it.
            if connection is not None and (
                self._session is not None or not idle_pool.give_back(connection)
            ):
                await connection.close()


def _join(session: AsyncSession, entity: Any, values: dict[str, Any]) -> None:
    """Into the session as loaded with `values`, so that changes are flushed as UPDATEs (not
    an INSERT), those made before it joined included: attributes set to another value (what
    services do; none of our columns is a mutable value changed in place)."""
    changed = _changes(entity, values)
    entity.__dict__.update(values)
    make_transient_to_detached(entity)  # what it holds now counts as loaded
    session.add(entity)
    for key, value in changed.items():
        setattr(entity, key, value)


def _changes(entity: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a loaded entity set to another value than it was loaded with."""
    state = entity.__dict__
    return {
        key: state[key] for key, value in values.items() if key in state and state[key] is not value
    }
