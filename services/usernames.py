"""Usernames proposed for accounts made without one (Google sign-up): from the email's local
part, made valid by `normalize.username`'s rules and unique ignoring case."""

from __future__ import annotations

import re
import secrets
import unicodedata

from sqlalchemy import exists, select
from sqlmodel import col

from models import User
from services import normalize
from services.context import ServiceContext

MAX = 39
NUMBERED = 50


def base_from_email(email: str) -> str:
    """`Jürgen.Müller+news@x` → `jurgen-muller`: ASCII, lowercase, runs of other characters
    as one '-', at least 3 characters, never a reserved name."""
    local = email.rpartition("@")[0].split("+", 1)[0] or email
    ascii_text = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-_")[:MAX].strip("-_")
    if len(base) < 3 or base in normalize.RESERVED_USERNAMES:
        return f"{base}-user" if base else "user"
    return base


async def propose(ctx: ServiceContext, email: str) -> str:
    """The base, or the base with the first free number (`ada-2`), in one query; a random
    suffix when those are all taken."""
    base = base_from_email(email)
    candidates = [base] + [_numbered(base, str(n)) for n in range(2, NUMBERED + 1)]
    # Usernames are stored lowercase, so the unique index answers this.
    taken = set(
        (
            await ctx.db.execute(
                select(col(User.username)).where(col(User.username).in_(candidates))
            )
        ).scalars()
    )
    for candidate in candidates:
        if candidate not in taken:
            return normalize.username(candidate)
    return normalize.username(_numbered(base, secrets.token_hex(3)))


async def available(ctx: ServiceContext, username: str) -> bool:
    return not await ctx.db.scalar(select(exists().where(col(User.username) == username)))


def _numbered(base: str, suffix: str) -> str:
    return f"{base[: MAX - len(suffix) - 1].rstrip('-_')}-{suffix}"
