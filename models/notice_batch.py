from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, PrimaryKeyConstraint, String, Text, text
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, enum_type


class NoticeAudience(StrEnum):
    """Who a batch tells, as data written in the transaction that queued it."""

    # Every account the takeover named at announcement.
    NAMED = "named"
    # The takeover's accounts with that outcome.
    MANAGED = "managed"
    SKIPPED = "skipped"
    # The accounts listed for the batch (NoticeBatchAccount): releases and cancellations,
    # whose audience nothing else records.
    LISTED = "listed"


class NoticeBatch(SQLModel, table=True):
    """One notice (in-app and by email) to many users, queued in the transaction of the change
    that caused it and written out per user by the worker (worker.notices), so a takeover of
    100,000 accounts writes one row here instead of 200,000 elsewhere."""

    __tablename__ = "notice_batch"
    __table_args__ = (
        Index(
            "ix_notice_batch_pending",
            "id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    # The notification's kind (takeover.announced, managed_account.released, ...).
    kind: str = Field(sa_type=String(64))
    team_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("team.id", ondelete="SET NULL"))
    )
    takeover_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("takeover.id", ondelete="CASCADE"))
    )
    audience: NoticeAudience = Field(sa_type=enum_type(NoticeAudience))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The email, rendered once; it goes to those of the audience with a verified address.
    email_kind: str = Field(sa_type=String(64))
    subject: str = Field(sa_type=String(255))
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NoticeBatchAccount(SQLModel, table=True):
    """An account a LISTED batch tells."""

    __tablename__ = "notice_batch_account"
    __table_args__ = (PrimaryKeyConstraint("batch_id", "user_id"),)

    batch_id: int = Field(
        sa_column=Column(Id, ForeignKey("notice_batch.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(
        sa_column=Column(Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    )
