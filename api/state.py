from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.token_rate import Leases
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
    # Per-token rate counters, when ORGWARD_REDIS_URL is set (else they live in the database).
    redis: Redis | None = None
    # This replica's leased shares of each token's rate limit.
    token_leases: Leases = field(default_factory=Leases)
