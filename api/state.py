from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything a running app shares between requests."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    # Writes outside the request's transaction (sign-in limits, failed-attempt audit events).
    side_engine: AsyncEngine | None = None
