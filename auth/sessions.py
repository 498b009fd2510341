"""Server-side sessions: an opaque token in a cookie, only its keyed hash in the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.actor import Origin
from auth.secrets import new_token, token_hash
from core.hot_reads import Database, HotRead, columns_of, loaded
from core.settings import Settings
from models import User, UserSession, UserStatus

# last_seen_at is refreshed at most this often, so reads do not each cost a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
MAX_USER_AGENT = 512


def device(origin: Origin) -> str | None:
    """The user agent as a session stores it, and as new devices are recognized by."""
    return (origin.user_agent or "")[:MAX_USER_AGENT] or None


async def is_new_device(db: AsyncSession, *, user_id: int, origin: Origin) -> bool:
    """Whether the user has sessions, none of them from this device (a first sign-in is not
    a new device: there is nobody to warn yet)."""
    agent = device(origin)
    user_agent = col(UserSession.user_agent)
    same_device = user_agent.is_(None) if agent is None else user_agent == agent
    mine = col(UserSession.user_id) == user_id
    had_sessions, known = (
        await db.execute(select(exists().where(mine), exists().where(mine, same_device)))
    ).one()
    return bool(had_sessions) and not known


async def start_session(
    db: AsyncSession, settings: Settings, *, user: User, origin: Origin, now: datetime
) -> tuple[UserSession, str]:
    token = new_token()
    row = UserSession(
        user_id=user.id,  # type: ignore[arg-type]
        token_hash=token_hash(settings.secret_key, token),
        ip_address=origin.ip_address,
        user_agent=device(origin),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.session_lifetime_days),
    )
    db.add(row)
    await db.flush()
    return row, token


# Every request with a cookie runs this: one indexed lookup, straight to the driver.
FIND_SESSION = HotRead(
    select(*columns_of(User), col(UserSession.id), col(UserSession.last_seen_at))
    .join(UserSession, col(UserSession.user_id) == col(User.id))
    .where(
        col(UserSession.token_hash) == bindparam("token_hash"),
        col(UserSession.revoked_at).is_(None),
        col(UserSession.expires_at) > bindparam("now"),
        col(User.status) == UserStatus.ACTIVE,
    )
)
TOUCH_SESSION = HotRead(
    update(UserSession)
    .where(col(UserSession.id) == bindparam("session_id"))
    .values(last_seen_at=bindparam("now"))
    .returning(col(UserSession.id))
)


async def authenticate(
    db: Database, settings: Settings, *, token: str, now: datetime
) -> tuple[User, int] | None:
    """The active user and session id behind a cookie token, in one indexed lookup."""
    if not token or len(token) > 128:
        return None
    row = await FIND_SESSION.first(db, token_hash=token_hash(settings.secret_key, token), now=now)
    if row is None:
        return None
    *user_values, session_id, last_seen_at = row
    user = loaded(db, User, user_values)
    if now - last_seen_at >= LAST_SEEN_RESOLUTION:
        await TOUCH_SESSION.write_soon(db, session_id=session_id, now=now)
    return user, session_id


async def revoke_session(db: AsyncSession, *, session_id: int, now: datetime) -> None:
    await db.execute(
        update(UserSession)
        .where(col(UserSession.id) == session_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_all_sessions(
    db: AsyncSession, *, user_id: int, now: datetime, keep_session_id: int | None = None
) -> int:
    statement = update(UserSession).where(
        col(UserSession.user_id) == user_id,
        col(UserSession.revoked_at).is_(None),
    )
    if keep_session_id is not None:
        statement = statement.where(col(UserSession.id) != keep_session_id)
    result = await db.execute(statement.values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
