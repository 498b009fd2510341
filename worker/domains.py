"""Domain sweeps: re-check due domains over DNS, remove expired pending ones, lapse the rest.

Safe with several workers on PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED. A check
claims its batch with a short lease (pushing `next_check_at` forward) and commits before asking
the DNS, so no lock is held while the network answers; if the worker dies, the lease runs out
and another worker checks the domain. When nothing is due, nothing touches the network.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.actor import Actor
from models import Domain, DomainStatus
from services import audit, dns_proof
from services.context import ServiceContext
from services.dns_proof import Proof
from services.domain_checks import (
    TOKEN_LIFETIME,
    held_elsewhere_message,
    names_held_elsewhere,
    record_check,
    tell_managers,
)
from worker.context import WorkerContext

BATCH_SIZE = 50
LEASE = timedelta(minutes=5)
CONCURRENT_LOOKUPS = 10


async def check_due_domains(ctx: WorkerContext) -> int:
    """Look up every due pending or verified domain (a batch per run); returns how many."""
    now = ctx.clock.now()
    async with ctx.sessions() as db, db.begin():
        claimed = (await db.execute(_claim(now))).all()
    if not claimed:
        return 0
    limit = asyncio.Semaphore(CONCURRENT_LOOKUPS)

    async def look_up(domain_id: int, name: str, token: str) -> tuple[int, Proof]:
        async with limit:
            return domain_id, await dns_proof.look_up(ctx.settings, name, token)

    proofs = dict(await asyncio.gather(*(look_up(*row) for row in claimed)))
    async with ctx.sessions() as db, db.begin():
        await _record(_service(ctx, db), proofs)
    return len(proofs)


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
    return len(expired) + len(lapsing)


def _claim(now: datetime):  # type: ignore[no-untyped-def]
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
        .values(next_check_at=now + LEASE)
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


async def _record(ctx: ServiceContext, proofs: dict[int, Proof]) -> None:
    now = ctx.now()
    domains = list(
        (
            await ctx.db.execute(
                select(Domain)
                .where(
                    col(Domain.id).in_(proofs),
                    col(Domain.status).in_([DomainStatus.PENDING, DomainStatus.VERIFIED]),
                )
                .order_by(col(Domain.id))
                .with_for_update()
            )
        ).scalars()
    )  # removed or lapsed meanwhile: nothing to record
    held = await names_held_elsewhere(
        ctx,
        [d for d in domains if d.status is DomainStatus.PENDING and proofs[d.id].ok],  # type: ignore[index]
    )
    newly_failing: list[Domain] = []
    for domain in domains:
        proof = proofs[domain.id]  # type: ignore[index]
        if proof.ok and domain.name in held and domain.status is DomainStatus.PENDING:
            proof = Proof(False, held_elsewhere_message())
        if record_check(domain, proof, now):
            audit.domain_verified(ctx, domain=domain)
        elif not proof.ok and domain.status is DomainStatus.VERIFIED and domain.check_failures == 1:
            # Owners and admins hear of the first failure of a run, not of every retry.
            audit.domain_check_failed(ctx, domain=domain)
            newly_failing.append(domain)
    await tell_managers(ctx, newly_failing, lapsed=False)


def _service(ctx: WorkerContext, db: AsyncSession) -> ServiceContext:
    return ServiceContext(db=db, actor=Actor.system(), settings=ctx.settings, clock=ctx.clock)
