from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, enum_type


class UserStatus(StrEnum):
    # A Google sign-up waiting for its birth date [P4]: it cannot sign in, nothing sees it.
    PENDING = "pending"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    PENDING_DELETION = "pending_deletion"
    DELETED = "deleted"


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    # Stored lowercase: usernames are unique ignoring case.
    username: str = Field(sa_type=String(39), unique=True)
    display_name: str = Field(default="", sa_type=String(100))
    # Stored normalized (lowercase); unique across accounts.
    email: str = Field(sa_type=String(254), unique=True)
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email_public: bool = False
    avatar_url: str | None = Field(default=None, sa_type=String(2048))
    company: str | None = Field(default=None, sa_type=String(100))
    job_title: str | None = Field(default=None, sa_type=String(100))
    country: str | None = Field(default=None, sa_type=String(2))
    locale: str | None = Field(default=None, sa_type=String(35))
    time_zone: str | None = Field(default=None, sa_type=String(64))
    birth_date: date | None = None
    password_hash: str | None = Field(default=None, sa_type=String(255))
    status: UserStatus = Field(default=UserStatus.ACTIVE, sa_type=enum_type(UserStatus), index=True)
    managed_by_team_id: int | None = Field(
        default=None,
        sa_column=Column(Id, ForeignKey("team.id", ondelete="SET NULL"), index=True),
    )
    # Since when the managing team manages the account, and through which of its domains.
    managed_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    managed_domain: str | None = Field(default=None, sa_type=String(253))
    is_staff: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
