from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class Notification(SQLModel, table=True):
    """An in-app notice to one user (takeover announced or effective, release, decisions)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_id_id", "user_id", "id"),)

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_type=String(64))
    team_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("team.id", ondelete="SET NULL"))
    )
    # What the notice says, as data (team name, dates, domain), rendered by clients.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
