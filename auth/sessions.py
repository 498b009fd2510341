"""Server-side sessions: an opaque token in a cookie, only its keyed hash in the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.actor import Origin
from auth.secrets import new_token, token_hash
from core.settings import Settings
from models import User, UserSession, UserStatus

# last_seen_at is refreshed at most this often, so reads do not each cost a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


async def start_session(
    db: AsyncSession, settings: Settings, *, user: User, origin: Origin, now: datetime
) -> tuple[UserSession, str]:
    token = new_token()
    row = UserSession(
        user_id=user.id,  # type: ignore[arg-type]
        token_hash=token_hash(settings.secret_key, token),
        ip_address=origin.ip_address,
        user_agent=(origin.user_agent or "")[:512] or None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.session_lifetime_days),
    )
    db.add(row)
    await db.flush()
    return row, token


async def authenticate(
    db: AsyncSession, settings: Settings, *, token: str, now: datetime
) -> tuple[User, UserSession] | None:
    """The active user and session behind a cookie token, in one indexed lookup."""
    if not token or len(token) > 128:
        return None
    found = (
        await db.execute(
            select(User, UserSession)
            .join(UserSession, UserSession.user_id == User.id)  # type: ignore[arg-type]
            .where(
                UserSession.token_hash == token_hash(settings.secret_key, token),
                UserSession.revoked_at.is_(None),  # type: ignore[union-attr]
                UserSession.expires_at > now,
                User.status == UserStatus.ACTIVE,
            )
        )
    ).first()
    if found is None:
        return None
    user, session = found
    if now - session.last_seen_at >= LAST_SEEN_RESOLUTION:
        session.last_seen_at = now
    return user, session


async def revoke_session(db: AsyncSession, *, session_id: int, now: datetime) -> None:
    await db.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(revoked_at=now)
    )


async def revoke_all_sessions(
    db: AsyncSession, *, user_id: int, now: datetime, keep_session_id: int | None = None
) -> int:
    statement = update(UserSession).where(
        UserSession.user_id == user_id,  # type: ignore[arg-type]
        UserSession.revoked_at.is_(None),  # type: ignore[union-attr]
    )
    if keep_session_id is not None:
        statement = statement.where(UserSession.id != keep_session_id)  # type: ignore[arg-type]
    result = await db.execute(statement.values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
