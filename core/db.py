"""The async engine and the one-session-per-request/job factory."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import idle_pool
from core.settings import Settings


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = settings.database_url
    # JSON columns (audit details) decode with orjson: the standard library's decoder was
    # most of the cost of reading a page of audit events.
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", settings.database_pool_size)
    kwargs.setdefault("max_overflow", settings.database_max_overflow)
    kwargs.setdefault("pool_timeout", settings.database_pool_timeout_seconds)
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, **kwargs)
    idle_pool.watch(engine)  # before any connection: see core/idle_pool.py
    return engine


def create_side_engine(settings: Settings) -> AsyncEngine:
    """A small pool for short writes outside a request's transaction (sign-in limits, failed
    attempt records): a request holding a main connection never waits on the main pool again."""
    if settings.database_url.startswith("sqlite"):
        return create_engine(settings)
    return create_engine(settings, pool_size=2, max_overflow=8, pool_timeout=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once (the sign-in limiter writes on its own
    # connection while a request transaction is open); foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
