"""An announced takeover's end: it takes effect (the worker's sweep, or announce with a notice of
0 days) or is cancelled (by an admin, or because the domain stopped being verified).

Taking effect re-asks the [P5]/[P6] question of every account named at announcement: only
those still active, still verified and still in the domain, and managed by no other team,
become managed; the others are skipped and told so. A handful of statements, whatever the
number.

Locks, as everywhere: the domain row, then the team, then the takeover row.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, case, insert, literal, select, update
from sqlmodel import col

from auth import policy
from models import Domain, Takeover, TakeoverAccount, TakeoverOutcome, TakeoverStatus, Team, User
from services import audit, takeover_notices
from services.context import ServiceContext
from services.teams import lock_team


async def take_effect_if_due(ctx: ServiceContext, *, takeover_id: int) -> bool:
    """The worker's step for one announced takeover, in the caller's transaction: once its
    locks are held, it is applied if due, or cancelled at once if its domain is gone or no
    longer in force (a stale announcement must not hold the domain's name). False if there
    was nothing to do (not due, or another worker or an admin got there first)."""
    found = (
        await ctx.db.execute(
            select(col(Takeover.team_id), col(Takeover.domain_id)).where(
                col(Takeover.id) == takeover_id, col(Takeover.status) == TakeoverStatus.ANNOUNCED
            )
        )
    ).first()
    if found is None:
        return False
    team_id, domain_id = found
    if domain_id is not None:
        await lock_domain(ctx, domain_id)
    await lock_team(ctx, team_id)
    takeover = (
        await ctx.db.execute(
            select(Takeover)
            .where(
                col(Takeover.id) == takeover_id, col(Takeover.status) == TakeoverStatus.ANNOUNCED
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if takeover is None:
        return False
    # Asked only now, under the locks: a removal or lapse that committed meanwhile is seen.
    domain = await domain_in_force(ctx, takeover)
    if domain is not None and takeover.effective_at > ctx.now():
        return False
    team_name = await ctx.db.scalar(select(col(Team.name)).where(col(Team.id) == team_id)) or ""
    if domain is None:
        await cancel(ctx, takeover, team_name=team_name, reason="domain_not_verified")
    else:
        await apply(ctx, takeover, domain, team_name=team_name)
    await ctx.db.flush()
    return True


async def lock_domain(ctx: ServiceContext, domain_id: int) -> None:
    """The domain row's lock, first of all (on SQLite a no-op: the team's lock, a write,
    serializes everything after it)."""
    await ctx.db.execute(
        select(col(Domain.id)).where(col(Domain.id) == domain_id).with_for_update()
    )


async def domain_in_force(ctx: ServiceContext, takeover: Takeover) -> Domain | None:
    """The takeover's domain if its team still holds it verified, else None."""
    if takeover.domain_id is None:
        return None
    return (
        await ctx.db.execute(
            select(Domain)
            .where(
                col(Domain.id) == takeover.domain_id,
                col(Domain.team_id) == takeover.team_id,
                col(Domain.name) == takeover.domain_name,
                Domain.in_force(ctx.now()),
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def apply(ctx: ServiceContext, takeover: Takeover, domain: Domain, *, team_name: str) -> None:
    """Make an announced takeover effective (the caller holds the locks and checked that the
    team holds `domain` in force)."""
    now = ctx.now()
    pending = (col(TakeoverAccount.takeover_id) == takeover.id) & (
        col(TakeoverAccount.outcome) == TakeoverOutcome.PENDING
    )
    claimed = await ctx.db.execute(
        update(User)
        .where(
            col(User.id).in_(select(col(TakeoverAccount.user_id)).where(pending)),
            policy.takeover_affects(domain.name, domain.unicode_name),
        )
        .values(**_managed_values(takeover, domain, now))
        .execution_options(synchronize_session=False)
    )
    # Under the team's lock no release can run in between: the accounts managed through this
    # domain by this team are exactly those just claimed (none was before: announcement
    # named only unmanaged accounts, and only one takeover per domain is announced at a time).
    # A join (UPDATE ... FROM), not a correlated EXISTS: the planner, going by statistics
    # taken before the claim, would probe the managed_by_team_id index once per account.
    # Only this takeover's pending rows are touched, each once: every one of them changes.
    now_managed = (col(User.managed_by_team_id) == takeover.team_id) & (
        col(User.managed_domain) == domain.name
    )
    settled = await ctx.db.execute(
        update(TakeoverAccount)
        .where(pending, col(User.id) == col(TakeoverAccount.user_id))
        .values(
            outcome=case(
                (now_managed, TakeoverOutcome.MANAGED.value),
                else_=TakeoverOutcome.SKIPPED.value,
            )
        )
        .execution_options(synchronize_session=False)
    )
    managed, named = _rowcount(claimed), _rowcount(settled)
    if named > managed:
        await takeover_notices.skipped(ctx, takeover, team_name=team_name)
    await finish(ctx, takeover, team_name=team_name, managed=managed, skipped=named - managed)


async def claim_at_once(ctx: ServiceContext, takeover: Takeover, domain: Domain) -> int:
    """A takeover with no notice period (the caller holds the locks): the affected accounts
    become managed now, and each gets its TakeoverAccount row with that outcome directly (no
    pending stage to settle). Returns how many."""
    affects = policy.takeover_affects(domain.name, domain.unicode_name)
    managed = _managed_values(takeover, domain, ctx.now())
    columns = ["takeover_id", "user_id", "email", "outcome"]
    outcome = literal(TakeoverOutcome.MANAGED.value)
    if one_statement_claim(ctx):
        # One statement: the claim's RETURNING feeds the rows.
        claim = (
            update(User)
            .where(affects)
            .values(**managed)
            .returning(col(User.id), col(User.email))
            .cte("claimed")
        )
        written = await ctx.db.execute(
            insert(TakeoverAccount)
            .add_cte(claim)
            .from_select(columns, select(literal(takeover.id), claim.c.id, claim.c.email, outcome))
        )
        return _rowcount(written)
    # SQLite has no data-modifying WITH; the same rows in two statements (its write lock,
    # held since the team's lock, keeps anything from changing in between).
    written = await ctx.db.execute(
        insert(TakeoverAccount).from_select(
            columns,
            select(literal(takeover.id), col(User.id), col(User.email), outcome).where(affects),
        )
    )
    await ctx.db.execute(
        update(User)
        .where(
            col(User.id).in_(
                select(col(TakeoverAccount.user_id)).where(
                    col(TakeoverAccount.takeover_id) == takeover.id
                )
            )
        )
        .values(**managed)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(written)


async def finish(
    ctx: ServiceContext, takeover: Takeover, *, team_name: str, managed: int, skipped: int
) -> None:
    """The managed accounts are told, and the takeover is marked effective and audited."""
    await takeover_notices.effective(ctx, takeover, team_name=team_name)
    takeover.status = TakeoverStatus.EFFECTIVE
    takeover.completed_at = ctx.now()
    takeover.managed_count = managed
    takeover.skipped_count = skipped
    audit.takeover_effective(
        ctx,
        team_id=takeover.team_id,
        takeover_id=cast(int, takeover.id),
        domain=takeover.domain_name,
        managed_count=managed,
        skipped_count=skipped,
    )


async def cancel(
    ctx: ServiceContext,
    takeover: Takeover,
    *,
    team_name: str,
    reason: str,
    by_user_id: int | None = None,
) -> None:
    """Call an announced takeover off (the caller holds the team's lock and the row): its
    waiting accounts are told, then marked cancelled; nobody becomes managed."""
    await takeover_notices.cancelled(ctx, takeover, team_name=team_name)
    marked = await ctx.db.execute(
        update(TakeoverAccount)
        .where(
            col(TakeoverAccount.takeover_id) == takeover.id,
            col(TakeoverAccount.outcome) == TakeoverOutcome.PENDING,
        )
        .values(outcome=TakeoverOutcome.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    takeover.status = TakeoverStatus.CANCELLED
    takeover.cancelled_at = ctx.now()
    takeover.cancelled_by_id = by_user_id
    audit.takeover_cancelled(
        ctx,
        team_id=takeover.team_id,
        takeover_id=cast(int, takeover.id),
        domain=takeover.domain_name,
        reason=reason,
        accounts=_rowcount(marked),
    )


def one_statement_claim(ctx: ServiceContext) -> bool:
    """PostgreSQL runs a data-modifying WITH; SQLite does not."""
    return ctx.db.bind.dialect.name == "postgresql"  # type: ignore[union-attr]


def _managed_values(takeover: Takeover, domain: Domain, now: Any) -> dict[str, Any]:
    return {
        "managed_by_team_id": takeover.team_id,
        "managed_since": now,
        "managed_domain": domain.name,
        "updated_at": now,
    }


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
