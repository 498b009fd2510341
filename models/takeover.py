from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, String, text
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, enum_type


class TakeoverStatus(StrEnum):
    ANNOUNCED = "announced"
    EFFECTIVE = "effective"
    CANCELLED = "cancelled"


class TakeoverOutcome(StrEnum):
    # Announced and waiting for the end of the notice period.
    PENDING = "pending"
    # The account became managed by the team.
    MANAGED = "managed"
    # The account left the domain (or stopped qualifying) before the takeover took effect [P6].
    SKIPPED = "skipped"
    # The takeover was cancelled before it took effect.
    CANCELLED = "cancelled"


class Takeover(SQLModel, table=True):
    """A team's claim over the existing accounts of one of its verified domains (SPEC 5)."""

    __tablename__ = "takeover"
    __table_args__ = (
        # One announced takeover per domain name at a time, whatever the application does:
        # a concurrent double announce produces one takeover.
        Index(
            "uq_takeover_announced_domain",
            "domain_name",
            unique=True,
            sqlite_where=text("status = 'announced'"),
            postgresql_where=text("status = 'announced'"),
        ),
        Index("ix_takeover_status_effective_at", "status", "effective_at"),
        Index("ix_takeover_team_id_id", "team_id", "id"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    team_id: int = Field(
        sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"), nullable=False)
    )
    domain_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("domain.id", ondelete="SET NULL"))
    )
    # Kept as text: the record outlives the domain row.
    domain_name: str = Field(sa_type=String(253))
    status: TakeoverStatus = Field(
        default=TakeoverStatus.ANNOUNCED, sa_type=enum_type(TakeoverStatus)
    )
    notice_days: int
    announced_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    announced_at: datetime = Field(sa_type=UTCDateTime)
    # When the notice period ends and the accounts become managed.
    effective_at: datetime = Field(sa_type=UTCDateTime)
    # When a worker (or announce with a notice of 0 days) actually applied it.
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    affected_count: int = 0
    managed_count: int = 0
    skipped_count: int = 0


class TakeoverAccount(SQLModel, table=True):
    """One account named by a takeover at announcement, and what became of it."""

    __tablename__ = "takeover_account"
    __table_args__ = (
        PrimaryKeyConstraint("takeover_id", "user_id"),
        Index("ix_takeover_account_user_id", "user_id"),
    )

    # Plain ids, no foreign keys, like the audit trail: this is the record of what a takeover
    # did and must outlive what it names, and a takeover claims its accounts in one statement
    # (UPDATE user_account ... RETURNING feeding this INSERT) where a per-row foreign-key check
    # against the rows being updated cost more than the update itself (bench/takeover.py: 1.88x
    # the bare UPDATE with the keys, 1.22x without). Whoever deletes a takeover or purges an
    # account deletes or erases its rows here too (the [P9] purge erases `email`).
    takeover_id: int = Field(sa_type=Id, nullable=False)
    user_id: int = Field(sa_type=Id, nullable=False)
    # The address that qualified the account at announcement.
    email: str = Field(sa_type=String(254))
    outcome: TakeoverOutcome = Field(
        default=TakeoverOutcome.PENDING, sa_type=enum_type(TakeoverOutcome)
    )
