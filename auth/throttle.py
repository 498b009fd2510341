"""Brute-force protection for sign-in, with its state in the database so replicas share it.

Failures are counted per key (an identifier as typed, an address) in a window that starts at the
first failure. From the `signin_free_failures`-th failure on, each failure blocks the key for a
doubling delay (the attacker is slowed); at `signin_max_failures` the key is refused for the
lockout period. The count only starts over once the window has passed and no block has ended
within the last window, so waiting out the delays never resets it before the lockout.
Counts are written on their own connection and committed at once, because the request's own
transaction is rolled back when sign-in fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col

from core.settings import Settings
from models import Throttle

MAX_SLOWDOWN = timedelta(minutes=15)


@dataclass(frozen=True)
class Limits:
    free_failures: int
    max_failures: int
    window: timedelta
    lockout: timedelta

    @classmethod
    def for_accounts(cls, settings: Settings) -> Limits:
        return cls(
            free_failures=settings.signin_free_failures,
            max_failures=settings.signin_max_failures,
            window=timedelta(minutes=settings.signin_window_minutes),
            lockout=timedelta(minutes=settings.signin_lockout_minutes),
        )

    @classmethod
    def for_addresses(cls, settings: Settings) -> Limits:
        # One address may serve many honest users (an office behind NAT): allow more.
        base = cls.for_accounts(settings)
        factor = settings.signin_ip_factor
        return cls(
            base.free_failures * factor, base.max_failures * factor, base.window, base.lockout
        )


def account_key(identifier: str) -> str:
    return f"signin:account:{identifier.strip().lower()[:254]}"


def reauth_key(user_id: int) -> str:
    """Password checks of a signed-in user (changing email or password)."""
    return f"reauth:user:{user_id}"


def address_key(ip_address: str | None) -> str | None:
    return f"signin:address:{ip_address}" if ip_address else None


async def retry_after(engine: AsyncEngine, keys: list[str], now: datetime) -> int | None:
    """Seconds until every key may try again, or None if none is blocked."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(col(Throttle.blocked_until)).where(
                col(Throttle.key).in_(keys),
                col(Throttle.blocked_until) > now,
            )
        )
        until = [row[0] for row in rows if row[0] is not None]
    if not until:
        return None
    return max(1, math.ceil((max(until) - now).total_seconds()))


async def record_failure(engine: AsyncEngine, key: str, limits: Limits, now: datetime) -> None:
    async with engine.begin() as connection:
        failures = await _increment(connection, key, limits, now)
        blocked_until = _blocked_until(failures, limits, now)
        if blocked_until is not None:
            await connection.execute(
                update(Throttle)
                .where(col(Throttle.key) == key)
                .values(blocked_until=blocked_until)
            )


async def clear(db: AsyncSession, keys: list[str]) -> None:
    """Forget an account's failures after a successful sign-in (in the request's transaction)."""
    await db.execute(
        update(Throttle)
        .where(col(Throttle.key).in_(keys))
        .values(failures=0, blocked_until=None)
    )


async def _increment(connection: AsyncConnection, key: str, limits: Limits, now: datetime) -> int:
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    await connection.execute(
        insert(Throttle)
        .values(key=key, failures=0, window_started_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    quiet_since = now - limits.window
    blocked_until = col(Throttle.blocked_until)
    expired = and_(
        col(Throttle.window_started_at) < quiet_since,
        or_(blocked_until.is_(None), blocked_until < quiet_since),
    )
    result = await connection.execute(
        update(Throttle)
        .where(col(Throttle.key) == key)
        .values(
            failures=case((expired, 1), else_=Throttle.failures + 1),
            window_started_at=case((expired, now), else_=Throttle.window_started_at),
        )
        .returning(col(Throttle.failures))
    )
    return int(result.scalar_one())


def _blocked_until(failures: int, limits: Limits, now: datetime) -> datetime | None:
    if failures >= limits.max_failures:
        return now + limits.lockout
    if failures >= limits.free_failures:
        delay = timedelta(seconds=2 ** (failures - limits.free_failures))
        return now + min(delay, MAX_SLOWDOWN)
    return None
