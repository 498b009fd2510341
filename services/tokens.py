"""Bearer tokens (SPEC 6): authenticating them, and a user's personal access tokens.

Personal tokens are managed only from a signed-in session (a token never mints or revokes
tokens). The secret is shown once, in the create payload; only its keyed hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth import bearer, policy, scopes, token_format, token_rate
from auth.actor import Actor
from auth.secrets import token_hash
from core.errors import Forbidden, InvalidInput, NotFound
from models import ApiToken, TokenKind
from services import accounts, audit, audit_chain, normalize
from services.context import ServiceContext
from services.pages import Page, PageRequest

HINT_LENGTH = 8
MAX_TOKENS_PER_USER = 100
# A revoked token presented again is recorded at most once per this period.
REVOKED_USE_RECORD_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as its owner sees it: never the secret."""

    id: int
    kind: TokenKind
    name: str
    scopes: tuple[str, ...]
    hint: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedToken:
    view: TokenView
    token: str  # shown once


# --- authenticating a request ---------------------------------------------------------------


async def authenticate(
    ctx: ServiceContext, token: str, *, leases: token_rate.Leases, redis: Redis | None = None
) -> Actor:
    """The actor behind a bearer token (raises bearer.BearerError, token_rate.TokenRateLimited).

    `ctx` is anonymous: nobody is known yet. One indexed lookup in the request's session, then
    at most one write on the side engine (the rate counter, with the last-used time when it is
    stale), and usually none (auth/token_rate.py)."""
    now = ctx.now()
    try:
        found = await bearer.authenticate(
            ctx.db, ctx.settings, token=token, origin=ctx.actor.origin, now=now
        )
    except bearer.RevokedTokenUsed as used:
        await _revoked_token_used(ctx, used.token, now)
        raise
    touch = token_rate.last_used_stale(found.last_used_at, now)
    # Nearly every request is served from this replica's lease: no coroutine for those.
    if not token_rate.served_from_lease(leases, found.token_id, now, touch=touch):
        await token_rate.spend(
            ctx.engine,
            leases,
            token_id=found.token_id,
            limit=ctx.settings.token_rate_per_minute,
            now=now,
            touch=touch,
            redis=redis,
        )
    return found.actor


async def _revoked_token_used(
    ctx: ServiceContext, token: bearer.RevokedToken, now: datetime
) -> None:
    """[P17] Someone holds a revoked token: record it (on the side engine, since the request
    is refused), at most once an hour per token so a loop cannot flood the trail."""
    async with AsyncSession(ctx.engine, expire_on_commit=False) as db:
        connection = await db.connection()
        name = f"revoked_used:{token.token_id}"
        if not await token_rate.first_in_period(connection, name, REVOKED_USE_RECORD_EVERY, now):
            await db.commit()  # still counted: the period runs from the first use
            return
        event = audit.token_revoked_used_event(
            ctx,
            token_id=token.token_id,
            kind=token.kind,
            user_id=token.user_id,
            team_id=token.team_id,
        )
        db.add(event)
        audit_chain.track(db, event)
        await db.commit()


# --- personal access tokens -----------------------------------------------------------------


async def create_personal_token(
    ctx: ServiceContext,
    *,
    name: str,
    scope_names: list[str],
    expires_at: datetime | None = None,
    expires_in_days: int | None = None,
) -> CreatedToken:
    user = policy.require_session(ctx.actor)
    clean_name = normalize.text(name, "name", max_length=100, required=True)
    granted = _scopes(scope_names)
    now = ctx.now()
    expiry = _expiry(ctx, now, expires_at, expires_in_days)
    live = await ctx.db.scalar(
        select(col(ApiToken.id))
        .where(*_mine(user.id), col(ApiToken.revoked_at).is_(None), col(ApiToken.expires_at) > now)
        .offset(MAX_TOKENS_PER_USER - 1)
        .limit(1)
    )
    if live is not None:
        raise InvalidInput(
            f"You have {MAX_TOKENS_PER_USER} live tokens: revoke one first.", field="name"
        )
    # A deactivation racing this: it commits first and wins, or waits and revokes the token.
    if not await accounts.lock_if_active(ctx, user):
        raise Forbidden(accounts.INACTIVE)
    secret = token_format.new_token(TokenKind.PERSONAL)
    row = ApiToken(
        kind=TokenKind.PERSONAL,
        token_hash=token_hash(ctx.settings.secret_key, secret),
        hint=secret[:HINT_LENGTH],
        name=clean_name,
        user_id=user.id,
        scopes=scopes.to_column(granted),
        created_at=now,
        expires_at=expiry,
    )
    ctx.db.add(row)
    await ctx.db.flush()
    audit.token_created(ctx, token=row)
    return CreatedToken(view=_view(row), token=secret)


async def my_tokens(ctx: ServiceContext, page: PageRequest) -> Page[TokenView]:
    """The signed-in user's personal tokens, newest first (revoked and expired included)."""
    user = policy.require_session(ctx.actor)
    statement = select(ApiToken).where(*_mine(user.id)).order_by(col(ApiToken.id).desc())
    if page.after is not None:
        statement = statement.where(col(ApiToken.id) < page.after)
    rows = (await ctx.db.execute(statement.limit(page.first + 1))).scalars()
    return Page.from_rows([(row.id, _view(row)) for row in rows], page)  # type: ignore[misc]


async def my_token(ctx: ServiceContext, token_id: int) -> TokenView | None:
    """For node(id:): one of the signed-in user's tokens; None for anyone else or any token."""
    user = policy.session_user(ctx.actor)
    if user is None:
        return None
    row = await ctx.db.scalar(select(ApiToken).where(col(ApiToken.id) == token_id, *_mine(user.id)))
    return _view(row) if row is not None else None


async def revoke_personal_token(ctx: ServiceContext, *, token_id: int) -> TokenView:
    user = policy.require_session(ctx.actor)
    row = (
        await ctx.db.execute(
            select(ApiToken)
            .where(col(ApiToken.id) == token_id, *_mine(user.id))
            .execution_options(populate_existing=True)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        # Someone else's token looks exactly like a missing one.
        raise NotFound("No such token.", field="tokenId")
    if row.revoked_at is None:
        row.revoked_at = ctx.now()
        row.revoked_reason = "owner"
        await ctx.db.flush()
        audit.token_revoked(ctx, token=row, reason="owner")
    return _view(row)


# --- internals ------------------------------------------------------------------------------


def _mine(user_id: int | None) -> tuple[Any, ...]:
    return (col(ApiToken.user_id) == user_id, col(ApiToken.kind) == TokenKind.PERSONAL)


def _scopes(names: list[str]) -> frozenset[scopes.Scope]:
    try:
        granted = scopes.parse(names)
    except scopes.UnknownScope as error:
        raise InvalidInput(
            f"{error} Known scopes: {', '.join(scopes.Scope)}.", field="scopes"
        ) from None
    if not granted:
        raise InvalidInput("Grant at least one scope.", field="scopes")
    return granted


def _expiry(
    ctx: ServiceContext, now: datetime, expires_at: datetime | None, days: int | None
) -> datetime:
    longest = timedelta(days=ctx.settings.token_max_days)
    if (expires_at is None) == (days is None):
        raise InvalidInput("Give exactly one of expiresAt and expiresInDays.", field="expiresAt")
    if days is not None:
        if not 1 <= days <= longest.days:
            raise InvalidInput(
                f"expiresInDays must be between 1 and {longest.days}.", field="expiresInDays"
            )
        return now + timedelta(days=days)
    assert expires_at is not None
    if expires_at.tzinfo is None:
        raise InvalidInput("Give a time zone, e.g. 2027-01-05T00:00:00Z.", field="expiresAt")
    if expires_at <= now:
        raise InvalidInput("expiresAt must be in the future.", field="expiresAt")
    if expires_at > now + longest:
        raise InvalidInput(f"A token lives at most {longest.days} days.", field="expiresAt")
    return expires_at


def _view(row: ApiToken) -> TokenView:
    return TokenView(
        id=row.id,  # type: ignore[arg-type]
        kind=TokenKind(row.kind),
        name=row.name,
        scopes=tuple(row.scopes.split()),
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
