"""Quotas on actions that send email on a user's behalf, so Orgward cannot be used to flood an
inbox or relay spam. Counted on the side engine like sign-in attempts (they stay counted when
the request is rolled back, and replicas share them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from auth import throttle
from core.errors import RateLimited
from services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class Quota:
    name: str
    limit: int
    window: timedelta

    @property
    def limits(self) -> throttle.Limits:
        # Reaching the limit blocks for the rest of a window; no doubling steps before it.
        return throttle.Limits(self.limit, self.limit, self.window, self.window)


VERIFICATION_EMAILS = Quota("verification_email", 5, timedelta(hours=1))
INVITATIONS = Quota("invitation", 50, timedelta(hours=1))
TEAM_CONTACTS = Quota("team_contact", 10, timedelta(hours=1))


async def spend(ctx: ServiceContext, quota: Quota, subject: str) -> None:
    """Count one use of `quota` by `subject` (e.g. "user:7"); RATE_LIMITED once it is spent."""
    key = f"quota:{quota.name}:{subject}"
    wait = await throttle.attempt(ctx.engine, key, quota.limits, ctx.now())
    if wait:
        minutes = max(1, round(wait / 60))
        raise RateLimited(
            f"You have sent too many of these emails. Try again in about {minutes} minute"
            f"{'' if minutes == 1 else 's'}.",
            retry_after_seconds=wait,
        )
