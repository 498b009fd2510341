"""What a takeover tells its users, in-app and by email: one INSERT ... SELECT for the notices
and one for the emails per step, whatever the number of accounts. Every recipient gets the same
text; the address comes from the account row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select, true
from sqlmodel import col

from models import Takeover, TakeoverAccount, TakeoverOutcome, User, UserStatus
from services import emails, normalize
from services.context import ServiceContext
from services.notifications import email_users, notify_users

# Accounts that can still read a notice or an email (a purged account has no address left).
REACHABLE = (UserStatus.ACTIVE, UserStatus.DEACTIVATED, UserStatus.PENDING_DELETION)
# Email goes only to a verified address: one the user proved is theirs (an address they moved
# to and never confirmed may be anyone's).
EMAILABLE = col(User.status).in_(REACHABLE) & col(User.email_verified_at).is_not(None)


async def announced(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    domain = normalize.domain_display(takeover.domain_name)
    await _tell(
        ctx,
        takeover,
        TakeoverOutcome.PENDING,
        kind="takeover.announced",
        details={**_about(takeover, team_name), "effective_at": takeover.effective_at.isoformat()},
        email=emails.takeover_announced(
            team_name=team_name, domain=domain, effective_at=takeover.effective_at
        ),
    )


async def effective(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    domain = normalize.domain_display(takeover.domain_name)
    since = ctx.now()
    await _tell(
        ctx,
        takeover,
        TakeoverOutcome.MANAGED,
        kind="takeover.effective",
        details={**_about(takeover, team_name), "managed_since": since.isoformat()},
        email=emails.takeover_effective(team_name=team_name, domain=domain, since=since),
    )


async def cancelled(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    """To the accounts still waiting for it (called before they are marked cancelled), except
    those another team manages by now: "managed by nobody" would not be true for them."""
    domain = normalize.domain_display(takeover.domain_name)
    await _tell(
        ctx,
        takeover,
        TakeoverOutcome.PENDING,
        kind="takeover.cancelled",
        details=_about(takeover, team_name),
        email=emails.takeover_cancelled(team_name=team_name, domain=domain),
        only=col(User.managed_by_team_id).is_(None),
    )


async def skipped(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    """To the accounts the takeover left out when it took effect [P6]: it concerns them no
    more (called once their rows are marked skipped)."""
    domain = normalize.domain_display(takeover.domain_name)
    await _tell(
        ctx,
        takeover,
        TakeoverOutcome.SKIPPED,
        kind="takeover.skipped",
        details=_about(takeover, team_name),
        email=emails.takeover_skipped(team_name=team_name, domain=domain),
    )


async def released(
    ctx: ServiceContext,
    accounts: Select[Any],
    *,
    team_id: int,
    team_name: str,
    domain: str | None,
    reason: str,
) -> None:
    """`accounts`: a SELECT of the released users' ids (before the release clears them)."""
    details = {"team_name": team_name, "domain": domain, "reason": reason}
    await notify_users(
        ctx, accounts, kind="managed_account.released", team_id=team_id, details=details
    )
    await email_users(
        ctx,
        select(col(User.email)).where(col(User.id).in_(accounts.scalar_subquery()), EMAILABLE),
        email=emails.managed_account_released(team_name=team_name),
    )


async def _tell(
    ctx: ServiceContext,
    takeover: Takeover,
    outcome: TakeoverOutcome,
    *,
    kind: str,
    details: dict[str, Any],
    email: emails.Email,
    only: ColumnElement[bool] | None = None,
) -> None:
    """The takeover's accounts with this outcome (and, if given, matching `only` over
    `user_account`) are told in-app; those of them with a verified address by email."""
    named = (col(TakeoverAccount.takeover_id) == takeover.id) & (
        col(TakeoverAccount.outcome) == outcome
    )
    users = select(col(TakeoverAccount.user_id)).where(named)
    if only is not None:
        users = users.join(User, col(User.id) == col(TakeoverAccount.user_id)).where(only)
    await notify_users(ctx, users, kind=kind, team_id=takeover.team_id, details=details)
    await email_users(
        ctx,
        select(col(User.email))
        .join(TakeoverAccount, col(TakeoverAccount.user_id) == col(User.id))
        .where(named, EMAILABLE, only if only is not None else true()),
        email=email,
    )


def _about(takeover: Takeover, team_name: str) -> dict[str, Any]:
    return {
        "takeover_id": takeover.id,
        "team_name": team_name,
        "domain": normalize.domain_display(takeover.domain_name),
    }
