"""In-app notices to users (SPEC 5: takeover announced or effective, release, decisions)."""

from __future__ import annotations

from typing import Any

from models import Notification
from services.context import ServiceContext


def notify(
    ctx: ServiceContext,
    *,
    user_id: int,
    kind: str,
    team_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Notification:
    """Queue one notice in the caller's transaction (set-based notices for many users live
    with the use case that writes them)."""
    notice = Notification(
        user_id=user_id, kind=kind, team_id=team_id, details=details or {}, created_at=ctx.now()
    )
    ctx.db.add(notice)
    return notice
