"""Email changes of managed accounts (SPEC 5): the user files a request, an owner or admin of
the managing team approves or rejects it, and an approved change then takes the same path as
anyone's own change (services.accounts.apply_email_change: a new, unverified address)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlmodel import col

from auth import policy
from core.errors import Conflict, NotFound
from models import EmailChangeRequest, EmailChangeStatus, Member, Role, Team, User, UserStatus
from services import accounts, audit, emails, normalize, quotas
from services.context import ServiceContext, flush_or_conflict
from services.managed_accounts import checked_under_lock, managing_role
from services.notifications import notify
from services.outbox import send_email
from services.pages import Page, PageRequest
from services.takeover_release import release_if_left_domain
from services.teams import TeamView, lock_team

ALREADY_CLOSED = "This request was already decided or withdrawn."
# Each request emails the team's owners and admins: a user cannot flood their inboxes.
REQUESTS_QUOTA = quotas.Quota("email_change_request", 5, timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class EmailChangeView:
    id: int
    user_id: int
    team_id: int
    # None where policy.email_change_new_email_visible hides it [P1, P2].
    new_email: str | None
    status: EmailChangeStatus
    requested_at: datetime
    decided_at: datetime | None
    decided_by_id: int | None
    reason: str | None

    @classmethod
    def of(cls, row: EmailChangeRequest, *, new_email_visible: bool = True) -> EmailChangeView:
        """`new_email_visible`: True for the requester's own view."""
        return cls(
            id=cast(int, row.id),
            user_id=row.user_id,
            team_id=row.team_id,
            new_email=row.new_email if new_email_visible else None,
            status=EmailChangeStatus(row.status),
            requested_at=row.requested_at,
            decided_at=row.decided_at,
            decided_by_id=row.decided_by_id,
            reason=row.reason,
        )


# --- the user's side ------------------------------------------------------------------------


async def spend_quota(ctx: ServiceContext, user: User) -> None:
    await quotas.spend(ctx, REQUESTS_QUOTA, f"user:{user.id}")


async def file_request(ctx: ServiceContext, user: User, new_email: str) -> EmailChangeRequest:
    """Called by accounts.change_email once the password and the address were checked. A
    pending request is superseded: withdrawn in the same transaction, so the newest wish is
    the one the admins see (at most one pending per user, which the database enforces)."""
    team_id = cast(int, user.managed_by_team_id)
    # The team's lock, as for every change touching its managed accounts; then make sure a
    # release did not end the management meanwhile.
    await lock_team(ctx, team_id)
    if (
        await ctx.db.scalar(select(col(User.managed_by_team_id)).where(col(User.id) == user.id))
        != team_id
    ):
        raise Conflict("How your account is managed just changed; try again.", field="email")
    superseded = await ctx.db.scalar(
        select(col(EmailChangeRequest.id)).where(
            col(EmailChangeRequest.user_id) == user.id,
            col(EmailChangeRequest.status) == EmailChangeStatus.PENDING,
        )
    )
    if superseded is not None:
        await _close(ctx, superseded, EmailChangeStatus.CANCELLED, decided_by_id=user.id)
    request = EmailChangeRequest(
        user_id=cast(int, user.id), team_id=team_id, new_email=new_email, requested_at=ctx.now()
    )
    ctx.db.add(request)
    # Two requests filed at once: the partial unique index lets one through.
    await flush_or_conflict(ctx, "Another email change was filed at the same time.", field="email")
    audit.email_change_filed(
        ctx,
        user=user,
        team_id=team_id,
        request_id=cast(int, request.id),
        superseded_id=superseded,
    )
    rows = await ctx.db.execute(
        select(col(Team.name), col(User.email))
        .select_from(Team)
        .join(Member, col(Member.team_id) == col(Team.id))
        .join(User, col(User.id) == col(Member.user_id))
        .where(
            col(Team.id) == team_id,
            col(Member.role).in_([Role.OWNER, Role.ADMIN]),
            col(User.status) == UserStatus.ACTIVE,
            col(User.id) != user.id,
        )
    )
    for team_name, address in rows:
        send_email(
            ctx,
            to=address,
            email=emails.email_change_filed(team_name=team_name, username=user.username),
        )
    return request


async def cancel_request(ctx: ServiceContext, *, request_id: int) -> EmailChangeView:
    request = await _request(ctx, request_id)
    policy.check_email_change_owner(ctx.actor, request.user_id if request else None)
    assert request is not None and ctx.actor.user is not None
    await _close(ctx, request_id, EmailChangeStatus.CANCELLED, decided_by_id=request.user_id)
    audit.email_change_cancelled(
        ctx, user=ctx.actor.user, team_id=request.team_id, request_id=request_id
    )
    return EmailChangeView.of(request)


async def my_pending_request(ctx: ServiceContext) -> EmailChangeView | None:
    if ctx.actor.user_id is None:
        return None
    row = (
        await ctx.db.execute(
            select(EmailChangeRequest).where(
                col(EmailChangeRequest.user_id) == ctx.actor.user_id,
                col(EmailChangeRequest.status) == EmailChangeStatus.PENDING,
                policy.email_change_request_visible(ctx.actor),
            )
        )
    ).scalar_one_or_none()
    return EmailChangeView.of(row) if row else None


# --- the managing team's side ---------------------------------------------------------------


async def decide(
    ctx: ServiceContext, *, request_id: int, approve: bool, reason: str | None
) -> EmailChangeView:
    policy.require_user(ctx.actor)
    request = await _request(ctx, request_id)
    if request is None:
        raise NotFound("No such email-change request.", field="requestId")
    decider = partial(
        policy.require_email_change_decider,
        ctx.actor,
        request_team_id=request.team_id,
        requester_id=request.user_id,
    )
    manager = await checked_under_lock(ctx, request.team_id, decider)
    user = (
        await ctx.db.execute(
            select(User)
            .where(col(User.id) == request.user_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if user.managed_by_team_id != request.team_id or user.status in (
        UserStatus.PENDING,
        UserStatus.DELETED,
    ):
        raise Conflict("The team no longer manages this account.", field="requestId")
    if user.status is not UserStatus.ACTIVE:
        raise Conflict(
            "The account is not active: only an active account's email can change.",
            field="requestId",
        )
    policy.check_administer_account(
        manager, await managing_role(ctx, request.team_id, request.user_id)
    )
    note = normalize.optional_text(reason, "reason", max_length=255)
    status = EmailChangeStatus.APPROVED if approve else EmailChangeStatus.REJECTED
    old_email = user.email
    await _close(ctx, request_id, status, decided_by_id=ctx.actor.user_id, reason=note)
    if approve:
        # The same path as an unmanaged change: uniqueness (CONFLICT), unverified address, link.
        await accounts.apply_email_change(ctx, user, request.new_email)
    audit.email_change_decided(
        ctx,
        user=user,
        team_id=request.team_id,
        request_id=request_id,
        approved=approve,
        reason=note,
    )
    team = await ctx.db.get(Team, request.team_id)
    assert team is not None
    notify(
        ctx,
        user_id=request.user_id,
        kind=f"email_change.{status.value}",
        team_id=request.team_id,
        details={"request_id": request_id, "team": team.name, "reason": note},
    )
    # To the address the user had until now: it is verified, and it hears of the change.
    send_email(
        ctx,
        to=old_email,
        email=emails.email_change_decided(
            team_name=team.name, username=user.username, approved=approve, reason=note
        ),
    )
    if approve:
        # [P6] An address outside the domain the account is managed through ends the management.
        await release_if_left_domain(ctx, request.user_id)
    # Decided: the address is no longer the team's to see (unless it is the decider's own).
    return EmailChangeView.of(
        request,
        new_email_visible=policy.email_change_new_email_visible(
            ctx.actor, request.user_id, request.status, still_managed=True
        ),
    )


async def team_request_pages(
    ctx: ServiceContext,
    teams: Sequence[TeamView],
    statuses: Sequence[EmailChangeStatus],
    page: PageRequest,
) -> list[Page[EmailChangeView] | None]:
    """One page of each team's requests, oldest first (a queue to work through), in one query
    however many teams there are; None for a team whose requests the viewer may not read.
    No statuses given: the pending ones."""
    statuses = statuses or (EmailChangeStatus.PENDING,)
    readable = [
        team.id for team in teams if policy.can_read_managed_accounts(ctx.actor, team.viewer_role)
    ]
    found: dict[int, list[tuple[int, EmailChangeView]]] = {team_id: [] for team_id in readable}
    if readable:
        filters: list[ColumnElement[bool]] = [
            col(EmailChangeRequest.team_id).in_(readable),
            col(EmailChangeRequest.status).in_(list(statuses)),
        ]
        if page.after is not None:
            filters.append(col(EmailChangeRequest.id) > page.after)
        statement = _requests()
        if len(readable) == 1:
            statement = statement.where(*filters).order_by(col(EmailChangeRequest.id))
            statement = statement.limit(page.first + 1)
        else:
            ranked = (
                select(
                    col(EmailChangeRequest.id).label("ranked_id"),
                    func.row_number()
                    .over(
                        partition_by=col(EmailChangeRequest.team_id),
                        order_by=col(EmailChangeRequest.id),
                    )
                    .label("position"),
                )
                .where(*filters)
                .subquery()
            )
            statement = (
                statement.join(ranked, ranked.c.ranked_id == col(EmailChangeRequest.id))
                .where(ranked.c.position <= page.first + 1)
                .order_by(col(EmailChangeRequest.team_id), col(EmailChangeRequest.id))
            )
        for row, still_managed in await ctx.db.execute(statement):
            found[row.team_id].append((cast(int, row.id), _view(ctx, row, still_managed)))
    return [Page.from_rows(found[team.id], page) if team.id in found else None for team in teams]


async def requests_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[EmailChangeView | None]:
    """For node(id:): the viewer's own requests and their teams' ones, in one query."""
    if not ids:
        return []
    rows = await ctx.db.execute(
        _requests().where(
            col(EmailChangeRequest.id).in_(set(ids)), policy.email_change_request_visible(ctx.actor)
        )
    )
    found = {row.id: _view(ctx, row, still_managed) for row, still_managed in rows}
    return [found.get(request_id) for request_id in ids]


# --- internals ------------------------------------------------------------------------------

# Whether the requester's account is still managed by the team the request was filed with.
_STILL_MANAGED = (col(User.managed_by_team_id) == col(EmailChangeRequest.team_id)).label(
    "still_managed"
)


def _requests() -> Select[EmailChangeRequest, bool]:
    """Requests, each with whether the team it was filed with still manages the account."""
    return select(EmailChangeRequest, _STILL_MANAGED).join(
        User, col(User.id) == col(EmailChangeRequest.user_id)
    )


def _view(
    ctx: ServiceContext, row: EmailChangeRequest, still_managed: bool | None
) -> EmailChangeView:
    visible = policy.email_change_new_email_visible(
        ctx.actor, row.user_id, EmailChangeStatus(row.status), still_managed=bool(still_managed)
    )
    return EmailChangeView.of(row, new_email_visible=visible)


async def _request(ctx: ServiceContext, request_id: int) -> EmailChangeRequest | None:
    return (
        await ctx.db.execute(
            select(EmailChangeRequest)
            .where(col(EmailChangeRequest.id) == request_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _close(
    ctx: ServiceContext,
    request_id: int,
    status: EmailChangeStatus,
    *,
    decided_by_id: int | None,
    reason: str | None = None,
) -> None:
    """Decide or withdraw a pending request. Conditional on it still being pending, so that of
    two admins (or an admin and the user) acting at once exactly one wins."""
    result = await ctx.db.execute(
        update(EmailChangeRequest)
        .where(
            col(EmailChangeRequest.id) == request_id,
            col(EmailChangeRequest.status) == EmailChangeStatus.PENDING,
        )
        .values(status=status, decided_at=ctx.now(), decided_by_id=decided_by_id, reason=reason)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(ALREADY_CLOSED, field="requestId")
