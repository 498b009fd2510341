from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, enum_type


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    MEMBER = "member"


class Team(SQLModel, table=True):
    __tablename__ = "team"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    slug: str = Field(sa_type=String(39), unique=True)
    name: str = Field(sa_type=String(100))
    # Notice period, in days (0-30), before an announced takeover takes effect (SPEC 5).
    takeover_notice_days: int = 7
    # How long a deleted managed account is kept before it is purged (SPEC 8, P9).
    managed_retention_days: int = 15
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Member(SQLModel, table=True):
    __tablename__ = "member"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        # Member pages are keyset scans of one team in id order.
        Index("ix_member_team_id_id", "team_id", "id"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    team_id: int = Field(
        sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(
        sa_column=Column(
            Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    role: Role = Field(sa_type=enum_type(Role))
    created_at: datetime = Field(sa_type=UTCDateTime)


class Invitation(SQLModel, table=True):
    """An invitation to join a team, sent by email; the token is single-use."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    team_id: int = Field(
        sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    email: str = Field(sa_type=String(254))
    role: Role = Field(sa_type=enum_type(Role))
    token_hash: str = Field(sa_type=String(64), unique=True)
    invited_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
