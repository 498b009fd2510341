"""In-app notices to users (SPEC 5: takeover announced or effective, release, decisions), and
the set-based notices (in-app and by email) that one change sends to many users at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, Select, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth import policy
from auth.scopes import Scope
from core.errors import InvalidInput
from models import Notification, OutboxMessage
from models.base import UTCDateTime
from services.context import ServiceContext
from services.emails import Email
from services.pages import Page, PageRequest

MAX_MARKED_AT_ONCE = 200


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    kind: str
    details: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def notify(
    ctx: ServiceContext,
    *,
    user_id: int,
    kind: str,
    team_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Notification:
    """Queue one notice in the caller's transaction (many users at once: notify_users)."""
    notice = Notification(
        user_id=user_id, kind=kind, team_id=team_id, details=details or {}, created_at=ctx.now()
    )
    ctx.db.add(notice)
    return notice


async def notify_users(
    ctx: ServiceContext,
    users: Select[Any],
    *,
    kind: str,
    team_id: int | None,
    details: dict[str, Any],
) -> None:
    """The same notice to every user id that `users` selects, in the caller's transaction."""
    await insert_notices(ctx.db, users, kind=kind, team_id=team_id, details=details, at=ctx.now())


async def insert_notices(
    db: AsyncSession,
    users: Select[Any],
    *,
    kind: str,
    team_id: int | None,
    details: dict[str, Any],
    at: datetime,
) -> None:
    """One INSERT ... SELECT: the same notice to every user id that `users` selects (one
    column), however many there are."""
    rows = users.subquery()
    await db.execute(
        insert(Notification).from_select(
            ["user_id", "kind", "team_id", "details", "created_at"],
            select(
                rows.c[0],
                literal(kind),
                literal(team_id),
                literal(details, JSON),
                literal(at, UTCDateTime),
            ),
        )
    )


async def insert_emails(
    db: AsyncSession,
    addresses: Select[Any],
    *,
    email: Email,
    created_at: datetime,
    due_at: datetime,
) -> None:
    """One INSERT ... SELECT into the outbox: the same email to every address that `addresses`
    selects (one column). The worker delivers them like any other."""
    rows = addresses.subquery()
    await db.execute(
        insert(OutboxMessage).from_select(
            ["kind", "to_address", "subject", "body", "created_at", "due_at", "attempts"],
            select(
                literal(email.kind),
                rows.c[0],
                literal(email.subject),
                literal(email.body),
                literal(created_at, UTCDateTime),
                literal(due_at, UTCDateTime),
                literal(0),
            ),
        )
    )


# --- the viewer's own notices ---------------------------------------------------------------


async def my_notifications(
    ctx: ServiceContext, page: PageRequest, *, unread_only: bool = False
) -> Page[NotificationView]:
    """Newest first; the cursor is the id of the last notice seen."""
    user = policy.viewer_user(ctx.actor)
    if user is None:
        return Page.from_rows([], page)
    statement = (
        select(Notification)
        .where(col(Notification.user_id) == user.id)
        .order_by(col(Notification.id).desc())
        .limit(page.first + 1)
    )
    if page.after is not None:
        statement = statement.where(col(Notification.id) < page.after)
    if unread_only:
        statement = statement.where(col(Notification.read_at).is_(None))
    rows = (await ctx.db.execute(statement)).scalars()
    return Page.from_rows([(cast(int, row.id), _view(row)) for row in rows], page)


async def my_notification(ctx: ServiceContext, notification_id: int) -> NotificationView | None:
    """For node(id:): one of the viewer's own notices; None for anyone else's (or none)."""
    user = policy.viewer_user(ctx.actor)
    if user is None:
        return None
    row = (
        await ctx.db.execute(
            select(Notification).where(
                col(Notification.id) == notification_id, col(Notification.user_id) == user.id
            )
        )
    ).scalar_one_or_none()
    return _view(row) if row else None


async def unread_count(ctx: ServiceContext) -> int:
    user = policy.viewer_user(ctx.actor)
    if user is None:
        return 0
    count = await ctx.db.scalar(
        select(func.count()).where(
            col(Notification.user_id) == user.id, col(Notification.read_at).is_(None)
        )
    )
    return int(count or 0)


async def mark_read(ctx: ServiceContext, *, ids: Sequence[int] | None, everything: bool) -> int:
    """Mark the viewer's own notices read: those named, or all of them. Ids of anyone else's
    notices match nothing (and say nothing); returns how many changed."""
    user = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.USERS_WRITE)
    _check_selection(ids, everything)
    statement = update(Notification).where(
        col(Notification.user_id) == user.id, col(Notification.read_at).is_(None)
    )
    if not everything:
        statement = statement.where(col(Notification.id).in_(set(ids or ())))
    result = await ctx.db.execute(
        statement.values(read_at=ctx.now()).execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _check_selection(ids: Sequence[int] | None, everything: bool) -> None:
    if everything == (ids is not None):
        raise InvalidInput("Name the notices (ids) or ask for all of them, not both.", field="ids")
    if ids is not None and len(ids) > MAX_MARKED_AT_ONCE:
        raise InvalidInput(f"At most {MAX_MARKED_AT_ONCE} ids at a time.", field="ids")


def _view(row: Notification) -> NotificationView:
    return NotificationView(
        id=cast(int, row.id),
        kind=row.kind,
        details=dict(row.details),
        created_at=row.created_at,
        read_at=row.read_at,
    )
