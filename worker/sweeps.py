"""Housekeeping sweeps over rows that are due."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from models import EmailVerification, Throttle, UserSession
from worker.context import WorkerContext

# Expired rows are kept a while so a user can still be told why a link or session stopped working.
KEEP_EXPIRED = timedelta(days=30)


async def purge_expired_credentials(ctx: WorkerContext) -> int:
    cutoff = ctx.clock.now() - KEEP_EXPIRED
    async with ctx.sessions() as db, db.begin():
        sessions = await db.execute(delete(UserSession).where(UserSession.expires_at < cutoff))
        links = await db.execute(
            delete(EmailVerification).where(EmailVerification.expires_at < cutoff)
        )
        throttles = await db.execute(
            delete(Throttle).where(
                Throttle.window_started_at < cutoff,
                (Throttle.blocked_until.is_(None)) | (Throttle.blocked_until < cutoff),  # type: ignore[union-attr,operator]
            )
        )
    return sum(int(r.rowcount or 0) for r in (sessions, links, throttles))  # type: ignore[attr-defined]
