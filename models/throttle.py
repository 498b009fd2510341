from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


class Throttle(SQLModel, table=True):
    """Failed-attempt counter for one key (an account or an address), shared by replicas."""

    __tablename__ = "throttle"

    key: str = Field(sa_type=String(300), primary_key=True)
    failures: int = 0
    window_started_at: datetime = Field(sa_type=UTCDateTime)
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
