from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class Identity(SQLModel, table=True):
    """An account at a sign-in provider (Google), linked to one user by the provider's subject.

    [P3] Only the name, email, picture and Workspace domain (`hd`) are kept from the provider;
    its tokens are never stored.
    """

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    provider: str = Field(sa_type=String(20))
    subject: str = Field(sa_type=String(255))
    email: str | None = Field(default=None, sa_type=String(254))
    name: str | None = Field(default=None, sa_type=String(200))
    picture: str | None = Field(default=None, sa_type=String(2048))
    hd: str | None = Field(default=None, sa_type=String(253))
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime = Field(sa_type=UTCDateTime)


class SignupTicket(SQLModel, table=True):
    """Proof, held by the browser in its own cookie, that it started a Google sign-up that still
    waits for a birth date [P4]. Only a keyed hash is stored; one ticket per pending account."""

    __tablename__ = "signup_ticket"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Id, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    ticket_hash: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
