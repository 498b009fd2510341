"""Notices to many users at once (SPEC 5: a takeover's, a release's), in two steps.

The change that causes them queues one NoticeBatch row in its own transaction: the notice's
kind and details, the email rendered once, and who is told, as data already written there
(the takeover's accounts with an outcome, or the accounts listed for the batch). The worker
then writes the per-user notices and emails of each batch set-based, one INSERT ... SELECT
each, in a transaction of its own (worker.notices): a takeover of 100,000 accounts does not
write 200,000 rows while it holds its locks, and users are told within one worker interval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import (
    NoticeAudience,
    NoticeBatch,
    NoticeBatchAccount,
    TakeoverAccount,
    TakeoverOutcome,
    User,
    UserStatus,
)
from services.context import ServiceContext
from services.emails import Email
from services.notifications import insert_emails, insert_notices

# Accounts that can still read a notice or an email (a purged account has no address left).
REACHABLE = (UserStatus.ACTIVE, UserStatus.DEACTIVATED, UserStatus.PENDING_DELETION)
# Email goes only to a verified address: one the user proved is theirs (an address they moved
# to and never confirmed may be anyone's).
EMAILABLE = col(User.status).in_(REACHABLE) & col(User.email_verified_at).is_not(None)

_OUTCOMES = {
    NoticeAudience.MANAGED: TakeoverOutcome.MANAGED,
    NoticeAudience.SKIPPED: TakeoverOutcome.SKIPPED,
}


async def queue(
    ctx: ServiceContext,
    *,
    kind: str,
    team_id: int | None,
    details: dict[str, Any],
    email: Email,
    audience: NoticeAudience,
    takeover_id: int | None = None,
    listed: Select[Any] | None = None,
) -> NoticeBatch:
    """One batch, in the caller's transaction. A LISTED batch takes its accounts from
    `listed` (a SELECT of user ids, copied by one INSERT ... SELECT)."""
    batch = NoticeBatch(
        kind=kind,
        team_id=team_id,
        takeover_id=takeover_id,
        audience=audience,
        details=details,
        email_kind=email.kind,
        subject=email.subject,
        body=email.body,
        created_at=ctx.now(),
    )
    ctx.db.add(batch)
    if audience is NoticeAudience.LISTED:
        assert listed is not None
        # Its id, for the listed rows (otherwise the batch goes with the caller's flush).
        await ctx.db.flush()
        rows = listed.subquery()
        await ctx.db.execute(
            insert(NoticeBatchAccount).from_select(
                ["batch_id", "user_id"], select(literal(batch.id), rows.c[0])
            )
        )
    return batch


async def expand(db: AsyncSession, batch_id: int, now: datetime) -> bool:
    """Write one batch's notices and emails and mark it done, in the caller's transaction;
    False if it is done already or another worker holds it. The row's lock (skipped, not
    waited for, on PostgreSQL) and the conditional UPDATE (SQLite, where FOR UPDATE is a
    no-op) make sure a batch is written out once: a failure rolls everything back, and the
    batch is tried again on the next run."""
    batch = (
        await db.execute(
            select(NoticeBatch)
            .where(col(NoticeBatch.id) == batch_id, col(NoticeBatch.done_at).is_(None))
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if batch is None:
        return False
    claimed = await db.execute(
        update(NoticeBatch)
        .where(col(NoticeBatch.id) == batch_id, col(NoticeBatch.done_at).is_(None))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], claimed).rowcount:
        return False
    source, user_id, audience = _audience(batch)
    await insert_notices(
        db,
        select(user_id).where(audience),
        kind=batch.kind,
        team_id=batch.team_id,
        details=batch.details,
        at=batch.created_at,
    )
    if batch.audience is NoticeAudience.NAMED:
        # The address each account was named by: verified then, and the one the notice is
        # about (as if it had been written at announcement, whatever changed since).
        addresses = select(col(TakeoverAccount.email)).where(audience)
    else:
        addresses = (
            select(col(User.email))
            .join_from(User, source, col(User.id) == user_id)
            .where(audience, EMAILABLE)
        )
    email = Email(kind=batch.email_kind, subject=batch.subject, body=batch.body)
    await insert_emails(db, addresses, email=email, created_at=batch.created_at, due_at=now)
    return True


def pending(limit: int, *, skip: set[int]) -> Select[Any]:
    """The ids of batches still to write out, oldest first."""
    statement = (
        select(col(NoticeBatch.id))
        .where(col(NoticeBatch.done_at).is_(None))
        .order_by(col(NoticeBatch.id))
        .limit(limit)
    )
    if skip:
        statement = statement.where(col(NoticeBatch.id).not_in(skip))
    return statement


def _audience(batch: NoticeBatch) -> tuple[Any, Any, ColumnElement[bool]]:
    """The table, its user id column and the condition that select the batch's audience."""
    if batch.audience is NoticeAudience.LISTED:
        listed = col(NoticeBatchAccount.batch_id) == batch.id
        return NoticeBatchAccount, col(NoticeBatchAccount.user_id), listed
    named = col(TakeoverAccount.takeover_id) == batch.takeover_id
    outcome = _OUTCOMES.get(NoticeAudience(batch.audience))
    if outcome is not None:
        named = named & (col(TakeoverAccount.outcome) == outcome)
    return TakeoverAccount, col(TakeoverAccount.user_id), named
