from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class App(SQLModel, table=True):
    """A partner's integration, registered by a user; it authenticates with client credentials."""

    __tablename__ = "app"

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    owner_id: int | None = Field(
        default=None,
        sa_column=Column(Id, ForeignKey("user_account.id", ondelete="CASCADE"), index=True),
    )
    name: str = Field(sa_type=String(100))
    homepage_url: str | None = Field(default=None, sa_type=String(2048))
    # Space-separated, sorted scope names the app asks teams to grant.
    requested_scopes: str = Field(default="", sa_type=String(512))
    client_id: str = Field(sa_type=String(64), unique=True)
    # Keyed hash of the client secret (shown once, at registration or rotation).
    client_secret_hash: str = Field(sa_type=String(64))
    created_at: datetime = Field(sa_type=UTCDateTime)
    secret_rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Installation(SQLModel, table=True):
    """An app installed into a team by one of its owners or admins, with the scopes granted."""

    __tablename__ = "installation"
    __table_args__ = (
        # One live installation of an app per team.
        Index(
            "uq_installation_live_app_team",
            "app_id",
            "team_id",
            unique=True,
            sqlite_where=text("uninstalled_at IS NULL"),
            postgresql_where=text("uninstalled_at IS NULL"),
        ),
        Index("ix_installation_team_id", "team_id"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    app_id: int = Field(
        sa_column=Column(Id, ForeignKey("app.id", ondelete="CASCADE"), nullable=False)
    )
    team_id: int = Field(
        sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"), nullable=False)
    )
    # Space-separated, sorted: a subset of the app's requested scopes.
    scopes: str = Field(default="", sa_type=String(512))
    installed_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    installed_at: datetime = Field(sa_type=UTCDateTime)
    uninstalled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uninstalled_by_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
