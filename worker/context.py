from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a sweep needs: it opens its own sessions, one transaction per batch."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    clock: Clock
