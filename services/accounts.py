"""Accounts: sign-up, sign-in and out, email verification, profile and password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from auth import passwords, policy, sessions, throttle
from auth.scopes import Scope
from auth.secrets import new_token, plausible_token, token_hash
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from models import EmailChangeRequest, EmailVerification, User, UserSession, UserStatus
from services import audit, email_events, emails, normalize, quotas
from services.context import ServiceContext, flush_or_conflict
from services.outbox import send_email

INVALID_CREDENTIALS = "The username/email or password is wrong."
INACTIVE = "This account is not active. Contact your team's administrators."
# Said of an address someone asks to move to: never whether another account holds it [P1].
ADDRESS_UNUSABLE = "That address cannot be used."


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    session: UserSession
    token: str


@dataclass(frozen=True, slots=True)
class SignUpInput:
    username: str
    email: str
    password: str
    birth_date: date
    country: str | None = None
    display_name: str | None = None


async def sign_up(ctx: ServiceContext, data: SignUpInput) -> SignedIn:
    today = ctx.now().date()
    username = normalize.username(data.username)
    email = normalize.email(data.email)
    country = normalize.country(data.country)
    born = normalize.birth_date(data.birth_date, today)
    if refusal := policy.under_age_refusal(ctx.settings, normalize.age_on(born, today), country):
        # [P4] Refused before anything is written: an under-age sign-up leaves no trace.
        raise Forbidden(refusal, field="birthDate")
    problem = passwords.password_problem(data.password, username=username, email=email)
    if problem:
        raise InvalidInput(problem, field="password")
    display_name = normalize.text(data.display_name or "", "displayName", max_length=100)
    await _ensure_available(ctx, username=username, email=email)

    now = ctx.now()
    user = User(
        username=username,
        email=email,
        display_name=display_name or username,
        country=country,
        birth_date=born,
        password_hash=await passwords.hash_password(ctx.settings, data.password),
        created_at=now,
        updated_at=now,
        last_login_at=now,
    )
    ctx.db.add(user)
    await _flush_or_conflict(ctx)
    audit.user_signed_up(ctx, user=user)
    await _send_verification(ctx, user)
    return await open_session(ctx, user)


async def sign_in(ctx: ServiceContext, *, identifier: str, password: str) -> SignedIn:
    now = ctx.now()
    settings = ctx.settings
    lookup = identifier.strip().lower()
    if not _plausible_identifier(lookup) or len(password) > passwords.MAX_LENGTH:
        # Matches no account; answered like any other miss, without touching the database.
        raise InvalidInput(INVALID_CREDENTIALS, field="identifier")
    # Failures count per identifier as typed, not per account: a shared counter would tell an
    # attacker which email address belongs to which (public) username [P1].
    account = throttle.account_key(lookup)
    address = throttle.address_key(ctx.actor.origin.ip_address)
    address_limits = throttle.Limits.for_addresses(settings)
    if address and (wait := await throttle.attempt(ctx.engine, address, address_limits, now)):
        raise _rate_limited(wait)
    wait = await throttle.attempt(ctx.engine, account, throttle.Limits.for_accounts(settings), now)
    if wait:
        if address:
            await throttle.refund(ctx.engine, address, address_limits)
        raise _rate_limited(wait)

    user = (
        await ctx.db.execute(
            select(User).where(or_(col(User.username) == lookup, col(User.email) == lookup))
        )
    ).scalar_one_or_none()
    valid = await passwords.verify_password(
        settings, user.password_hash if user else None, password
    )
    if not valid or user is None or user.status is UserStatus.DELETED:
        # The attempt is already counted: only its record is left to write.
        await audit.sign_in_failed(ctx, user_id=user.id if user else None)
        raise InvalidInput(INVALID_CREDENTIALS, field="identifier")
    if user.status is not UserStatus.ACTIVE:
        raise Forbidden(INACTIVE)

    await throttle.forget(
        ctx.engine, [throttle.account_key(user.username), throttle.account_key(user.email)]
    )
    if address:
        await throttle.refund(ctx.engine, address, address_limits)
    if user.password_hash and passwords.needs_rehash(settings, user.password_hash):
        user.password_hash = await passwords.hash_password(settings, password)
    return await open_session(ctx, user)


async def sign_out(ctx: ServiceContext) -> None:
    user = policy.require_session(ctx.actor)
    if ctx.actor.session_id is not None:
        await sessions.revoke_session(ctx.db, session_id=ctx.actor.session_id, now=ctx.now())
    audit.user_signed_out(ctx, user=user)


async def my_sessions(ctx: ServiceContext) -> list[UserSession]:
    user = policy.require_session(ctx.actor)
    rows = await ctx.db.execute(
        select(UserSession)
        .where(
            col(UserSession.user_id) == user.id,
            col(UserSession.revoked_at).is_(None),
            col(UserSession.expires_at) > ctx.now(),
        )
        .order_by(col(UserSession.last_seen_at).desc(), col(UserSession.id).desc())
    )
    return list(rows.scalars())


async def my_session(ctx: ServiceContext, session_id: int) -> UserSession | None:
    """One of the viewer's active sessions by id; None for someone else's, or for a token
    (sessions are for a signed-in session to see)."""
    if policy.session_user(ctx.actor) is None:
        return None
    return next((row for row in await my_sessions(ctx) if row.id == session_id), None)


async def revoke_session(ctx: ServiceContext, *, session_id: int) -> None:
    user = policy.require_session(ctx.actor)
    found = await ctx.db.get(UserSession, session_id)
    policy.check_session_owner(ctx.actor, found.user_id if found else None)
    assert found is not None and found.id is not None
    if found.revoked_at is None:
        await sessions.revoke_session(ctx.db, session_id=found.id, now=ctx.now())
        audit.session_revoked(ctx, user=user, session_id=found.id)


async def verify_email(ctx: ServiceContext, *, token: str) -> User:
    now = ctx.now()
    if not plausible_token(token):
        raise NotFound("This verification link is not valid.", field="token")
    found = (
        await ctx.db.execute(
            select(EmailVerification, User)
            .join(User, col(User.id) == EmailVerification.user_id)
            .where(col(EmailVerification.token_hash) == token_hash(ctx.settings.secret_key, token))
        )
    ).first()
    if found is None:
        raise NotFound("This verification link is not valid.", field="token")
    verification, user = found
    if verification.used_at is not None:
        raise InvalidInput("This verification link was already used.", field="token")
    if verification.expires_at <= now:
        raise InvalidInput("This verification link has expired; ask for a new one.", field="token")
    if verification.email != user.email:
        raise InvalidInput("This link was for an email address you no longer use.", field="token")
    verification.used_at = now
    await email_events.email_verified(ctx, user, via="link")
    return user


async def resend_verification(ctx: ServiceContext) -> None:
    user = policy.require_session(ctx.actor)
    if user.email_verified_at is not None:
        raise InvalidInput("Your email address is already verified.", field="email")
    await quotas.spend(ctx, quotas.VERIFICATION_EMAILS, f"user:{user.id}")
    await _send_verification(ctx, user)
    audit.verification_email_sent(ctx, user=user)


PROFILE_LIMITS = {"display_name": 100, "company": 100, "job_title": 100}


async def update_profile(ctx: ServiceContext, changes: dict[str, Any]) -> User:
    """Apply the given fields (absent keys stay as they are; None clears a field)."""
    user = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.USERS_WRITE)
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        field = _camel(name)
        if name in PROFILE_LIMITS:
            clean[name] = normalize.optional_text(value, field, max_length=PROFILE_LIMITS[name])
        elif name == "avatar_url":
            clean[name] = normalize.https_url(value, field)
        elif name == "country":
            clean[name] = normalize.country(value)
        elif name == "locale":
            clean[name] = normalize.locale(value)
        elif name == "time_zone":
            clean[name] = normalize.time_zone(value)
        elif name == "email_public":
            if value is None:
                raise InvalidInput("Choose true or false.", field=field)
            clean[name] = bool(value)
        else:
            raise InvalidInput(f"{field} cannot be changed here.", field=field)
    if "display_name" in clean and not clean["display_name"]:
        clean["display_name"] = user.username
    for name, value in clean.items():
        setattr(user, name, value)
    if clean:
        user.updated_at = ctx.now()
        audit.profile_updated(ctx, user=user, fields=list(clean))
    return user


@dataclass(frozen=True, slots=True)
class EmailChange:
    user: User
    # Set when the account is managed: the change waits for the managing team's approval.
    request: EmailChangeRequest | None = None


async def change_email(ctx: ServiceContext, *, email: str, password: str) -> EmailChange:
    user = policy.require_session(ctx.actor)
    new_email = normalize.email(email)
    await _confirm_password(ctx, user, password, field="password", message="The password is wrong.")
    if new_email == user.email:
        raise InvalidInput("That is already your email address.", field="email")
    # Imported here: email_changes builds on this module (approval calls apply_email_change).
    from services import email_changes

    if not policy.email_change_needs_approval(user):
        # The account was read when the request began: the database decides whether it is
        # still unmanaged. A takeover that took effect since wins; one under way waits for this
        # change, which moves the account out of its domain.
        if await _lock_if(ctx, user, col(User.managed_by_team_id).is_(None)):
            await apply_email_change(ctx, user, new_email)
            return EmailChange(user)
        await ctx.db.refresh(user, ["managed_by_team_id"])
        if not policy.email_change_needs_approval(user):
            raise Conflict("How your account is managed just changed; try again.", field="email")
        # Filed after all, without spending the quota: this request already holds a write
        # lock, which the quota's own write (on SQLite) would wait for.
    else:
        # Before anything is written: the quota is counted outside the request's transaction.
        await email_changes.spend_quota(ctx, user)
    # Checked now as well as on approval: a taken address is refused before anyone reviews it.
    await _ensure_available(ctx, email=new_email, refusal=ADDRESS_UNUSABLE)
    return EmailChange(user, await email_changes.file_request(ctx, user, new_email))


async def apply_email_change(ctx: ServiceContext, user: User, new_email: str) -> None:
    """Give the account a new, unverified address and send it a verification link: the user's
    own change, or a managed user's change once approved."""
    await _ensure_available(ctx, email=new_email, refusal=ADDRESS_UNUSABLE)
    user.email = new_email
    user.email_verified_at = None
    user.updated_at = ctx.now()
    # Taken meanwhile by a sign-up racing this change: the constraint decides, as neutrally.
    await flush_or_conflict(ctx, ADDRESS_UNUSABLE, field="email")
    audit.email_change_requested(ctx, user=user)
    await _send_verification(ctx, user)


async def change_password(ctx: ServiceContext, *, current: str, new: str) -> User:
    user = policy.require_session(ctx.actor)
    if user.password_hash:
        await _confirm_password(
            ctx, user, current, field="currentPassword", message="The current password is wrong."
        )
    problem = passwords.password_problem(new, username=user.username, email=user.email)
    if problem:
        raise InvalidInput(problem, field="newPassword")
    user.password_hash = await passwords.hash_password(ctx.settings, new)
    user.updated_at = ctx.now()
    revoked = await sessions.revoke_all_sessions(
        ctx.db,
        user_id=user.id,  # type: ignore[arg-type]
        now=ctx.now(),
        keep_session_id=ctx.actor.session_id,
    )
    audit.password_changed(ctx, user=user, sessions_revoked=revoked)
    return user


async def create_staff(ctx: ServiceContext, *, username: str, email: str, password: str) -> User:
    """Platform staff accounts are made from the command line only."""
    username = normalize.username(username)
    email = normalize.email(email)
    problem = passwords.password_problem(password, username=username, email=email)
    if problem:
        raise InvalidInput(problem, field="password")
    await _ensure_available(ctx, username=username, email=email)
    now = ctx.now()
    user = User(
        username=username,
        email=email,
        display_name=username,
        email_verified_at=now,
        password_hash=await passwords.hash_password(ctx.settings, password),
        is_staff=True,
        created_at=now,
        updated_at=now,
    )
    ctx.db.add(user)
    await _flush_or_conflict(ctx)
    audit.staff_created(ctx, user=user)
    return user


# --- internals ------------------------------------------------------------------------------


async def _ensure_available(
    ctx: ServiceContext,
    *,
    username: str | None = None,
    email: str | None = None,
    refusal: str = "That email address cannot be used for a new account.",
) -> None:
    if username is not None and await ctx.db.scalar(
        select(exists().where(col(User.username) == username))
    ):
        raise Conflict("That username is taken.", field="username")
    if email is not None and await ctx.db.scalar(select(exists().where(col(User.email) == email))):
        raise Conflict(refusal, field="email")


async def lock_if_active(ctx: ServiceContext, user: User, **values: Any) -> bool:
    """Whether the account is active, as the database says now. If it is, its row stays locked
    (PostgreSQL; on SQLite the database's write lock) until the transaction ends, so what the
    caller creates for the user (a session, a token) commits before any deactivation, which
    then finds and revokes it; a deactivation already committed wins. Writes `values`."""
    return await _lock_if(ctx, user, col(User.status) == UserStatus.ACTIVE, **values)


async def _lock_if(
    ctx: ServiceContext, user: User, condition: ColumnElement[bool], **values: Any
) -> bool:
    result = await ctx.db.execute(
        update(User)
        .where(col(User.id) == user.id, condition)
        .values(**(values or {"updated_at": User.updated_at}))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(user, name, value)
    return True


async def _flush_or_conflict(ctx: ServiceContext) -> None:
    # Two sign-ups racing for one username both pass the check above; the constraint decides.
    try:
        await ctx.db.flush()
    except IntegrityError as error:
        text = str(error.orig).lower()
        field = "username" if "username" in text else "email"
        raise Conflict(f"That {field} is taken.", field=field) from None


async def _send_verification(ctx: ServiceContext, user: User) -> None:
    now = ctx.now()
    token = new_token()
    expires_at = now + timedelta(hours=ctx.settings.email_verification_hours)
    ctx.db.add(
        EmailVerification(
            user_id=user.id,  # type: ignore[arg-type]
            email=user.email,
            token_hash=token_hash(ctx.settings.secret_key, token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    send_email(
        ctx,
        to=user.email,
        email=emails.verify_email(
            base_url=ctx.settings.links_base_url,
            username=user.username,
            token=token,
            expires_at=expires_at,
        ),
    )


async def open_session(ctx: ServiceContext, user: User, *, via: str = "password") -> SignedIn:
    """Start a fresh session (rotating any the request came with) and note new devices; only
    while the account is active (lock_if_active: a sign-in racing a deactivation)."""
    now = ctx.now()
    if not await lock_if_active(ctx, user, last_login_at=now):
        raise Forbidden(INACTIVE)
    origin = ctx.actor.origin
    if ctx.actor.session_id is not None:
        await sessions.revoke_session(ctx.db, session_id=ctx.actor.session_id, now=now)
    new_device = await sessions.is_new_device(
        ctx.db,
        user_id=user.id,  # type: ignore[arg-type]
        origin=origin,
    )
    session, token = await sessions.start_session(
        ctx.db, ctx.settings, user=user, origin=origin, now=now
    )
    if new_device:
        send_email(
            ctx,
            to=user.email,
            email=emails.new_device_sign_in(
                username=user.username,
                when=now,
                ip_address=origin.ip_address,
                user_agent=origin.user_agent,
            ),
        )
    audit.user_signed_in(ctx, user=user, session_id=session.id, via=via)
    return SignedIn(user=user, session=session, token=token)


async def _confirm_password(
    ctx: ServiceContext, user: User, password: str, *, field: str, message: str
) -> None:
    """A signed-in user proves it is them again; limited like sign-in, so that a stolen
    session cannot be used to guess the password."""
    now = ctx.now()
    key = throttle.reauth_key(user.id)  # type: ignore[arg-type]
    if wait := await throttle.attempt(
        ctx.engine, key, throttle.Limits.for_accounts(ctx.settings), now
    ):
        raise _rate_limited(wait)
    if not await passwords.verify_password(ctx.settings, user.password_hash, password):
        raise InvalidInput(message, field=field)
    await throttle.forget(ctx.engine, [key])


def _rate_limited(wait: int) -> RateLimited:
    return RateLimited(
        f"Too many failed attempts. Try again in {wait} second{'' if wait == 1 else 's'}.",
        retry_after_seconds=wait,
    )


def _plausible_identifier(lookup: str) -> bool:
    # Control characters (NUL above all, which PostgreSQL refuses) and unpaired surrogates
    # appear in no username or email address.
    return 0 < len(lookup) <= 254 and lookup.isprintable()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
