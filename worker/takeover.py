"""The takeover sweep: announced takeovers whose notice period is over take effect, and those
whose domain is gone or no longer verified are cancelled at once (a stale announcement would
keep the domain's name from being announced again, by whichever team verifies it next).

Each takeover is handled in a transaction of its own, so one that fails never undoes or blocks
the others: it is logged, left announced for the next run, and this run goes on past it. Several
workers may run: each claims a takeover under its locks and only while it is still announced,
so a takeover ends once (services.takeover_effect.take_effect_if_due).
"""

from __future__ import annotations

from typing import cast

import structlog
from sqlalchemy import exists, not_, or_, select
from sqlmodel import col

from auth.actor import Actor
from models import Domain, Takeover, TakeoverStatus
from services.context import ServiceContext
from services.takeover_effect import take_effect_if_due
from worker.context import WorkerContext

log = structlog.get_logger(__name__)

BATCH_SIZE = 20
# Batches per run at most: a backlog is worked through over several runs.
MAX_BATCHES = 10


async def make_takeovers_effective(ctx: WorkerContext) -> int:
    """Apply due takeovers and cancel stale ones; returns how many took effect or were
    cancelled. A takeover tried in this run (whatever came of it) is not picked again by it,
    so failing ones cannot take every place of the batch run after run."""
    tried: set[int] = set()
    done = 0
    for _ in range(MAX_BATCHES):
        batch = await _next_batch(ctx, tried)
        if not batch:
            break
        for takeover_id in batch:
            tried.add(takeover_id)
            try:
                async with ctx.sessions() as db, db.begin():
                    service = ServiceContext(
                        db=db, actor=Actor.system(), settings=ctx.settings, clock=ctx.clock
                    )
                    done += await take_effect_if_due(service, takeover_id=takeover_id)
            except Exception:
                log.exception("takeover.effect_failed", takeover_id=takeover_id)
    return done


async def _next_batch(ctx: WorkerContext, tried: set[int]) -> list[int]:
    now = ctx.clock.now()
    domain_held = exists().where(
        col(Domain.id) == col(Takeover.domain_id),
        col(Domain.team_id) == col(Takeover.team_id),
        Domain.in_force(now),
    )
    statement = (
        select(col(Takeover.id))
        .where(
            col(Takeover.status) == TakeoverStatus.ANNOUNCED,
            or_(col(Takeover.effective_at) <= now, not_(domain_held)),
        )
        .order_by(col(Takeover.effective_at), col(Takeover.id))
        .limit(BATCH_SIZE)
    )
    if tried:
        statement = statement.where(col(Takeover.id).not_in(tried))
    async with ctx.sessions() as db:
        return [cast(int, key) for key in (await db.execute(statement)).scalars()]
