"""Google sign-ups that wait for a birth date [P4].

A first Google sign-in makes a `pending` account (it cannot sign in, nothing sees it) and hands
the browser a short-lived ticket, in its own HttpOnly cookie, that `completeSignup` redeems. An
adult birth date activates the account; an under-age one deletes it with its identity. Nothing
goes to the audit trail or the outbox before that answer, so an under-age sign-up leaves no
trace; a sign-up never completed is discarded by the worker when its ticket expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth import policy
from auth.secrets import new_token, token_hash
from core.errors import Conflict, Forbidden, Unauthenticated
from models import Identity, SignupTicket, User, UserStatus
from services import accounts, audit, email_events, normalize, usernames
from services.accounts import SignedIn
from services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class SignupPending:
    """A new account that waits for its birth date [P4]; the ticket goes to the browser only."""

    ticket: str
    username: str
    expires_at: datetime


class SignupDiscarded(Forbidden):
    """An under-age answer: the pending account and its identity are gone [P4]."""


async def complete_signup(
    ctx: ServiceContext,
    *,
    ticket: str | None,
    birth_date: date,
    country: str | None = None,
    username: str | None = None,
) -> SignedIn:
    """[P4] The birth date decides: old enough activates the account and signs in; under age
    deletes the account and its identity, keeping nothing.

    The ticket is redeemed once, atomically (`_redeem`), before anything else changes: of two
    answers sent at once, the one that redeems it decides and the other finds no sign-up to
    complete (UNAUTHENTICATED). An under-age answer redeems it in a transaction of its own,
    committed with the deletion (the request's is rolled back, as for any error); an adult
    answer redeems it in the request's transaction, so a username conflict rolls the
    redemption back too and the sign-up can be completed again."""
    policy.refuse_tokens(ctx.actor)
    today = ctx.now().date()
    country = normalize.country(country)
    born = normalize.birth_date(birth_date, today)
    if refusal := policy.under_age_refusal(ctx.settings, normalize.age_on(born, today), country):
        await _discard(ctx, ticket)
        raise SignupDiscarded(refusal + " Nothing about this sign-up was kept.", field="birthDate")
    wanted = normalize.username(username) if username is not None else None
    user_id = await _redeem(ctx.db, ctx, ticket)
    user = (
        await ctx.db.execute(
            select(User)
            .where(col(User.id) == user_id, col(User.status) == UserStatus.PENDING)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if user is None:
        raise _no_signup()
    if wanted is not None:
        if wanted != user.username and not await usernames.available(ctx, wanted):
            raise Conflict("That username is taken.", field="username")
        user.username = wanted
    now = ctx.now()
    user.status = UserStatus.ACTIVE
    user.birth_date = born
    user.country = country
    user.updated_at = now
    user.last_login_at = now
    try:
        await ctx.db.flush()
    except IntegrityError:  # two sign-ups raced for the username
        raise Conflict("That username is taken.", field="username") from None
    identity = (
        (await ctx.db.execute(select(Identity).where(col(Identity.user_id) == user.id)))
        .scalars()
        .first()
    )
    audit.user_signed_up_with_google(ctx, user=user, identity_id=identity.id if identity else None)
    await email_events.email_verified(ctx, user, via="google")
    return await accounts.open_session(ctx, user, via="google")


async def issue_ticket(ctx: ServiceContext, user: User) -> SignupPending:
    now = ctx.now()
    await ctx.db.execute(delete(SignupTicket).where(col(SignupTicket.user_id) == user.id))
    ticket = new_token()
    expires_at = now + timedelta(minutes=ctx.settings.google_signup_minutes)
    ctx.db.add(
        SignupTicket(
            user_id=user.id,  # type: ignore[arg-type]
            ticket_hash=token_hash(ctx.settings.secret_key, ticket),
            created_at=now,
            expires_at=expires_at,
        )
    )
    await ctx.db.flush()
    return SignupPending(ticket=ticket, username=user.username, expires_at=expires_at)


def _no_signup() -> Unauthenticated:
    return Unauthenticated("There is no sign-up to complete: sign in with Google again.")


async def _redeem(db: AsyncSession, ctx: ServiceContext, ticket: str | None) -> int:
    """Use the ticket up, in one statement: only one caller ever gets its account back."""
    if not ticket or len(ticket) > 128 or not (ticket.isascii() and ticket.isprintable()):
        raise _no_signup()
    user_id = await db.scalar(
        delete(SignupTicket)
        .where(
            col(SignupTicket.ticket_hash) == token_hash(ctx.settings.secret_key, ticket),
            col(SignupTicket.expires_at) > ctx.now(),
        )
        .returning(col(SignupTicket.user_id))
    )
    if user_id is None:
        raise _no_signup()
    return int(user_id)


async def _discard(ctx: ServiceContext, ticket: str | None) -> None:
    # Committed on a session of its own: the request's transaction is rolled back because the
    # mutation answers with an error, but the account must be gone all the same. The request's
    # transaction has written nothing yet, so this never waits on it.
    async with AsyncSession(ctx.engine) as db:
        user_id = await _redeem(db, ctx, ticket)
        await discard_pending(db, user_ids=[user_id])
        await db.commit()


async def discard_pending(
    db: AsyncSession, *, user_ids: list[int] | None = None, expired_by: datetime | None = None
) -> int:
    """Delete pending accounts (their identity and ticket go with them): the given ones, or
    those whose ticket expired by `expired_by`."""
    statement = delete(User).where(col(User.status) == UserStatus.PENDING)
    if user_ids is not None:
        statement = statement.where(col(User.id).in_(user_ids))
    if expired_by is not None:
        statement = statement.where(
            ~exists().where(
                col(SignupTicket.user_id) == User.id, col(SignupTicket.expires_at) > expired_by
            )
        )
    result = await db.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
