"""Writing out queued notice batches (services.notice_batches): each batch's notices and emails,
set-based, in a transaction of its own; before the outbox sweep, so the emails go out in the
same run.

A batch that fails is logged, rolled back and left for the next run; this run goes on past it.
Several workers may run: a batch is claimed under its row's lock (skipped by the others) and
only while it is not done, so it is written out once.
"""

from __future__ import annotations

from typing import cast

import structlog

from services import notice_batches
from worker.context import WorkerContext

log = structlog.get_logger(__name__)

BATCH_SIZE = 20
# Rounds per run at most: a backlog is worked through over several runs.
MAX_ROUNDS = 10


async def expand_notice_batches(ctx: WorkerContext) -> int:
    """Write out pending batches; returns how many. A batch tried in this run (whatever came
    of it) is not picked again by it."""
    tried: set[int] = set()
    done = 0
    for _ in range(MAX_ROUNDS):
        async with ctx.sessions() as db:
            batch = [
                cast(int, key)
                for key in (
                    await db.execute(notice_batches.pending(BATCH_SIZE, skip=tried))
                ).scalars()
            ]
        if not batch:
            break
        for batch_id in batch:
            tried.add(batch_id)
            try:
                async with ctx.sessions() as db, db.begin():
                    done += await notice_batches.expand(db, batch_id, ctx.clock.now())
            except Exception:
                log.exception("notices.expand_failed", batch_id=batch_id)
    return done
