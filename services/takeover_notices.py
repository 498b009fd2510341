"""What a takeover tells its users, in-app and by email: per step one NoticeBatch queued in the
step's transaction (services.notice_batches), written out per user by the worker. Every
recipient gets the same text; the address is the account's when the batch is written out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlmodel import col

from models import NoticeAudience, Takeover, TakeoverAccount, TakeoverOutcome, User
from services import emails, normalize, notice_batches
from services.context import ServiceContext


async def announced(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    domain = normalize.domain_display(takeover.domain_name)
    await _tell(
        ctx,
        takeover,
        NoticeAudience.NAMED,
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
        NoticeAudience.MANAGED,
        kind="takeover.effective",
        details={**_about(takeover, team_name), "managed_since": since.isoformat()},
        email=emails.takeover_effective(team_name=team_name, domain=domain, since=since),
    )


async def cancelled(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    """To the accounts still waiting for it (called before they are marked cancelled), except
    those another team manages by now: "managed by nobody" would not be true for them."""
    domain = normalize.domain_display(takeover.domain_name)
    # Listed: by the time the batch is written out, the accounts are marked cancelled and
    # who was managed by another team at this moment is no longer known.
    waiting = (
        select(col(TakeoverAccount.user_id))
        .join(User, col(User.id) == col(TakeoverAccount.user_id))
        .where(
            col(TakeoverAccount.takeover_id) == takeover.id,
            col(TakeoverAccount.outcome) == TakeoverOutcome.PENDING,
            col(User.managed_by_team_id).is_(None),
        )
    )
    await _tell(
        ctx,
        takeover,
        NoticeAudience.LISTED,
        kind="takeover.cancelled",
        details=_about(takeover, team_name),
        email=emails.takeover_cancelled(team_name=team_name, domain=domain),
        listed=waiting,
    )


async def skipped(ctx: ServiceContext, takeover: Takeover, *, team_name: str) -> None:
    """To the accounts the takeover left out when it took effect [P6]: it concerns them no
    more (called once their rows are marked skipped)."""
    domain = normalize.domain_display(takeover.domain_name)
    await _tell(
        ctx,
        takeover,
        NoticeAudience.SKIPPED,
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
    await notice_batches.queue(
        ctx,
        kind="managed_account.released",
        team_id=team_id,
        details={"team_name": team_name, "domain": domain, "reason": reason},
        email=emails.managed_account_released(team_name=team_name),
        audience=NoticeAudience.LISTED,
        listed=accounts,
    )


async def _tell(
    ctx: ServiceContext,
    takeover: Takeover,
    audience: NoticeAudience,
    *,
    kind: str,
    details: dict[str, Any],
    email: emails.Email,
    listed: Select[Any] | None = None,
) -> None:
    """The takeover's accounts in `audience` are told in-app; those of them with a verified
    address by email (when the worker writes the batch out)."""
    await notice_batches.queue(
        ctx,
        kind=kind,
        team_id=takeover.team_id,
        details=details,
        email=email,
        audience=audience,
        takeover_id=takeover.id,
        listed=listed,
    )


def _about(takeover: Takeover, team_name: str) -> dict[str, Any]:
    return {
        "takeover_id": takeover.id,
        "team_name": team_name,
        "domain": normalize.domain_display(takeover.domain_name),
    }
