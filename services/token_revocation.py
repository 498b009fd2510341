"""Revoking access tokens in bulk: one statement for every live token a rule selects."""

from __future__ import annotations

from sqlalchemy import ColumnElement, update
from sqlmodel import col

from models import ApiToken
from services.context import ServiceContext


async def revoke_tokens(ctx: ServiceContext, which: ColumnElement[bool], *, reason: str) -> int:
    """Revoke every live token matching `which` (a user's on deactivation, an installation's on
    uninstall, those beyond an installation's cap) at once; how many were revoked."""
    result = await ctx.db.execute(
        update(ApiToken)
        .where(which, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=ctx.now(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
