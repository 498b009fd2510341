"""Sign-in identities (Google): who a verified Google account signs in as, and linking.

Accounts are found by the provider's subject, never by email alone: an email that already
belongs to an account is not merged into it (whoever controls the Google account would take
the Orgward account over); its owner signs in with their password first and links from there.

An address nobody proved (an account whose email is still unverified) does not block the
Google account that proves it: the address is taken off that account (see `_release_email`),
so registering someone else's address cannot lock its owner out. Every new link is audited and
announced by email to the account's address.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import col

from auth import policy
from auth.google import PROVIDER, GoogleAccount, SignInRefused
from core.errors import InvalidInput
from models import Identity, User, UserStatus
from services import accounts, audit, email_events, emails, normalize, signups, usernames
from services.accounts import SignedIn
from services.context import ServiceContext, flush_or_conflict
from services.outbox import send_email
from services.signups import SignupPending

# Where an address taken off an account that never proved it goes: unique, and undeliverable
# (RFC 2606 reserves `.invalid`), so nothing is ever sent to the squatted address again.
RELEASED_EMAIL = "released+{user_id}@invalid"


@dataclass(frozen=True, slots=True)
class Linked:
    identity: Identity


Outcome = SignedIn | Linked | SignupPending


async def google_signed_in(
    ctx: ServiceContext, account: GoogleAccount, *, started_by: int | None
) -> Outcome:
    """What a verified Google account leads to: a session, a link, or a pending sign-up."""
    email = _verified_email(account)
    found = (
        await ctx.db.execute(
            select(Identity, User)
            .join(User, col(User.id) == Identity.user_id)
            .where(col(Identity.provider) == PROVIDER, col(Identity.subject) == account.subject)
        )
    ).first()
    identity, owner = found if found else (None, None)
    if started_by is not None:
        return await _link(ctx, account, email, identity, started_by)
    if identity is not None and owner is not None:
        return await _sign_in(ctx, account, email, identity, owner)
    holder = (await ctx.db.execute(select(User).where(col(User.email) == email))).scalars().first()
    if holder is not None:
        if holder.email_verified_at is not None or holder.status is UserStatus.PENDING:
            # A verified address (or another Google sign-up still waiting for its birth date):
            # never merged, never taken.
            raise SignInRefused(
                "account_exists",
                "An account already uses this email address. Sign in with your password, "
                "then link your Google account from your account settings.",
            )
        await _release_email(ctx, holder)
    return await _start_signup(ctx, account, email)


async def my_identities(ctx: ServiceContext) -> list[Identity]:
    user = policy.require_session(ctx.actor)
    rows = await ctx.db.execute(
        select(Identity)
        .where(col(Identity.user_id) == user.id)
        .order_by(col(Identity.created_at), col(Identity.id))
    )
    return list(rows.scalars())


async def unlink(ctx: ServiceContext, *, identity_id: int) -> None:
    user = policy.require_session(ctx.actor)
    identity = await ctx.db.get(Identity, identity_id)
    policy.check_identity_owner(ctx.actor, identity.user_id if identity else None)
    assert identity is not None
    # Write first, count after: the no-op update locks the user's row on PostgreSQL and takes
    # the database's write lock on SQLite, so two unlinks (or an unlink and a password removal)
    # take turns and the second one counts what the first left.
    await ctx.db.execute(
        update(User)
        .where(col(User.id) == user.id)
        .values(updated_at=User.updated_at)
        .execution_options(synchronize_session=False)
    )
    others = await ctx.db.scalar(
        select(func.count())
        .select_from(Identity)
        .where(col(Identity.user_id) == user.id, col(Identity.id) != identity.id)
    )
    password_hash = await ctx.db.scalar(
        select(col(User.password_hash)).where(col(User.id) == user.id)
    )
    policy.check_keeps_a_way_to_sign_in(
        has_password=password_hash is not None, other_identities=int(others or 0)
    )
    await ctx.db.delete(identity)
    audit.identity_unlinked(ctx, user=user, provider=identity.provider, identity_id=identity_id)


# --- internals ------------------------------------------------------------------------------


def _verified_email(account: GoogleAccount) -> str:
    refusal = SignInRefused(
        "email_unverified", "Google did not confirm that this email address is verified."
    )
    if not account.email_verified or account.email is None:
        raise refusal
    try:
        return normalize.email(account.email)
    except InvalidInput:
        raise refusal from None


async def _link(
    ctx: ServiceContext,
    account: GoogleAccount,
    email: str,
    identity: Identity | None,
    started_by: int,
) -> Linked:
    user = ctx.actor.user
    if user is None or user.id != started_by:
        raise SignInRefused("signed_out", "Your session ended; sign in again, then link Google.")
    if identity is not None and identity.user_id != user.id:
        raise SignInRefused(
            "identity_in_use", "This Google account is linked to another Orgward account."
        )
    if identity is None:
        identity = _new_identity(ctx, user, account, email)
        await flush_or_conflict(ctx, "This Google account was just linked elsewhere.")
        audit.identity_linked(ctx, user=user, provider=PROVIDER, identity_id=identity.id)
        # The owner hears of every new way into their account, at their own address.
        send_email(
            ctx,
            to=user.email,
            email=emails.google_linked(username=user.username, google_email=email, when=ctx.now()),
        )
    else:
        _refresh(ctx, identity, account, email)
    await _note_verified(ctx, user, email)
    return Linked(identity)


async def _sign_in(
    ctx: ServiceContext, account: GoogleAccount, email: str, identity: Identity, owner: User
) -> SignedIn | SignupPending:
    if owner.status is UserStatus.PENDING:
        # Back before finishing the sign-up: a new ticket, the same account.
        _refresh(ctx, identity, account, email)
        return await signups.issue_ticket(ctx, owner)
    if owner.status is not UserStatus.ACTIVE:
        raise SignInRefused(
            "account_inactive", "This account is not active. Contact your team's administrators."
        )
    _refresh(ctx, identity, account, email)
    await _note_verified(ctx, owner, email)
    owner.last_login_at = ctx.now()
    return await accounts.open_session(ctx, owner, via="google")


async def _start_signup(ctx: ServiceContext, account: GoogleAccount, email: str) -> SignupPending:
    # Nothing goes to the audit trail or the outbox yet (see services/signups) [P4].
    now = ctx.now()
    username = await usernames.propose(ctx, email)
    user = User(
        username=username,
        email=email,
        display_name=(account.name or "")[:100].strip() or username,
        avatar_url=account.picture,
        status=UserStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    ctx.db.add(user)
    await flush_or_conflict(ctx, "Another sign-up just took this username or email.")
    _new_identity(ctx, user, account, email)
    return await signups.issue_ticket(ctx, user)


def _new_identity(ctx: ServiceContext, user: User, account: GoogleAccount, email: str) -> Identity:
    now = ctx.now()
    identity = Identity(
        user_id=user.id,  # type: ignore[arg-type]
        provider=PROVIDER,
        subject=account.subject,
        created_at=now,
        last_used_at=now,
    )
    _refresh(ctx, identity, account, email)
    ctx.db.add(identity)
    return identity


def _refresh(ctx: ServiceContext, identity: Identity, account: GoogleAccount, email: str) -> None:
    """[P3] The only claims kept: name, email, picture and the Workspace domain."""
    identity.email = email
    identity.name = account.name
    identity.picture = account.picture
    identity.hd = account.hd
    identity.last_used_at = ctx.now()


async def _release_email(ctx: ServiceContext, holder: User) -> None:
    """Take an unproven address off the account holding it, for the Google account that proves
    it. Nothing is sent to the address (its owner did not make that account); the account keeps
    everything else and can set a real address again."""
    now = ctx.now()
    holder.email = RELEASED_EMAIL.format(user_id=holder.id)
    holder.email_verified_at = None
    holder.email_public = False
    holder.updated_at = now
    # Flushed now: the new account takes the address in the same transaction.
    await flush_or_conflict(ctx, "Another sign-up just took this email address.")
    audit.email_released(ctx, user=holder)


async def _note_verified(ctx: ServiceContext, user: User, email: str) -> None:
    """Google vouching for the account's own address verifies it."""
    if user.email == email and user.email_verified_at is None:
        await email_events.email_verified(ctx, user, via="google")
