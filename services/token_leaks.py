"""Leaked tokens reported by secret scanners (SPEC 6): each live one is revoked at once, in the
same transaction as its audit event and its owner's notices.

A token is checked offline first (prefix and CRC32 checksum): a malformed or mistyped one costs
no database work and counts against no limit. The well-formed ones are counted against the
reporting address's allowance, looked up together in one SELECT and revoked together in one
UPDATE; only those this UPDATE revoked are recorded and notified, so two scanners reporting
the same token at once tell its owner once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from auth import policy, token_format, token_rate
from auth.secrets import token_hash
from core.errors import InvalidInput, RateLimited
from models import ApiToken, App, Installation, Member, Team, TokenKind, User, UserStatus
from services import audit, emails
from services.context import ServiceContext
from services.notifications import notify, notify_users
from services.outbox import send_email

MAX_REPORTS = 100
# What a reporter says about where it found a token is kept, cut to these lengths.
MAX_URL = 2048
MAX_LABEL = 100
REASON = "leaked"


@dataclass(frozen=True, slots=True)
class LeakReport:
    """One reported token, as a scanner sends it (GitHub secret scanning's fields)."""

    token: str
    type: str | None = None
    url: str | None = None
    source: str | None = None


def address_key(ip_address: str | None) -> str | None:
    return f"leaks:address:{ip_address}" if ip_address else None


async def report_leaks(ctx: ServiceContext, reports: Sequence[LeakReport]) -> int:
    """Revoke every live token reported. Returns how many were revoked, for logs: the answer
    to the reporter must not depend on it."""
    if len(reports) > MAX_REPORTS:
        raise InvalidInput(f"At most {MAX_REPORTS} tokens per report.", field="token")
    # Keyed hash -> (kind, first report of it); malformed tokens drop out here.
    wanted: dict[str, tuple[TokenKind, LeakReport]] = {}
    for report in reports:
        kind = token_format.parse(report.token)
        if kind is not None:
            wanted.setdefault(token_hash(ctx.settings.secret_key, report.token), (kind, report))
    if not wanted:
        return 0
    await _spend_allowance(ctx, len(wanted))
    now = ctx.now()
    found = [
        row for row in await _live_tokens(ctx, list(wanted)) if row.kind == wanted[row.hash][0]
    ]
    if not found:
        return 0
    revoked = set(
        (
            await ctx.db.execute(
                update(ApiToken)
                .where(
                    col(ApiToken.id).in_([row.id for row in found]),
                    col(ApiToken.revoked_at).is_(None),
                    col(ApiToken.expires_at) > now,
                )
                .values(revoked_at=now, revoked_reason=REASON)
                .returning(col(ApiToken.id))
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    for row in found:
        if row.id in revoked:
            await _record_and_tell(ctx, row, _where(wanted[row.hash][1]))
    await ctx.db.flush()
    return len(revoked)


async def _spend_allowance(ctx: ServiceContext, tokens: int) -> None:
    """Well-formed tokens cost a lookup each: so many per address a minute (counted on the side
    engine, before this request writes anything)."""
    key = address_key(ctx.actor.origin.ip_address)
    if key is None:
        return
    wait = await token_rate.spend_in_window(
        ctx.engine,
        key,
        add=tokens,
        limit=ctx.settings.token_leak_reports_per_minute,
        now=ctx.now(),
    )
    if wait is not None:
        raise RateLimited(
            f"Too many tokens reported from this address; retry in {wait} seconds.",
            retry_after_seconds=wait,
        )


_Owner = aliased(User)
_Developer = aliased(User)
_COLUMNS: tuple[Any, ...] = (
    col(ApiToken.id),
    col(ApiToken.token_hash).label("hash"),
    col(ApiToken.kind),
    col(ApiToken.hint),
    col(ApiToken.name),
    col(ApiToken.user_id),
    col(ApiToken.team_id),
    col(ApiToken.installation_id),
    col(_Owner.email).label("owner_email"),
    col(_Owner.username).label("owner_username"),
    col(_Owner.status).label("owner_status"),
    col(Installation.app_id),
    col(App.name).label("app_name"),
    col(App.owner_id).label("developer_id"),
    col(_Developer.email).label("developer_email"),
    col(_Developer.username).label("developer_username"),
    col(_Developer.status).label("developer_status"),
    col(Team.name).label("team_name"),
)


async def _live_tokens(ctx: ServiceContext, hashes: list[str]) -> Sequence[Any]:
    """The reported tokens that are still live, with whom to tell: one statement."""
    now = ctx.now()
    statement = (
        select(*_COLUMNS)
        .select_from(ApiToken)
        .outerjoin(_Owner, col(_Owner.id) == col(ApiToken.user_id))
        .outerjoin(Installation, col(Installation.id) == col(ApiToken.installation_id))
        .outerjoin(App, col(App.id) == col(Installation.app_id))
        .outerjoin(_Developer, col(_Developer.id) == col(App.owner_id))
        .outerjoin(Team, col(Team.id) == col(ApiToken.team_id))
        .where(
            col(ApiToken.token_hash).in_(hashes),
            col(ApiToken.revoked_at).is_(None),
            col(ApiToken.expires_at) > now,
        )
        .order_by(col(ApiToken.id))
    )
    return (await ctx.db.execute(statement)).all()


def _where(report: LeakReport) -> dict[str, str | None]:
    return {
        "reported_type": _clean(report.type, MAX_LABEL),
        "url": _clean(report.url, MAX_URL),
        "source": _clean(report.source, MAX_LABEL),
    }


def _clean(value: str | None, length: int) -> str | None:
    # Printable characters only (no NULs or lone surrogates, which the database refuses).
    cleaned = "".join(ch for ch in value if ch.isprintable())[:length] if value else ""
    return cleaned or None


def _host(url: str | None) -> str | None:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") else None


async def _record_and_tell(ctx: ServiceContext, row: Any, found: dict[str, str | None]) -> None:
    kind = TokenKind(row.kind)
    personal = kind is TokenKind.PERSONAL
    audit.token_leaked(
        ctx,
        token_id=row.id,
        kind=str(kind),
        hint=row.hint,
        name=row.name,
        owner_user_id=row.user_id if personal else row.developer_id,
        team_id=None if personal else row.team_id,
        app_id=None if personal else row.app_id,
        installation_id=None if personal else row.installation_id,
        found=found,
    )
    when, host, source = ctx.now(), _host(found["url"]), found["source"]
    notice = {"hint": row.hint, "url": found["url"], "source": source}
    if personal:
        if row.user_id is None or row.owner_status != UserStatus.ACTIVE:
            return
        notify(ctx, user_id=row.user_id, kind="token.leaked", details={**notice, "name": row.name})
        send_email(
            ctx,
            to=row.owner_email,
            email=emails.personal_token_leaked(
                username=row.owner_username,
                token_name=row.name,
                hint=row.hint,
                when=when,
                host=host,
                source=source,
            ),
        )
        return
    team = {**notice, "app": row.app_name, "team": row.team_name}
    if row.developer_id is not None and row.developer_status == UserStatus.ACTIVE:
        notify(ctx, user_id=row.developer_id, kind="app.token_leaked", details=team)
        send_email(
            ctx,
            to=row.developer_email,
            email=emails.app_token_leaked(
                username=row.developer_username,
                app_name=row.app_name,
                team_name=row.team_name,
                hint=row.hint,
                when=when,
                host=host,
                source=source,
            ),
        )
    # The installing team's owners and admins: an in-app notice (their trail has the event).
    managers = (
        select(col(Member.user_id))
        .join(User, col(User.id) == col(Member.user_id))
        .where(
            col(Member.team_id) == row.team_id,
            col(Member.role).in_(policy.MANAGER_ROLES),
            col(User.status) == UserStatus.ACTIVE,
        )
    )
    await notify_users(
        ctx, managers, kind="installation.token_leaked", team_id=row.team_id, details=team
    )
