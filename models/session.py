from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(sa_type=String(64), unique=True)
    ip_address: str | None = Field(default=None, sa_type=String(45))
    user_agent: str | None = Field(default=None, sa_type=String(512))
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
