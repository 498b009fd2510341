from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class OutboxMessage(SQLModel, table=True):
    """An email written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_pending", "due_at", "sent_at", "failed_at"),)

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    kind: str = Field(sa_type=String(64))
    to_address: str = Field(sa_type=String(254))
    reply_to: str | None = Field(default=None, sa_type=String(254))
    subject: str = Field(sa_type=String(255))
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
