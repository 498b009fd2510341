"""What every use case receives: the request's session, its actor, settings and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.actor import Actor
from core.clock import Clock
from core.errors import Conflict
from core.settings import Settings


@dataclass(slots=True)
class ServiceContext:
    db: AsyncSession
    actor: Actor
    settings: Settings
    clock: Clock
    side_engine: AsyncEngine | None = None

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def engine(self) -> AsyncEngine:
        """For writes that must outlive the request's transaction (a failed sign-in's count and
        audit event). When the app provides a side engine (a small pool of its own), a request
        never waits for a second connection from the pool it already holds one of. Use it
        before the request writes anything: on SQLite the request's write lock would block it."""
        if self.side_engine is not None:
            return self.side_engine
        bind = self.db.bind
        assert isinstance(bind, AsyncEngine)
        return bind


async def flush_or_conflict(ctx: ServiceContext, message: str, *, field: str | None = None) -> None:
    """Flush, turning a unique-constraint violation into CONFLICT: the race that the reads
    before it cannot see (the same row written twice at once) is decided by the database."""
    try:
        await ctx.db.flush()
    except IntegrityError:
        raise Conflict(message, field=field) from None
