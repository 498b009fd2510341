"""Read side of accounts: what a viewer may see of a user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import null, select
from sqlmodel import col

from auth import policy
from auth.actor import Actor
from models import User, UserStatus
from services import normalize
from services.context import ServiceContext

# Exactly the columns a UserView needs, so hot reads never load a whole row.
USER_COLUMNS: tuple[Any, ...] = tuple(
    col(column)
    for column in (
        User.id,
        User.username,
        User.display_name,
        User.email,
        User.email_public,
        User.email_verified_at,
        User.avatar_url,
        User.company,
        User.job_title,
        User.status,
        User.created_at,
    )
)


@dataclass(slots=True)
class UserView:
    """A user as one viewer may see them; `email` is None where policy hides it [P1].

    Not frozen: pages build these by the hundred, and a frozen dataclass's __init__ costs
    about three times as much (one object.__setattr__ per field)."""

    id: int
    username: str
    display_name: str
    email: str | None
    email_verified: bool
    avatar_url: str | None
    company: str | None
    job_title: str | None
    status: UserStatus
    # None (and email_verified False) when read for a page that shows neither: see
    # USER_COLUMNS_UNTIMED.
    created_at: datetime | None


# The same columns with the timestamps left NULL, for pages whose selection shows neither
# createdAt nor emailVerified (api/selection.py): a timestamp costs the driver more to decode
# than most columns, and member pages read hundreds of rows.
_UNTIMED = frozenset({"created_at", "email_verified_at"})
USER_COLUMNS_UNTIMED: tuple[Any, ...] = tuple(
    null().label(column.key) if column.key in _UNTIMED else column for column in USER_COLUMNS
)


def user_columns(ctx: ServiceContext, *, timestamps: bool = True) -> tuple[Any, ...]:
    """USER_COLUMNS (or USER_COLUMNS_UNTIMED), and the [P2] fact that email visibility needs
    for this viewer."""
    in_domain = policy.email_in_managed_domain(ctx.actor.user_id, ctx.now())
    columns = USER_COLUMNS if timestamps else USER_COLUMNS_UNTIMED
    return (*columns, in_domain.label("email_in_managed_domain"))


def user_view(actor: Actor, row: Any) -> UserView:
    """Build from a User or a row of `user_columns` (attribute access works on both; a User
    row carries no domain fact, which only matters for someone else's private email)."""
    visible = policy.email_visible(
        actor.user,
        row.id,
        row.email_public,
        in_managed_domain=bool(getattr(row, "email_in_managed_domain", False)),
    )
    return UserView(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email if visible else None,
        email_verified=visible and row.email_verified_at is not None,
        avatar_url=row.avatar_url,
        company=row.company,
        job_title=row.job_title,
        status=row.status,  # a UserStatus: the column's type, or the entity's
        created_at=row.created_at,
    )


async def users_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[UserView | None]:
    """Any signed-in viewer may look up a user (usernames are public); in one query. Tokens
    need users:read; an installed app sees the members of its own team only."""
    if not ids or not policy.may_look_up_users(ctx.actor):
        return [None for _ in ids]
    rows = await ctx.db.execute(
        select(*user_columns(ctx)).where(
            col(User.id).in_(set(ids)),
            col(User.status).not_in([UserStatus.DELETED, UserStatus.PENDING]),
            *policy.user_lookup_filter(ctx.actor),
        )
    )
    found = {row.id: user_view(ctx.actor, row) for row in rows}
    return [found.get(user_id) for user_id in ids]


async def user_by_username(ctx: ServiceContext, username: str) -> UserView | None:
    if not policy.may_look_up_users(ctx.actor):
        return None
    wanted = username.strip().lower()
    # No account can have a malformed username; PostgreSQL would also reject some (NUL bytes).
    if not normalize.USERNAME_RE.fullmatch(wanted):
        return None
    row = (
        await ctx.db.execute(
            select(*user_columns(ctx)).where(
                col(User.username) == wanted,
                col(User.status).not_in([UserStatus.DELETED, UserStatus.PENDING]),
                *policy.user_lookup_filter(ctx.actor),
            )
        )
    ).first()
    return user_view(ctx.actor, row) if row else None
