"""The worker loop: every sweep, again and again; any number of workers may run at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from worker.context import WorkerContext
from worker.domains import check_due_domains, end_expired_domains
from worker.notices import expand_notice_batches
from worker.outbox import deliver_outbox
from worker.signups import discard_abandoned_signups
from worker.sweeps import purge_expired_credentials
from worker.takeover import make_takeovers_effective

log = structlog.get_logger(__name__)

Sweep = Callable[[WorkerContext], Awaitable[int]]

SWEEPS: dict[str, Sweep] = {
    # First, so the emails of the batches written out go on the outbox sweep's run.
    "notices": expand_notice_batches,
    "outbox": deliver_outbox,
    "purge_expired_credentials": purge_expired_credentials,
    "abandoned_signups": discard_abandoned_signups,
    # Checks first, so a record put back in time still saves a domain about to lapse; the
    # emails both queue go out on the outbox sweep's next run.
    "domain_checks": check_due_domains,
    "domain_expiry": end_expired_domains,
    # After the domain sweeps: a takeover whose domain just lapsed is cancelled, not applied.
    "takeovers": make_takeovers_effective,
}


async def run_once(ctx: WorkerContext, sweeps: dict[str, Sweep] | None = None) -> dict[str, int]:
    """Run each sweep once; a failing sweep is logged and does not stop the others."""
    done: dict[str, int] = {}
    for name, sweep in (sweeps or SWEEPS).items():
        try:
            done[name] = await sweep(ctx)
        except Exception:
            log.exception("worker.sweep_failed", sweep=name)
            done[name] = -1
    return done


async def run_forever(ctx: WorkerContext, stop: asyncio.Event) -> None:
    log.info("worker.started", interval=ctx.settings.worker_interval_seconds)
    while not stop.is_set():
        await run_once(ctx)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.worker_interval_seconds)
    log.info("worker.stopped")
