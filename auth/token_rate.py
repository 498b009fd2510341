"""Per-token rate limits: a fixed one-minute window per token, shared by every replica.

The shared counter lives in the `throttle` table (key `token:<id>`), bumped by one UPSERT on
the side engine that commits by itself, so a request that fails or is rolled back still counts
and concurrent requests of one token never wait on each other's transactions. With
`ORGWARD_REDIS_URL` set it lives in Redis instead (INCRBY with an expiry; the database again
whenever Redis fails).

A replica does not write for every request: it takes the token's allowance in leases of
`lease_size(limit)` requests (2 % of the limit, at most 100) and serves a lease from memory.
The counter only ever grants what is under the limit, so all replicas together never exceed
it; a replica's unused lease lapses at the end of the window (honest clients lose at most a
lease's worth per replica). When a lease runs out under load, one request of the token takes
the next while the others wait for it (not one UPSERT each). The write that takes a lease also
refreshes the token's `last_used_at` when that is older than LAST_USED_RESOLUTION: a request
costs at most this one extra write, and most cost none.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from sqlalchemy import Integer, String, Update, bindparam, case, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import dml as pg_dml
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from core.hot_reads import HotRead
from core.request_db import RequestDatabase
from models import ApiToken, Throttle
from models.base import UTCDateTime

log = structlog.get_logger("orgward.token_rate")

WINDOW = timedelta(minutes=1)
LAST_USED_RESOLUTION = timedelta(minutes=5)
REDIS_CONNECTIONS = 32
MAX_LEASE = 100
MAX_LEASED_TOKENS = 10_000


class TokenRateLimited(Exception):
    """Over the token's limit: answered with HTTP 429, RATE_LIMITED and Retry-After."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"This token made too many requests; try again in {retry_after_seconds} seconds."
        )
        self.retry_after_seconds = retry_after_seconds


@dataclass(slots=True)
class _Lease:
    window_ends: datetime
    left: int


class Leases:
    """This replica's leased allowances, per token (one per app, in its AppState)."""

    def __init__(self) -> None:
        self._by_token: dict[int, _Lease] = {}
        # Tokens whose next lease a request is taking right now.
        self._taking: dict[int, asyncio.Future[None]] = {}

    def take(self, token_id: int, now: datetime) -> bool:
        lease = self._by_token.get(token_id)
        if lease is None or lease.left <= 0 or now >= lease.window_ends:
            return False
        lease.left -= 1
        return True

    def grant(self, token_id: int, window_ends: datetime, left: int, now: datetime) -> None:
        if len(self._by_token) >= MAX_LEASED_TOKENS:
            self._by_token = {k: v for k, v in self._by_token.items() if v.window_ends > now}
        if len(self._by_token) < MAX_LEASED_TOKENS:
            self._by_token[token_id] = _Lease(window_ends, left)

    def clear(self) -> None:
        self._by_token.clear()

    async def wait_for_taker(self, token_id: int) -> bool:
        """Wait while another request takes this token's next lease; False if none is."""
        taking = self._taking.get(token_id)
        if taking is None:
            return False
        # Shielded: a waiter's cancellation must not cancel the taker's future.
        await asyncio.shield(taking)
        return True

    @contextlib.contextmanager
    def taking(self, token_id: int) -> Iterator[None]:
        """This request takes the token's next lease; waiters wake when it ends, granted or
        not (refused or failed, each then counts for itself)."""
        future = asyncio.get_running_loop().create_future()
        self._taking[token_id] = future
        try:
            yield
        finally:
            if self._taking.get(token_id) is future:
                del self._taking[token_id]
            future.set_result(None)


def lease_size(limit: int) -> int:
    return max(1, min(MAX_LEASE, limit // 50))


def connect(url: str | None) -> Redis | None:
    """A client for ORGWARD_REDIS_URL (connecting lazily), or None: counters in the database.
    Its pool makes a burst of requests wait for a connection rather than fail."""
    if not url:
        return None
    pool = BlockingConnectionPool.from_url(url, max_connections=REDIS_CONNECTIONS, timeout=5)
    return Redis(connection_pool=pool)


def key(token_id: int) -> str:
    return f"token:{token_id}"


def last_used_stale(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def served_from_lease(leases: Leases, token_id: int, now: datetime, *, touch: bool) -> bool:
    """Count one request of the token against this replica's lease, if that is all it takes
    (a lease is left and the token's last use needs no refresh); False: `spend` it."""
    return not touch and leases.take(token_id, now)


async def spend(
    engine: AsyncEngine,
    leases: Leases,
    *,
    token_id: int,
    limit: int,
    now: datetime,
    touch: bool,
    redis: Redis | None = None,
) -> None:
    """Count one request of the token; raises TokenRateLimited past `limit` a minute. With
    `touch`, also record the token as used now (a conditional UPDATE: concurrent requests
    write it once)."""
    if not touch:
        if leases.take(token_id, now):
            return
        while await leases.wait_for_taker(token_id):
            if leases.take(token_id, now):
                return
    with leases.taking(token_id):
        size = lease_size(limit)
        counted = await _spend_in_redis(redis, token_id, size, now) if redis is not None else None
        if counted is not None:
            count, window_started_at = counted
            if touch:
                async with _autocommit(engine) as connection:
                    await connection.execute(_touch(token_id, now))
        else:
            count, window_started_at = await _count_lease(engine, token_id, size, now, touch)
        # Of the `size` requests just counted, those still under the limit are granted.
        granted = size - max(0, count - limit)
        if granted <= 0:
            raise TokenRateLimited(_retry_after(window_started_at, now))
        leases.grant(token_id, window_started_at + WINDOW, granted - 1, now)


async def first_in_period(
    connection: AsyncConnection, name: str, period: timedelta, now: datetime
) -> bool:
    """Count an occurrence of `name`; True for the first one of a period (to report once).
    Committed durably, with whatever the caller's transaction writes besides."""
    count, _ = await _count(connection, name, period, now, 1)
    return count == 1


@contextlib.asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Each statement commits by itself: one round trip, and the counter row of a busy token
    is locked only while its own UPSERT runs (no BEGIN ... COMMIT around it)."""
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


async def _count(
    connection: AsyncConnection,
    name: str,
    window: timedelta,
    now: datetime,
    add: int,
    *,
    lazy_commit: bool = False,
) -> tuple[int, datetime]:
    """One UPSERT: the count in the current fixed window (a new window starts at `add`)."""
    statement = _upsert(
        literal(name, String()),
        literal(add, Integer()),
        literal(now, UTCDateTime()),
        literal(now - window, UTCDateTime()),
        postgresql=connection.dialect.name == "postgresql",
        lazy_commit=lazy_commit,
    )
    count, window_started_at = (await connection.execute(statement)).one()
    return int(count), window_started_at


def _upsert(
    name: Any, add: Any, now: Any, window_start: Any, *, postgresql: bool, lazy_commit: bool
) -> Any:
    """The counter's UPSERT, returning the count and the window's start: a row whose window
    started at or before `window_start` starts a new one."""
    started = col(Throttle.window_started_at)
    new_window = started <= window_start
    upsert: pg_dml.Insert | sqlite_dml.Insert
    if postgresql and lazy_commit:
        # Committed without waiting for the WAL to reach disk (set_config is local to this
        # one-statement transaction): a count lost in a server crash costs nothing, while a
        # flush per write would be most of its cost.
        async_commit = select(func.set_config("synchronous_commit", "off", True)).subquery()
        row = select(name, add, now).select_from(async_commit)
        upsert = pg_insert(Throttle).from_select(["key", "failures", "window_started_at"], row)
    else:
        insert = pg_insert if postgresql else sqlite_insert
        upsert = insert(Throttle).values(key=name, failures=add, window_started_at=now)
    return upsert.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "failures": case((new_window, add), else_=col(Throttle.failures) + add),
            "window_started_at": case((new_window, now), else_=started),
        },
    ).returning(col(Throttle.failures), started)


# A token's lease on PostgreSQL, the UPSERT built once and sent straight to the driver on an
# idle connection of the side engine (core/hot_reads.py): built and executed through
# SQLAlchemy it cost ~880 µs of CPU, about 9 µs on each of the lease's 100 requests.
TAKE_LEASE = HotRead(
    _upsert(
        bindparam("key", type_=String()),
        bindparam("add", type_=Integer()),
        bindparam("now", type_=UTCDateTime()),
        bindparam("window_start", type_=UTCDateTime()),
        postgresql=True,
        lazy_commit=True,
    )
)


async def _count_lease(
    engine: AsyncEngine, token_id: int, size: int, now: datetime, touch: bool
) -> tuple[int, datetime]:
    """Count a lease of `size` requests in the database (and touch the token's last use)."""
    if engine.dialect.driver == "asyncpg" and not touch:
        db = RequestDatabase(engine, sessions=None)
        try:
            row = await TAKE_LEASE.first(
                db, key=key(token_id), add=size, now=now, window_start=now - WINDOW
            )
        finally:
            await db.end(commit=False)
        return int(row[0]), row[1]
    async with _autocommit(engine) as connection:
        counted = await _count(connection, key(token_id), WINDOW, now, size, lazy_commit=True)
        if touch:
            await connection.execute(_touch(token_id, now))
    return counted


async def _spend_in_redis(
    redis: Redis, token_id: int, add: int, now: datetime
) -> tuple[int, datetime] | None:
    """INCRBY and EXPIRE in one round trip; None when Redis fails (the database counts then)."""
    seconds = int(WINDOW.total_seconds())
    window = int(now.timestamp()) // seconds
    name = f"orgward:{key(token_id)}:{window}"
    pipeline = redis.pipeline(transaction=False)
    pipeline.incrby(name, add)
    pipeline.expire(name, seconds * 2)
    try:
        count, _ = await pipeline.execute()
    except (RedisError, OSError) as error:
        log.warning("token_rate.redis_failed", error=str(error))
        return None
    return int(count), datetime.fromtimestamp(window * seconds, tz=now.tzinfo)


def _touch(token_id: int, now: datetime) -> Update:
    last_used = col(ApiToken.last_used_at)
    return (
        update(ApiToken)
        .where(
            col(ApiToken.id) == token_id,
            or_(last_used.is_(None), last_used <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
    )


def _retry_after(window_started_at: datetime, now: datetime) -> int:
    return max(1, math.ceil((window_started_at + WINDOW - now).total_seconds()))


async def spend_in_window(
    engine: AsyncEngine, name: str, *, add: int, limit: int, now: datetime
) -> int | None:
    """Count `add` uses of `name` in its one-minute window, committed by itself (a refused or
    rolled-back request still counts); the seconds to wait when that goes past `limit`."""
    async with _autocommit(engine) as connection:
        count, window_started_at = await _count(connection, name, WINDOW, now, add)
    return _retry_after(window_started_at, now) if count > limit else None
