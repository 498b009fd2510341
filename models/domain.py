from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ColumnElement, ForeignKey, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel, col

from models.base import Id, UTCDateTime, enum_type


class DomainStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    LAPSED = "lapsed"


class Enrollment(StrEnum):
    OFF = "off"
    SUGGEST = "suggest"
    AUTO_JOIN = "auto_join"


class Domain(SQLModel, table=True):
    """An email domain a team claims, proven by a DNS TXT record and re-checked while held."""

    __tablename__ = "domain"
    __table_args__ = (
        UniqueConstraint("team_id", "name"),
        # At most one team holds a domain verified at a time, whatever the application does.
        Index(
            "uq_domain_verified_name",
            "name",
            unique=True,
            sqlite_where=text("status = 'verified'"),
            postgresql_where=text("status = 'verified'"),
        ),
        Index("ix_domain_next_check_at", "next_check_at"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    team_id: int = Field(
        sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"), nullable=False)
    )
    # ASCII (punycode), lowercase, no trailing dot: services/normalize.domain_name.
    name: str = Field(sa_type=String(253))
    # The same name as people read it: email addresses keep their domain in this form.
    unicode_name: str = Field(sa_type=String(253))
    # Published in DNS, so not a secret: kept as is, since admins need to see it again.
    token: str = Field(sa_type=String(64))
    status: DomainStatus = Field(default=DomainStatus.PENDING, sa_type=enum_type(DomainStatus))
    enrollment: Enrollment = Field(default=Enrollment.OFF, sa_type=enum_type(Enrollment))
    added_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verified_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When a worker should look the record up again; None once nothing is left to check.
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Checks that failed in a row (the backoff grows with it); 0 after a success.
    check_failures: int = 0
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_check_ok: bool | None = None
    last_check_message: str | None = Field(default=None, sa_type=String(255))
    # When owners and admins were told of the current run of failed checks; None after a
    # success, so each run of failures is reported once, whichever path saw it first.
    failure_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When an admin last asked for a check (verifyDomain): the cooldown between such checks.
    check_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @staticmethod
    def in_force(now: datetime) -> ColumnElement[bool]:
        """SQL: the domain's verification holds now (its effects apply), whether or not a
        worker has marked it lapsed yet."""
        return (col(Domain.status) == DomainStatus.VERIFIED) & (col(Domain.verified_until) > now)
