"""Administrator takeover (SPEC 5, [P5] [P6]): preview, announce, cancel, and what dashboards
read. Taking effect is in takeover_effect, release in takeover_release, the notices in
takeover_notices.

Set-based throughout: announcing for 100,000 accounts is the same handful of statements as for
three (the accounts are selected, marked, notified and emailed by INSERT ... SELECT), and the
audit trail gets one event per use case, the TakeoverAccount rows being the per-account record.

Locks, always in this order: a domain row (the lapse sweep, removeDomain), then the team
(services.teams.lock_team), then takeover rows, then accounts. Every change to a team's
takeovers or managed accounts holds the team's lock, so they take turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, literal, select
from sqlmodel import col

from auth import policy
from auth.scopes import Scope
from core.errors import Conflict, InvalidInput
from models import Domain, Member, Takeover, TakeoverAccount, TakeoverOutcome, TakeoverStatus, Team
from models import User as UserRow
from services import audit, normalize, takeover_effect, takeover_notices
from services.context import ServiceContext, flush_or_conflict
from services.pages import Page, PageRequest
from services.teams import TeamView, lock_team, membership
from services.users import UserView, user_columns, user_view

MAX_NOTICE_DAYS = 30
ALREADY_ANNOUNCED = "A takeover of this domain is already announced; cancel it first."


@dataclass(frozen=True, slots=True)
class TakeoverView:
    id: int
    team_id: int
    domain_id: int | None
    domain_name: str
    status: TakeoverStatus
    notice_days: int
    announced_by_id: int | None
    announced_at: datetime
    effective_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None
    affected_count: int
    managed_count: int
    skipped_count: int


@dataclass(frozen=True, slots=True)
class TakeoverPreview:
    domain_id: int
    affected_count: int
    accounts: Page[UserView]


@dataclass(frozen=True, slots=True)
class ManagingTeamView:
    """Who manages the viewer's account: told to the user even when not a member [P5]."""

    team_id: int
    slug: str
    name: str
    since: datetime | None
    domain: str | None


# --- writes ---------------------------------------------------------------------------------


async def preview_takeover(
    ctx: ServiceContext, *, domain_id: int, page: PageRequest
) -> TakeoverPreview:
    """[P5] Exactly the accounts an announcement now would name: how many, and a page of them
    (shown as any User, so [P1]/[P2] decide whose email shows). The preview is audit-logged."""
    domain, _ = await _domain_in_force(ctx, domain_id)
    affects = policy.takeover_affects(domain.name, domain.unicode_name)
    count = int(await ctx.db.scalar(select(func.count()).select_from(UserRow).where(affects)) or 0)
    statement = select(*user_columns(ctx)).where(affects).order_by(col(UserRow.id))
    if page.after is not None:
        statement = statement.where(col(UserRow.id) > page.after)
    rows = await ctx.db.execute(statement.limit(page.first + 1))
    accounts = Page.from_rows([(row.id, user_view(ctx.actor, row)) for row in rows], page)
    audit.takeover_previewed(ctx, domain=domain, affected_count=count)
    await ctx.db.flush()
    return TakeoverPreview(domain_id=domain_id, affected_count=count, accounts=accounts)


async def announce_takeover(
    ctx: ServiceContext, *, domain_id: int, notice_days: int | None
) -> TakeoverView:
    """[P5] Name the affected accounts and tell each of them (in-app and by email) which team
    will manage it and from when. With a notice of 0 days the takeover takes effect in this
    same transaction (and the users get the one notice that it did)."""
    domain, manager = await _domain_in_force(ctx, domain_id, lock=True)
    team = (await ctx.db.execute(select(Team).where(col(Team.id) == domain.team_id))).scalar_one()
    days = team.takeover_notice_days if notice_days is None else notice_days
    if not 0 <= days <= MAX_NOTICE_DAYS:
        raise InvalidInput(f"The notice period is 0 to {MAX_NOTICE_DAYS} days.", field="noticeDays")
    policy.check_takeover_notice(manager, days, team.takeover_notice_days)
    if await ctx.db.scalar(
        select(col(Takeover.id)).where(
            col(Takeover.domain_name) == domain.name,
            col(Takeover.status) == TakeoverStatus.ANNOUNCED,
        )
    ):
        raise Conflict(ALREADY_ANNOUNCED, field="domainId")
    now = ctx.now()
    takeover = Takeover(
        team_id=team.id,  # type: ignore[arg-type]
        domain_id=domain.id,
        domain_name=domain.name,
        notice_days=days,
        announced_by_id=ctx.actor.user_id,
        announced_at=now,
        effective_at=now + timedelta(days=days),
    )
    ctx.db.add(takeover)
    # The team's lock makes announcements of one team take turns; the partial unique index
    # decides between teams (a domain that changed hands) and anything else.
    await flush_or_conflict(ctx, ALREADY_ANNOUNCED, field="domainId")
    if days == 0:
        takeover.affected_count = await takeover_effect.claim_at_once(ctx, takeover, domain)
    else:
        takeover.affected_count = await _name_accounts(ctx, takeover, domain)
        await takeover_notices.announced(ctx, takeover, team_name=team.name)
    # The count, not the ids: the TakeoverAccount rows are the per-account record.
    audit.takeover_announced(
        ctx,
        team_id=takeover.team_id,
        takeover_id=cast(int, takeover.id),
        domain=domain.name,
        notice_days=days,
        effective_at=takeover.effective_at,
        affected_count=takeover.affected_count,
    )
    if days == 0:
        await takeover_effect.finish(
            ctx, takeover, team_name=team.name, managed=takeover.affected_count, skipped=0
        )
    await ctx.db.flush()
    return view(takeover)


async def cancel_takeover(ctx: ServiceContext, *, takeover_id: int) -> TakeoverView:
    """Call off an announced takeover before it takes effect; its users are told."""
    policy.require_principal(ctx.actor)
    team_id = await ctx.db.scalar(
        select(col(Takeover.team_id)).where(col(Takeover.id) == takeover_id)
    )
    await _require_manager(ctx, team_id, missing="No such takeover.", field="takeoverId")
    assert team_id is not None
    await lock_team(ctx, team_id)
    await _require_manager(ctx, team_id, missing="No such takeover.", field="takeoverId")
    takeover = (
        await ctx.db.execute(
            select(Takeover)
            .where(col(Takeover.id) == takeover_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if takeover.status is not TakeoverStatus.ANNOUNCED:
        raise Conflict(
            f"This takeover is {takeover.status.value} and can no longer be cancelled.",
            field="takeoverId",
        )
    team_name = await ctx.db.scalar(select(col(Team.name)).where(col(Team.id) == team_id))
    await takeover_effect.cancel(
        ctx, takeover, team_name=team_name or "", reason="cancelled", by_user_id=ctx.actor.user_id
    )
    await ctx.db.flush()
    return view(takeover)


# --- reads ----------------------------------------------------------------------------------


async def team_takeovers(
    ctx: ServiceContext, team: TeamView, page: PageRequest
) -> Page[TakeoverView] | None:
    """A team's takeovers, newest first; None unless the viewer owns or administers it."""
    if not policy.can_read_takeovers(ctx.actor, team.viewer_role):
        return None
    statement = (
        select(Takeover)
        .where(col(Takeover.team_id) == team.id)
        .order_by(col(Takeover.id).desc())
        .limit(page.first + 1)
    )
    if page.after is not None:
        statement = statement.where(col(Takeover.id) < page.after)
    rows = (await ctx.db.execute(statement)).scalars()
    return Page.from_rows([(cast(int, row.id), view(row)) for row in rows], page)


async def takeovers_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[TakeoverView | None]:
    """Takeovers of teams the viewer owns or administers; None for any other id."""
    if not ids:
        return []
    rows = await ctx.db.execute(
        select(Takeover).where(
            col(Takeover.id).in_(set(ids)),
            col(Takeover.team_id).in_(policy.managed_team_ids(ctx.actor, Scope.TAKEOVER_MANAGE)),
        )
    )
    found = {row.id: view(row) for row in rows.scalars()}
    return [found.get(key) for key in ids]


async def managing_team(ctx: ServiceContext) -> ManagingTeamView | None:
    """The team managing the viewer's own account, or None."""
    user = policy.viewer_user(ctx.actor)
    if user is None or user.managed_by_team_id is None:
        return None
    row = (
        await ctx.db.execute(
            select(
                col(Team.id),
                col(Team.slug),
                col(Team.name),
                col(UserRow.managed_since),
                col(UserRow.managed_domain),
            )
            .join(UserRow, col(UserRow.managed_by_team_id) == col(Team.id))
            .where(col(UserRow.id) == user.id)
        )
    ).first()
    if row is None:
        return None
    team_id, slug, name, since, domain = row
    shown = normalize.domain_display(domain) if domain else None
    return ManagingTeamView(
        team_id=cast(int, team_id), slug=slug, name=name, since=since, domain=shown
    )


# --- internals ------------------------------------------------------------------------------


async def _domain_in_force(
    ctx: ServiceContext, domain_id: int, *, lock: bool = False
) -> tuple[Domain, Member]:
    """The domain, if the actor owns or administers its team and the team holds it verified,
    and the actor's membership. With `lock`, the domain row's lock and then the team's are
    taken (the documented order; the takeover row's foreign key would otherwise wait on the
    domain row while holding the team's lock) and everything is read again after them."""
    policy.require_principal(ctx.actor)
    domain = await _read_domain(ctx, domain_id)
    manager = await _require_manager(ctx, domain.team_id if domain else None, field="domainId")
    if lock:
        assert domain is not None
        await takeover_effect.lock_domain(ctx, domain_id)
        await lock_team(ctx, domain.team_id)
        domain = await _read_domain(ctx, domain_id)
        manager = await _require_manager(ctx, domain.team_id if domain else None, field="domainId")
    assert domain is not None
    in_force = await ctx.db.scalar(
        select(col(Domain.id)).where(col(Domain.id) == domain_id, Domain.in_force(ctx.now()))
    )
    if in_force is None:
        raise InvalidInput(
            "Only a domain the team holds verified can be taken over: verify it first.",
            field="domainId",
        )
    return domain, manager


async def _read_domain(ctx: ServiceContext, domain_id: int) -> Domain | None:
    return (
        await ctx.db.execute(
            select(Domain)
            .where(col(Domain.id) == domain_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _require_manager(
    ctx: ServiceContext, team_id: int | None, *, missing: str = "No such domain.", field: str
) -> Member:
    own = await membership(ctx, team_id) if team_id is not None else None
    return policy.require_takeover_manager(ctx.actor, own, missing=missing, field=field)


async def _name_accounts(ctx: ServiceContext, takeover: Takeover, domain: Domain) -> int:
    """One INSERT ... SELECT: a pending TakeoverAccount for every affected account; returns
    how many (counted by the database, no id comes back)."""
    affects = policy.takeover_affects(domain.name, domain.unicode_name)
    result = await ctx.db.execute(
        insert(TakeoverAccount).from_select(
            ["takeover_id", "user_id", "email", "outcome"],
            select(
                literal(takeover.id),
                col(UserRow.id),
                col(UserRow.email),
                literal(TakeoverOutcome.PENDING.value),
            ).where(affects),
        )
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


def view(row: Takeover) -> TakeoverView:
    return TakeoverView(
        id=cast(int, row.id),
        team_id=row.team_id,
        domain_id=row.domain_id,
        domain_name=row.domain_name,
        status=TakeoverStatus(row.status),
        notice_days=row.notice_days,
        announced_by_id=row.announced_by_id,
        announced_at=row.announced_at,
        effective_at=row.effective_at,
        completed_at=row.completed_at,
        cancelled_at=row.cancelled_at,
        affected_count=row.affected_count,
        managed_count=row.managed_count,
        skipped_count=row.skipped_count,
    )
