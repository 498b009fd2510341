"""Domain sweeps: re-check due domains over DNS, remove expired pending ones, lapse the rest.

Safe with several workers on PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED. A check
claims its batch with a lease (pushing `next_check_at` forward, longer than the batch's lookups
can take) and commits before asking the DNS, so no lock is held while the network answers; if
the worker dies, the lease runs out and another worker checks the domain. Each domain's result
is then applied in a transaction of its own: one row that cannot be written (a name two teams
proved at once) never rolls back the others. When nothing is due, nothing touches the network.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.actor import Actor
from core.settings import Settings
from models import Domain, DomainStatus
from services import audit, dns_proof, takeover_release
from services.context import ServiceContext
from services.dns_proof import Proof
from services.domain_checks import (
    TOKEN_LIFETIME,
    first_failure_of_run,
    held_elsewhere_message,
    names_held_elsewhere,
    record_check,
    tell_managers,
)
from worker.context import WorkerContext

log = structlog.get_logger(__name__)

BATCH_SIZE = 50
MIN_LEASE = timedelta(minutes=5)
CONCURRENT_LOOKUPS = 10


async def check_due_domains(ctx: WorkerContext) -> int:
    """Look up every due pending or verified domain (a batch per run); returns how many."""
    now = ctx.clock.now()
    async with ctx.sessions() as db, db.begin():
        claimed = (await db.execute(_claim(now, lease(ctx.settings)))).all()
    if not claimed:
        return 0
    limit = asyncio.Semaphore(CONCURRENT_LOOKUPS)

    async def look_up(domain_id: int, name: str, token: str) -> tuple[int, str, Proof]:
        async with limit:
            return domain_id, name, await dns_proof.look_up(ctx.settings, name, token)

    results = sorted(await asyncio.gather(*(look_up(*row) for row in claimed)), key=lambda r: r[0])
    for domain_id, proof in _one_winner_per_name(results).items():
        await _record_one(ctx, domain_id, proof)
    return len(results)


def lease(settings: Settings) -> timedelta:
    """How long a claimed batch is left to its worker: longer than its lookups can take (the
    batch asks in rounds of CONCURRENT_LOOKUPS, each bounded by the DNS timeout), so a slow
    batch is never claimed again by another worker while it still runs."""
    rounds = math.ceil(BATCH_SIZE / CONCURRENT_LOOKUPS)
    return max(MIN_LEASE, timedelta(seconds=rounds * settings.dns_timeout_seconds) + MIN_LEASE)


async def end_expired_domains(ctx: WorkerContext) -> int:
    """Remove pending domains whose token expired; lapse verified ones past verified_until."""
    now = ctx.clock.now()
    async with ctx.sessions() as db, db.begin():
        service = _service(ctx, db)
        expired = await _due(
            db,
            (col(Domain.status) == DomainStatus.PENDING)
            & (col(Domain.created_at) <= now - TOKEN_LIFETIME),
        )
        for domain in expired:
            audit.domain_expired(service, domain=domain)
        if expired:
            await db.execute(delete(Domain).where(col(Domain.id).in_([d.id for d in expired])))
        lapsing = await _due(
            db, (col(Domain.status) == DomainStatus.VERIFIED) & (col(Domain.verified_until) <= now)
        )
        for domain in lapsing:
            domain.status = DomainStatus.LAPSED
            domain.next_check_at = None
            audit.domain_lapsed(service, domain=domain)
        await tell_managers(service, lapsing, lapsed=True)
        # Its effects end with it: announced takeovers cancelled, managed accounts released.
        await takeover_release.end_domains(service, lapsing, reason="domain_lapsed")
    return len(expired) + len(lapsing)


def _claim(now: datetime, lease: timedelta):  # type: ignore[no-untyped-def]
    due = (
        select(col(Domain.id))
        .where(
            col(Domain.next_check_at) <= now,
            or_(
                col(Domain.status) == DomainStatus.VERIFIED,
                (col(Domain.status) == DomainStatus.PENDING)
                & (col(Domain.created_at) > now - TOKEN_LIFETIME),
            ),
        )
        .order_by(col(Domain.next_check_at))
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True)
    )
    return (
        update(Domain)
        .where(col(Domain.id).in_(due.scalar_subquery()))
        .values(next_check_at=now + lease)
        .returning(col(Domain.id), col(Domain.name), col(Domain.token))
        .execution_options(synchronize_session=False)
    )


async def _due(db: AsyncSession, condition: ColumnElement[bool]) -> list[Domain]:
    return list(
        (
            await db.execute(
                select(Domain)
                .where(condition)
                .order_by(col(Domain.id))
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )


def _one_winner_per_name(results: list[tuple[int, str, Proof]]) -> dict[int, Proof]:
    """Two rows of one batch may prove the same name (one person's two teams): only the
    lowest id may become verified; the others are told the name is held elsewhere."""
    winners: dict[str, int] = {}
    proofs: dict[int, Proof] = {}
    for domain_id, name, proof in results:  # sorted by id
        if proof.ok and winners.setdefault(name, domain_id) != domain_id:
            proof = Proof(False, held_elsewhere_message())
        proofs[domain_id] = proof
    return proofs


async def _record_one(ctx: WorkerContext, domain_id: int, proof: Proof) -> None:
    """Apply one domain's result in a transaction of its own, so that no row can undo or block
    the others' results."""
    try:
        try:
            async with ctx.sessions() as db, db.begin():
                await _apply(_service(ctx, db), domain_id, proof)
        except IntegrityError:
            # Another team verified the name between the read and the write (the unique index
            # on verified names): recorded as the failed check it is, in a fresh transaction.
            async with ctx.sessions() as db, db.begin():
                await _apply(_service(ctx, db), domain_id, Proof(False, held_elsewhere_message()))
    except Exception:
        # One broken row must not stop the batch: it stays leased and is tried again after.
        log.exception("domains.check_record_failed", domain_id=domain_id)


async def _apply(ctx: ServiceContext, domain_id: int, proof: Proof) -> None:
    domain = (
        await ctx.db.execute(
            select(Domain)
            .where(
                col(Domain.id) == domain_id,
                col(Domain.status).in_([DomainStatus.PENDING, DomainStatus.VERIFIED]),
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if domain is None:
        return  # removed or lapsed meanwhile: nothing to record
    if (
        proof.ok
        and domain.status is DomainStatus.PENDING
        and await names_held_elsewhere(ctx, [domain])
    ):
        proof = Proof(False, held_elsewhere_message())
    if record_check(domain, proof, ctx.now()):
        audit.domain_verified(ctx, domain=domain)
    elif first_failure_of_run(domain, ctx.now()):
        # Owners and admins hear of the first failure of a run, not of every retry.
        audit.domain_check_failed(ctx, domain=domain)
        await tell_managers(ctx, [domain], lapsed=False)
    await ctx.db.flush()


def _service(ctx: WorkerContext, db: AsyncSession) -> ServiceContext:
    return ServiceContext(db=db, actor=Actor.system(), settings=ctx.settings, clock=ctx.clock)
