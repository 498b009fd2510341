"""Releasing managed accounts (SPEC 5): by the managing team's owners and admins (by domain or
by account), or by itself when the team's domain lapses or is removed. Released users are told
(in-app and by email), their open email-change requests to the team are withdrawn, and one
audit event records it; all set-based."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, literal, select, union, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from auth import policy
from core.errors import InvalidInput, NotFound
from models import (
    Domain,
    EmailChangeRequest,
    EmailChangeStatus,
    Takeover,
    TakeoverStatus,
    Team,
    User,
    UserStatus,
)
from services import audit, normalize, takeover_effect, takeover_notices
from services.context import ServiceContext
from services.teams import lock_team, locked_membership

MAX_USERS_AT_ONCE = 1000
# A release's audit event names at most this many of the released accounts (and their count).
AUDITED_IDS = 1000


async def release_managed_accounts(
    ctx: ServiceContext,
    *,
    team_id: int,
    domain_id: int | None = None,
    user_ids: Sequence[int] | None = None,
) -> int:
    """Release the team's managed accounts of one domain, or the named ones; returns how many
    were released (ids of accounts the team does not manage match nothing)."""
    policy.require_principal(ctx.actor)
    own = await locked_membership(ctx, team_id)
    policy.require_takeover_manager(ctx.actor, own, missing="No such team.", field="teamId")
    if (domain_id is None) == (user_ids is None):
        raise InvalidInput("Name either a domain or the accounts to release.", field="domainId")
    if domain_id is not None:
        name = await ctx.db.scalar(
            select(col(Domain.name)).where(
                col(Domain.id) == domain_id, col(Domain.team_id) == team_id
            )
        )
        if name is None:
            raise NotFound("No such domain.", field="domainId")
        return await _release(
            ctx, team_id, col(User.managed_domain) == name, domain=name, reason="released"
        )
    ids = sorted(set(user_ids or ()))
    if not ids or len(ids) > MAX_USERS_AT_ONCE:
        raise InvalidInput(
            f"Name between 1 and {MAX_USERS_AT_ONCE} accounts at a time.", field="userIds"
        )
    return await _release(ctx, team_id, col(User.id).in_(ids), reason="released")


async def end_domains(ctx: ServiceContext, domains: Sequence[Domain], *, reason: str) -> None:
    """A domain lapsed or is being removed: its announced takeovers are cancelled and the
    accounts its team manages through it are released, in the caller's transaction. The caller
    holds the domain rows' locks (so the team's lock comes after them, as everywhere)."""
    wanted = {(domain.team_id, domain.name) for domain in domains}
    if not wanted:
        return
    team_ids = {team_id for team_id, _ in wanted}
    names = {name for _, name in wanted}
    # The teams' locks first, in id order (two sweeps never wait on each other crosswise), and
    # only then the question: a takeover that took effect while we waited for a lock has its
    # accounts managed by the time we look, and they are released with the rest.
    for team_id in sorted(team_ids):
        await lock_team(ctx, team_id)
    # One query says which of them have anything to end; usually none.
    found: Any = await ctx.db.execute(
        union(
            select(col(Takeover.team_id), col(Takeover.domain_name), literal("takeover")).where(
                col(Takeover.team_id).in_(team_ids),
                col(Takeover.domain_name).in_(names),
                col(Takeover.status) == TakeoverStatus.ANNOUNCED,
            ),
            select(
                col(User.managed_by_team_id), col(User.managed_domain), literal("accounts")
            ).where(
                col(User.managed_by_team_id).in_(team_ids), col(User.managed_domain).in_(names)
            ),
        )
    )
    touched: dict[tuple[int, str], set[str]] = {}
    for team_id, name, kind in cast(list[tuple[int, str, str]], found.all()):
        if (team_id, name) in wanted:
            touched.setdefault((team_id, name), set()).add(kind)
    for (team_id, name), what in sorted(touched.items()):
        if "takeover" in what:
            await _cancel_announced(ctx, team_id, name, reason=reason)
        if "accounts" in what:
            await _release(
                ctx, team_id, col(User.managed_domain) == name, domain=name, reason=reason
            )
    await ctx.db.flush()


async def release_if_left_domain(ctx: ServiceContext, user_id: int) -> bool:
    """[P6] A managed account whose address is no longer in the domain it is managed through
    (an approved email change) is released, in the caller's transaction: told, and audited as
    a release for the reason "left_domain". True if it was."""
    team_id = await ctx.db.scalar(
        select(col(User.managed_by_team_id)).where(col(User.id) == user_id)
    )
    if team_id is None:
        return False
    await lock_team(ctx, team_id)
    row = (
        await ctx.db.execute(
            select(col(User.email), col(User.managed_domain)).where(
                col(User.id) == user_id, col(User.managed_by_team_id) == team_id
            )
        )
    ).first()
    if row is None or row.managed_domain is None or _in_domain(row.email, row.managed_domain):
        return False
    # What the caller queued (the decision's own notice) comes first.
    await ctx.db.flush()
    released = await _release(
        ctx,
        team_id,
        col(User.id) == user_id,
        domain=row.managed_domain,
        reason="left_domain",
    )
    # The caller may hold the account as an object: it must not write the old values back.
    user = ctx.db.identity_map.get(identity_key(User, user_id))
    if user is not None:
        for name in ("managed_by_team_id", "managed_since", "managed_domain"):
            set_committed_value(user, name, None)
    return released > 0


def _in_domain(email: str, domain: str) -> bool:
    """Exactly the domain (not a subdomain); addresses keep their domain in Unicode form,
    domain names are stored in ASCII."""
    at = normalize.email_domain(email).lower()
    return at in (domain, normalize.domain_display(domain))


async def _cancel_announced(ctx: ServiceContext, team_id: int, name: str, *, reason: str) -> None:
    announced = (
        await ctx.db.execute(
            select(Takeover)
            .where(
                col(Takeover.team_id) == team_id,
                col(Takeover.domain_name) == name,
                col(Takeover.status) == TakeoverStatus.ANNOUNCED,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars()
    team_name = await ctx.db.scalar(select(col(Team.name)).where(col(Team.id) == team_id))
    for takeover in list(announced):
        await takeover_effect.cancel(ctx, takeover, team_name=team_name or "", reason=reason)


async def _release(
    ctx: ServiceContext,
    team_id: int,
    which: ColumnElement[bool],
    *,
    reason: str,
    domain: str | None = None,
) -> int:
    """The caller holds the team's lock, so the accounts matched stay the same from the first
    statement to the last."""
    matched = (col(User.managed_by_team_id) == team_id) & which
    accounts = select(col(User.id)).where(matched)
    team_name = await ctx.db.scalar(select(col(Team.name)).where(col(Team.id) == team_id))
    await takeover_notices.released(
        ctx,
        accounts,
        team_id=team_id,
        team_name=team_name or "",
        domain=normalize.domain_display(domain) if domain else None,
        reason=reason,
    )
    await ctx.db.execute(
        update(EmailChangeRequest)
        .where(
            col(EmailChangeRequest.team_id) == team_id,
            col(EmailChangeRequest.status) == EmailChangeStatus.PENDING,
            col(EmailChangeRequest.user_id).in_(accounts),
        )
        .values(status=EmailChangeStatus.CANCELLED.value, decided_at=ctx.now())
        .execution_options(synchronize_session=False)
    )
    # Deactivating was a power of the management, which ends here: the accounts the team
    # locked out are active again (not left locked out with nobody able to reactivate them).
    reactivated = await ctx.db.execute(
        update(User)
        .where(matched, col(User.status) == UserStatus.DEACTIVATED)
        .values(status=UserStatus.ACTIVE, updated_at=ctx.now())
        .execution_options(synchronize_session=False)
    )
    released = await ctx.db.execute(
        update(User)
        .where(matched)
        .values(
            managed_by_team_id=None, managed_since=None, managed_domain=None, updated_at=ctx.now()
        )
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    )
    # The ids actually released (not those asked for), the first ones only in the event.
    released_ids = sorted(cast(int, key) for key in released.scalars())
    count = len(released_ids)
    audit.managed_accounts_released(
        ctx,
        team_id=team_id,
        domain=domain,
        user_ids=released_ids[:AUDITED_IDS],
        released_count=count,
        reason=reason,
        reactivated_count=int(cast(CursorResult[Any], reactivated).rowcount or 0),
    )
    return count
