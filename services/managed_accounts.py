"""What the owners and admins of a managing team do with the accounts it manages (SPEC 5):
list them, deactivate and reactivate them, sign them out everywhere, rename them, and set the
team's takeover notice and managed-account retention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlmodel import col

from auth import policy, sessions
from core.errors import Conflict, InvalidInput
from models import (
    ApiToken,
    App,
    EmailChangeRequest,
    EmailChangeStatus,
    Installation,
    Member,
    Role,
    Team,
    User,
    UserStatus,
)
from services import accounts, audit, emails, normalize
from services.context import ServiceContext
from services.notifications import notify
from services.outbox import send_email
from services.pages import Page, PageRequest
from services.teams import TeamView, find_team, lock_team, membership
from services.token_revocation import revoke_tokens
from services.users import USER_COLUMNS, UserView, user_view

NOTICE_DAYS = (0, 30)
# At least a day, so that a deleted managed account can always be restored the same day; at
# most ten years.
RETENTION_DAYS = (1, 3650)
# Pending sign-ups and purged accounts are no one's to administer.
GONE = (UserStatus.PENDING, UserStatus.DELETED)


@dataclass(frozen=True, slots=True)
class ManagedAccountView:
    user: UserView
    # None where policy.managed_email_visible hides it [P1, P2].
    email: str | None
    email_verified: bool
    status: UserStatus
    managed_since: datetime | None
    managed_domain: str | None


@dataclass(frozen=True, slots=True)
class ManagedSettings:
    takeover_notice_days: int
    managed_retention_days: int


# --- reads ----------------------------------------------------------------------------------


def domain_filter(domain: str | None) -> str | None:
    """The `domain` argument of a managed-account list, as stored (INVALID_INPUT if it names
    no domain)."""
    return normalize.domain_name(domain, "domain") if domain is not None else None


async def managed_account_pages(
    ctx: ServiceContext,
    teams: Sequence[TeamView],
    page: PageRequest,
    *,
    statuses: Sequence[UserStatus] = (),
    domain: str | None = None,
) -> list[Page[ManagedAccountView] | None]:
    """One page of each team's managed accounts in id order, in one query however many teams
    there are; None for a team whose managed accounts the viewer may not read. `domain` comes
    from domain_filter."""
    readable = [
        team.id for team in teams if policy.can_read_managed_accounts(ctx.actor, team.viewer_role)
    ]
    found: dict[int, list[tuple[int, ManagedAccountView]]] = {team_id: [] for team_id in readable}
    if readable:
        filters: list[ColumnElement[bool]] = [
            col(User.managed_by_team_id).in_(readable),
            col(User.status).not_in(GONE),
        ]
        if statuses:
            filters.append(col(User.status).in_(list(statuses)))
        if domain is not None:
            filters.append(col(User.managed_domain) == domain)
        if page.after is not None:
            filters.append(col(User.id) > page.after)
        statement = _first_rows_per_team(ctx, filters, page, several=len(readable) > 1)
        for row in await ctx.db.execute(statement):
            view = _account_view(ctx, row, in_team_domain=bool(row.email_in_team_domain))
            found[row.managed_by_team_id].append((row.id, view))
    return [Page.from_rows(found[team.id], page) if team.id in found else None for team in teams]


async def settings_of_teams(
    ctx: ServiceContext, teams: Sequence[TeamView]
) -> list[ManagedSettings | None]:
    """Each team's takeover notice and retention (None where the viewer may not read them)."""
    readable = [
        team.id for team in teams if policy.can_read_managed_accounts(ctx.actor, team.viewer_role)
    ]
    found: dict[int, ManagedSettings] = {}
    if readable:
        rows = await ctx.db.execute(
            select(
                col(Team.id), col(Team.takeover_notice_days), col(Team.managed_retention_days)
            ).where(col(Team.id).in_(readable))
        )
        found = {
            cast(int, team_id): ManagedSettings(notice, retention)
            for team_id, notice, retention in rows
        }
    return [found.get(team.id) for team in teams]


async def managing_role(ctx: ServiceContext, team_id: int, user_id: int) -> Role | None:
    """The managed user's own role in the managing team (they need not be a member)."""
    role = await ctx.db.scalar(
        select(col(Member.role)).where(
            col(Member.team_id) == team_id, col(Member.user_id) == user_id
        )
    )
    return Role(role) if role is not None else None


async def locked_acting_member(ctx: ServiceContext, team_id: int) -> Member | None:
    """The actor's membership of the team, read under the team's write lock (the order every
    change to managed accounts and takeovers follows) together with the actor's own account,
    which must still be active: of two owners deactivating each other at once, the second
    finds themself deactivated."""
    await lock_team(ctx, team_id)
    found = (
        await ctx.db.execute(
            select(Member, col(User.status))
            .join(User, col(User.id) == col(Member.user_id))
            .where(col(Member.team_id) == team_id, col(Member.user_id) == ctx.actor.user_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        return None
    member, status = found
    policy.check_acting_account_active(UserStatus(status))
    return cast(Member, member)


# --- writes ---------------------------------------------------------------------------------


async def deactivate(
    ctx: ServiceContext, *, user_id: int, reason: str | None
) -> ManagedAccountView:
    """Terminate access at once, in one transaction: status deactivated; every session, access
    token and token of the apps the user owns revoked; a pending email change withdrawn.
    Sign-in (password or Google) and those apps' client credentials are refused until
    reactivation."""
    target = await _administered(ctx, user_id)
    user, team_id = target.user, target.team_id
    policy.check_deactivate(ctx.actor, user)
    note = normalize.optional_text(reason, "reason", max_length=255)
    if target.role is Role.OWNER:
        policy.check_keeps_an_active_owner(await _other_active_owners(ctx, team_id, user_id))
    await _move(ctx, user, UserStatus.ACTIVE, UserStatus.DEACTIVATED)
    revoked = await _revoke_access(ctx, user_id)
    cancelled = await ctx.db.execute(
        update(EmailChangeRequest)
        .where(
            col(EmailChangeRequest.user_id) == user_id,
            col(EmailChangeRequest.status) == EmailChangeStatus.PENDING,
        )
        .values(
            status=EmailChangeStatus.CANCELLED.value,
            decided_at=ctx.now(),
            decided_by_id=ctx.actor.user_id,
        )
        .execution_options(synchronize_session=False)
    )
    audit.managed_user_deactivated(
        ctx,
        user=user,
        team_id=team_id,
        reason=note,
        sessions_revoked=revoked.sessions,
        tokens_revoked=revoked.tokens,
        app_tokens_revoked=revoked.app_tokens,
        email_changes_cancelled=int(cancelled.rowcount or 0),  # type: ignore[attr-defined]
    )
    team_name = await _team_name(ctx, team_id)
    notify(
        ctx,
        user_id=user_id,
        kind="account.deactivated",
        team_id=team_id,
        details={"team": team_name, "reason": note},
    )
    send_email(
        ctx,
        to=user.email,
        email=emails.account_deactivated(team_name=team_name, username=user.username, reason=note),
    )
    return await _changed_view(ctx, user)


async def reactivate(ctx: ServiceContext, *, user_id: int) -> ManagedAccountView:
    target = await _administered(ctx, user_id)
    user, team_id = target.user, target.team_id
    await _move(ctx, user, UserStatus.DEACTIVATED, UserStatus.ACTIVE)
    # Nothing may have been live while the account was deactivated; should a sign-in that raced
    # the deactivation have left something behind, it ends here rather than coming back.
    await _revoke_access(ctx, user_id)
    audit.managed_user_reactivated(ctx, user=user, team_id=team_id)
    notify(
        ctx,
        user_id=user_id,
        kind="account.reactivated",
        team_id=team_id,
        details={"team": await _team_name(ctx, team_id)},
    )
    return await _changed_view(ctx, user)


async def sign_out_everywhere(ctx: ServiceContext, *, user_id: int) -> ManagedAccountView:
    """Every browser session ends; access tokens stay (they are the user's programs, and
    deactivation is the way to stop those too)."""
    target = await _administered(ctx, user_id)
    user, team_id = target.user, target.team_id
    revoked = await sessions.revoke_all_sessions(ctx.db, user_id=user_id, now=ctx.now())
    audit.managed_user_signed_out(ctx, user=user, team_id=team_id, sessions_revoked=revoked)
    notify(
        ctx,
        user_id=user_id,
        kind="account.signed_out_everywhere",
        team_id=team_id,
        details={"team": await _team_name(ctx, team_id)},
    )
    return await _changed_view(ctx, user)


async def set_display_name(
    ctx: ServiceContext, *, user_id: int, display_name: str | None
) -> ManagedAccountView:
    target = await _administered(ctx, user_id)
    user, team_id = target.user, target.team_id
    # The rule of updateProfile: at most 100 characters; empty means the username.
    limit = accounts.PROFILE_LIMITS["display_name"]
    clean = normalize.optional_text(display_name, "displayName", max_length=limit) or user.username
    old = user.display_name
    if clean != old:
        user.display_name = clean
        user.updated_at = ctx.now()
        audit.managed_user_renamed(ctx, user=user, team_id=team_id, old=old)
        notify(
            ctx,
            user_id=user_id,
            kind="account.display_name_changed",
            team_id=team_id,
            details={"team": await _team_name(ctx, team_id), "from": old, "to": clean},
        )
    return await _changed_view(ctx, user)


async def update_settings(
    ctx: ServiceContext,
    *,
    team_id: int,
    takeover_notice_days: int | None = None,
    managed_retention_days: int | None = None,
) -> TeamView:
    def editor(own: Member | None) -> Member:
        return policy.require_managed_settings_editor(
            ctx.actor,
            own,
            notice=takeover_notice_days is not None,
            retention=managed_retention_days is not None,
        )

    manager = await checked_under_lock(ctx, team_id, editor)
    team = await ctx.db.get(Team, team_id)
    assert team is not None
    changes: dict[str, Any] = {}
    if takeover_notice_days is not None:
        changes["takeover_notice_days"] = _days(
            takeover_notice_days, NOTICE_DAYS, "takeoverNoticeDays"
        )
        # Lowering the notice is the same decision as announcing with less of it [P5].
        policy.check_takeover_notice(
            manager,
            changes["takeover_notice_days"],
            team.takeover_notice_days,
            field="takeoverNoticeDays",
        )
    if managed_retention_days is not None:
        changes["managed_retention_days"] = _days(
            managed_retention_days, RETENTION_DAYS, "managedRetentionDays"
        )
    changed = {name: value for name, value in changes.items() if getattr(team, name) != value}
    if changed:
        details = {
            name: {"from": getattr(team, name), "to": value} for name, value in changed.items()
        }
        for name, value in changed.items():
            setattr(team, name, value)
        team.updated_at = ctx.now()
        audit.managed_settings_changed(ctx, team=team, changes=details)
        await ctx.db.flush()
    view = await find_team(ctx, team_id=team_id)
    assert view is not None
    return view


# --- internals ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    user: User
    team_id: int
    role: Role | None  # the account's own role in the managing team


@dataclass(frozen=True, slots=True)
class _Revoked:
    sessions: int
    tokens: int
    app_tokens: int


async def checked_under_lock(
    ctx: ServiceContext, team_id: int, check: Callable[[Member | None], Member]
) -> Member:
    """`check` the actor's membership before the team's write lock (so that a plain member never
    queues up behind the team's writes) and again under it."""
    check(await membership(ctx, team_id))
    return check(await locked_acting_member(ctx, team_id))


async def _administered(ctx: ServiceContext, user_id: int) -> _Target:
    """The managed user and their managing team, once policy lets the actor administer them:
    asked before the team's lock and again under it, where a release, a role change or the
    actor's own deactivation can no longer slip in before the change."""
    policy.require_user(ctx.actor)
    user = await _user(ctx, user_id)
    team_id = user.managed_by_team_id if user is not None else None
    own = await membership(ctx, team_id) if team_id is not None else None
    policy.require_managing_admin(ctx.actor, own, user)
    assert team_id is not None
    own = await locked_acting_member(ctx, team_id)
    user = await _user(ctx, user_id)
    manager = policy.require_managing_admin(ctx.actor, own, user)
    assert user is not None
    role = await managing_role(ctx, team_id, user_id)
    policy.check_administer_account(manager, role)
    return _Target(user, team_id, role)


async def _user(ctx: ServiceContext, user_id: int) -> User | None:
    return (
        await ctx.db.execute(
            select(User).where(col(User.id) == user_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _other_active_owners(ctx: ServiceContext, team_id: int, user_id: int) -> int:
    # Exact: the caller holds the team's lock, under which every deactivation of its managed
    # owners happens.
    count = await ctx.db.scalar(
        select(func.count())
        .select_from(Member)
        .join(User, col(User.id) == col(Member.user_id))
        .where(
            col(Member.team_id) == team_id,
            col(Member.role) == Role.OWNER,
            col(User.status) == UserStatus.ACTIVE,
            col(User.id) != user_id,
        )
    )
    return int(count or 0)


async def _move(ctx: ServiceContext, user: User, source: UserStatus, target: UserStatus) -> None:
    """Change the status only from `source`, decided by the database (two admins at once: one
    wins, the other hears CONFLICT)."""
    result = await ctx.db.execute(
        update(User)
        .where(col(User.id) == user.id, col(User.status) == source)
        .values(status=target, updated_at=ctx.now())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if target is UserStatus.ACTIVE:
            raise Conflict("Only a deactivated account can be reactivated.", field="userId")
        raise Conflict("Only an active account can be deactivated.", field="userId")


async def _revoke_access(ctx: ServiceContext, user_id: int) -> _Revoked:
    """Every session and access token of the user, and the tokens of the apps they own (whose
    client credentials are refused while the owner is not active): set-based."""
    now = ctx.now()
    owned_installations = (
        select(col(Installation.id))
        .join(App, col(App.id) == col(Installation.app_id))
        .where(col(App.owner_id) == user_id)
    )
    return _Revoked(
        sessions=await sessions.revoke_all_sessions(ctx.db, user_id=user_id, now=now),
        tokens=await revoke_tokens(ctx, col(ApiToken.user_id) == user_id, reason="deactivated"),
        app_tokens=await revoke_tokens(
            ctx, col(ApiToken.installation_id).in_(owned_installations), reason="owner_deactivated"
        ),
    )


def _first_rows_per_team(
    ctx: ServiceContext, filters: list[ColumnElement[bool]], page: PageRequest, *, several: bool
) -> Select[Any]:
    columns = (
        *USER_COLUMNS,
        col(User.managed_by_team_id),
        col(User.managed_since),
        col(User.managed_domain),
        policy.email_in_team_domain(ctx.now()).label("email_in_team_domain"),
    )
    if not several:
        # One team: a keyset scan that stops after first + 1 rows.
        return select(*columns).where(*filters).order_by(col(User.id)).limit(page.first + 1)
    # Several teams: rank the matching ids per team, then read the winners' columns only.
    ranked = (
        select(
            col(User.id).label("ranked_id"),
            func.row_number()
            .over(partition_by=col(User.managed_by_team_id), order_by=col(User.id))
            .label("position"),
        )
        .where(*filters)
        .subquery()
    )
    return (
        select(*columns)
        .join(ranked, ranked.c.ranked_id == col(User.id))
        .where(ranked.c.position <= page.first + 1)
        .order_by(col(User.managed_by_team_id), col(User.id))
    )


def _days(value: int, bounds: tuple[int, int], field: str) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(f"Choose between {low} and {high} days.", field=field)
    return value


async def _team_name(ctx: ServiceContext, team_id: int) -> str:
    return cast(str, await ctx.db.scalar(select(col(Team.name)).where(col(Team.id) == team_id)))


async def _changed_view(ctx: ServiceContext, user: User) -> ManagedAccountView:
    """The account a mutation just changed, for its payload."""
    in_team_domain = await ctx.db.scalar(
        select(policy.email_in_team_domain(ctx.now())).where(col(User.id) == user.id)
    )
    return _account_view(ctx, user, in_team_domain=bool(in_team_domain))


def _account_view(ctx: ServiceContext, row: Any, *, in_team_domain: bool) -> ManagedAccountView:
    visible = policy.managed_email_visible(
        ctx.actor, row.id, row.email_public, in_team_domain=in_team_domain
    )
    return ManagedAccountView(
        user=user_view(ctx.actor, row),
        email=row.email if visible else None,
        email_verified=row.email_verified_at is not None,
        status=UserStatus(row.status),
        managed_since=row.managed_since,
        managed_domain=row.managed_domain,
    )
