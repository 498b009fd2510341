"""Google sign-ups never finished: the account waited for a birth date that never came [P4]."""

from __future__ import annotations

from services.signups import discard_pending
from worker.context import WorkerContext


async def discard_abandoned_signups(ctx: WorkerContext) -> int:
    async with ctx.sessions() as db, db.begin():
        return await discard_pending(db, expired_by=ctx.clock.now())
