from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class EmailVerification(SQLModel, table=True):
    """A single-use, expiring proof that the user controls `email`."""

    __tablename__ = "email_verification"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    email: str = Field(sa_type=String(254))
    token_hash: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
