from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, enum_type


class EmailChangeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # Withdrawn by the user, or void because the account stopped being managed.
    CANCELLED = "cancelled"


class EmailChangeRequest(SQLModel, table=True):
    """A managed user's wish to change their email, decided by an admin of the managing team."""

    __tablename__ = "email_change_request"
    __table_args__ = (
        # At most one open request per user.
        Index(
            "uq_email_change_request_pending_user",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_email_change_request_team_id_status", "team_id", "status"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    )
    team_id: int = Field(
        sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"), nullable=False)
    )
    # Normalized like User.email.
    new_email: str = Field(sa_type=String(254))
    status: EmailChangeStatus = Field(
        default=EmailChangeStatus.PENDING, sa_type=enum_type(EmailChangeStatus)
    )
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    # Optional note from the admin, shown to the user.
    reason: str | None = Field(default=None, sa_type=String(255))
