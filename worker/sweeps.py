"""Housekeeping sweeps over rows that are due."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from models import EmailVerification, Throttle, UserSession
from worker.context import WorkerContext

# Expired rows are kept a while so a user can still be told why a link or session stopped working.
KEEP_EXPIRED = timedelta(days=30)


async def purge_expired_credentials(ctx: WorkerContext) -> int:
    cutoff = ctx.clock.now() - KEEP_EXPIRED
    async with ctx.sessions() as db, db.begin():
        sessions = await db.execute(delete(UserSession).where(col(UserSession.expires_at) < cutoff))
        links = await db.execute(
            delete(EmailVerification).where(col(EmailVerification.expires_at) < cutoff)
        )
        throttles = await db.execute(
            delete(Throttle).where(
                col(Throttle.window_started_at) < cutoff,
                col(Throttle.blocked_until).is_(None) | (col(Throttle.blocked_until) < cutoff),
            )
        )
    return sum(_count(result) for result in (sessions, links, throttles))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
