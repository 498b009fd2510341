"""What follows when an account's email address becomes verified.

Every path that verifies an address (the emailed link, an accepted invitation, later a sign-in
provider asserting a verified email) goes through `email_verified`, in the caller's transaction,
so whatever depends on verified addresses reacts in one place.
"""

from __future__ import annotations

from models import User
from services import audit, enrollment
from services.context import ServiceContext


async def email_verified(ctx: ServiceContext, user: User, *, via: str) -> None:
    now = ctx.now()
    user.email_verified_at = now
    user.updated_at = now
    audit.email_verified(ctx, user=user, via=via)
    # [SPEC 2] a team holding the address's domain with auto-join takes the user in.
    await enrollment.enroll_verified_email(ctx, user)
