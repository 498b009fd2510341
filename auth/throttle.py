"""Brute-force protection for sign-in, with its state in the database so replicas share it.

Failures are counted per key (an identifier as typed, an address) in a window that starts at the
first failure. From the `signin_free_failures`-th failure on, each failure blocks the key for a
doubling delay (the attacker is slowed); at `signin_max_failures` the key is refused for the
lockout period. The count only starts over once the window has passed and no block has ended
within the last window, so waiting out the delays never resets it before the lockout.
Attempts are counted before the password is checked, on the side engine's own connection and
committed at once: the request's transaction is rolled back when sign-in fails, and concurrent
attempts must see each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
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


async def attempt(engine: AsyncEngine, key: str, limits: Limits, now: datetime) -> int | None:
    """Count an attempt *before* the password is checked; the seconds to wait if refused.

    The count and the block are one conditional UPDATE, so concurrent attempts cannot all slip
    past a check made before any of them was counted: once one attempt sets the block, the
    others find it. A successful attempt is forgiven afterwards (`forget`, `refund`).
    """
    async with engine.begin() as connection:
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
        counted = await connection.execute(
            update(Throttle)
            .where(col(Throttle.key) == key, or_(blocked_until.is_(None), blocked_until <= now))
            .values(
                failures=case((expired, 1), else_=Throttle.failures + 1),
                window_started_at=case((expired, now), else_=Throttle.window_started_at),
            )
            .returning(col(Throttle.failures))
        )
        failures = counted.scalar_one_or_none()
        if failures is None:
            until = await connection.scalar(
                select(col(Throttle.blocked_until)).where(col(Throttle.key) == key)
            )
            return max(1, math.ceil((until - now).total_seconds())) if until else 1
        block = _blocked_until(failures, limits, now)
        if block is not None:
            await connection.execute(
                update(Throttle).where(col(Throttle.key) == key).values(blocked_until=block)
            )
    return None


async def forget(engine: AsyncEngine, keys: list[str]) -> None:
    """After a success: the account's keys start over."""
    async with engine.begin() as connection:
        await connection.execute(
            update(Throttle)
            .where(col(Throttle.key).in_(keys))
            .values(failures=0, blocked_until=None)
        )


async def refund(engine: AsyncEngine, key: str, limits: Limits) -> None:
    """After a success: take back one provisional count of a shared key (an address), lifting
    its block only if it is back under the free allowance."""
    async with engine.begin() as connection:
        await connection.execute(
            update(Throttle)
            .where(col(Throttle.key) == key, col(Throttle.failures) > 0)
            .values(
                failures=col(Throttle.failures) - 1,
                blocked_until=case(
                    (col(Throttle.failures) - 1 < limits.free_failures, None),
                    else_=col(Throttle.blocked_until),
                ),
            )
        )


def _blocked_until(failures: int, limits: Limits, now: datetime) -> datetime | None:
    if failures >= limits.max_failures:
        return now + limits.lockout
    if failures >= limits.free_failures:
        delay = timedelta(seconds=2 ** (failures - limits.free_failures))
        return now + min(delay, MAX_SLOWDOWN)
    return None
