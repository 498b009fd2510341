"""A request's database: one pooled connection, and the ORM session on it, both made on first use.

Most dashboard requests are reads, and the cheapest of them (who am I?) need one indexed
lookup (core/hot_reads.py). Opening an ORM session and a transaction for those would cost
more than the lookup itself (SPEC 10, issue 7), so here both wait until something needs them:
- hot reads run on the request's connection (or the session's, once there is one), outside a
  transaction until the session begins one;
- the session, made when a resolver or service first asks for it, is bound to that same
  connection, so a request never holds two connections and the session sees what the hot
  reads saw; it commits once at the end or rolls back, as before;
- entities loaded by hot reads before the session exists join it when it is made.

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


class RequestDatabase:
    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.bind = engine
        self._sessions = sessions
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self._adopted: list[Any] = []
        # DataLoaders of one request ask at the same moment: open one connection, not two.
        self._opening = asyncio.Lock()

    @property
    def session(self) -> AsyncSession:
        """The request's ORM session (made now if it was not)."""
        if self._session is None:
            self._session = self._sessions(bind=self._connection or self.bind)
            for entity in self._adopted:
                self._session.add(entity)
            self._adopted.clear()
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    async def read_connection(self) -> AsyncConnection:
        """The connection hot reads run on: the session's once there is one, else the
        request's own, outside any transaction (never for writes through SQLAlchemy: those go
        through the session, which commits; `connection()` is the session's)."""
        if self._session is None and self._connection is None:
            async with self._opening:
                if self._session is None and self._connection is None:
                    connection = await self.bind.connect()
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
        """A persistent-detached entity (core.hot_reads.loaded) for the session, now or later."""
        if self._session is not None:
            self._session.add(entity)
        else:
            self._adopted.append(entity)

    def known(self, key: Any) -> Any:
        """The session's entity for an identity key, if it has one."""
        return self._session.identity_map.get(key) if self._session is not None else None

    async def end(self, *, commit: bool) -> None:
        """Commit (or roll back) the session's work, then give the connection back."""
        try:
            if self._session is not None:
                try:
                    await (self._session.commit() if commit else self._session.rollback())
                finally:
                    await self._session.close()
        finally:
            if self._connection is not None:
                await self._connection.close()
