"""What every use case receives: the request's session, its actor, settings and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.actor import Actor
from core.clock import Clock
from core.settings import Settings


@dataclass(slots=True)
class ServiceContext:
    db: AsyncSession
    actor: Actor
    settings: Settings
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def engine(self) -> AsyncEngine:
        bind = self.db.bind
        assert isinstance(bind, AsyncEngine)
        return bind
