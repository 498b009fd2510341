"""What a DNS check of a domain changes, for checks asked by an admin and by the worker alike.

Timing (SPEC 4): a new domain's token is valid for TOKEN_LIFETIME; pending domains are
re-checked with a growing backoff until then and removed after it. A verified domain is
re-checked every RECHECK_INTERVAL; each success extends `verified_until` to at least
now + GRACE, failures retry sooner (and the team's owners and admins are told once per run of
failures); past `verified_until` the domain lapses.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from auth import policy
from models import Domain, DomainStatus, Member, Team, User, UserStatus
from services import emails
from services.context import ServiceContext
from services.dns_proof import Proof
from services.outbox import send_email

TOKEN_LIFETIME = timedelta(days=7)
GRACE = timedelta(days=7)
RECHECK_INTERVAL = timedelta(days=1)
FIRST_CHECK_DELAY = timedelta(minutes=5)
# An admin may ask for a check of one domain at most this often (verifyDomain).
MANUAL_CHECK_COOLDOWN = timedelta(seconds=30)


def pending_backoff(failures: int) -> timedelta:
    """5 min, 10 min, 20 min, … capped at 6 h: about 30 looks within a token's 7 days."""
    return min(FIRST_CHECK_DELAY * 2 ** max(failures - 1, 0), timedelta(hours=6))


def verified_backoff(failures: int) -> timedelta:
    """1 h, 2 h, 4 h, … capped at a day: a broken record is noticed again soon."""
    return min(timedelta(hours=1) * 2 ** max(failures - 1, 0), RECHECK_INTERVAL)


def token_expires_at(domain: Domain) -> datetime:
    return domain.created_at + TOKEN_LIFETIME


def record_check(domain: Domain, proof: Proof, now: datetime) -> bool:
    """Apply one check's result; True when the domain became verified by it."""
    domain.last_checked_at = now
    domain.last_check_ok = proof.ok
    domain.last_check_message = proof.message[:255]
    if proof.ok:
        newly_verified = domain.status is not DomainStatus.VERIFIED
        domain.status = DomainStatus.VERIFIED
        if newly_verified:
            domain.verified_at = now
        held_until = domain.verified_until
        domain.verified_until = max(held_until, now + GRACE) if held_until else now + GRACE
        domain.check_failures = 0
        domain.failure_notified_at = None
        domain.next_check_at = now + RECHECK_INTERVAL
        return newly_verified
    domain.check_failures += 1
    if domain.status is DomainStatus.PENDING:
        domain.next_check_at = now + pending_backoff(domain.check_failures)
    elif domain.status is DomainStatus.VERIFIED:
        domain.next_check_at = now + verified_backoff(domain.check_failures)
    else:
        domain.next_check_at = None  # lapsed: checked again only when an admin asks
    return False


def first_failure_of_run(domain: Domain, now: datetime) -> bool:
    """After a failed check (by an admin or the worker): True once per run of failures of a
    verified domain, when its owners and admins are to be told; a success ends the run."""
    if (
        domain.status is not DomainStatus.VERIFIED
        or domain.last_check_ok is not False
        or domain.failure_notified_at is not None
    ):
        return False
    domain.failure_notified_at = now
    return True


def held_elsewhere_message() -> str:
    return "Another team has already verified this domain."


async def names_held_elsewhere(ctx: ServiceContext, domains: Iterable[Domain]) -> set[str]:
    """Which of these names another team holds verified (the team is never named)."""
    wanted = {domain.name: domain.team_id for domain in domains}
    if not wanted:
        return set()
    rows = await ctx.db.execute(
        select(col(Domain.name), col(Domain.team_id)).where(
            col(Domain.name).in_(wanted), col(Domain.status) == DomainStatus.VERIFIED
        )
    )
    return {name for name, team_id in rows if team_id != wanted[name]}


async def tell_managers(ctx: ServiceContext, domains: list[Domain], *, lapsed: bool) -> int:
    """Email each team's active owners and admins about its domains; one query for all."""
    if not domains:
        return 0
    team_ids = {domain.team_id for domain in domains}
    rows = (
        await ctx.db.execute(
            select(col(Member.team_id), col(Team.name), col(User.email))
            .join(Team, col(Team.id) == Member.team_id)
            .join(User, col(User.id) == Member.user_id)
            .where(
                col(Member.team_id).in_(team_ids),
                col(Member.role).in_(policy.MANAGER_ROLES),
                col(User.status) == UserStatus.ACTIVE,
            )
        )
    ).all()
    sent = 0
    for domain in domains:
        for team_id, team_name, address in rows:
            if team_id != domain.team_id:
                continue
            display = domain.unicode_name
            email = (
                emails.domain_lapsed(team_name=team_name, domain=display)
                if lapsed
                else emails.domain_check_failed(
                    team_name=team_name,
                    domain=display,
                    message=domain.last_check_message or "",
                    verified_until=domain.verified_until,
                )
            )
            send_email(ctx, to=address, email=email)
            sent += 1
    return sent
