from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class AuditEvent(SQLModel, table=True):
    """Append-only record of an administrative or security-relevant action."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_team_id_id", "team_id", "id"),
        UniqueConstraint("chain_key", "chain_seq"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    action: str = Field(sa_type=String(64))
    actor_kind: str = Field(sa_type=String(16))
    # Plain ids, no foreign keys: they are hashed into the chain, so a cascade rewriting them
    # when a user or team goes would break it, and the trail must outlive what it describes.
    actor_user_id: int | None = Field(default=None, sa_type=Id, index=True)
    team_id: int | None = Field(default=None, sa_type=Id)
    target_type: str | None = Field(default=None, sa_type=String(32))
    target_id: int | None = Field(default=None, sa_type=Id)
    ip_address: str | None = Field(default=None, sa_type=String(45))
    user_agent: str | None = Field(default=None, sa_type=String(512))
    reason: str | None = Field(default=None, sa_type=String(255))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Hash chain (SPEC 9): each event hashes its predecessor in the same chain (one per team,
    # or per user for events outside teams), so a changed or deleted row is detectable.
    chain_key: str = Field(default="", sa_type=String(40))
    chain_seq: int = Field(default=0, sa_type=Id)
    prev_hash: str = Field(default="", sa_type=String(64))
    hash: str = Field(default="", sa_type=String(64))


class AuditChain(SQLModel, table=True):
    """The head of one hash chain; appending locks this row so a chain never forks."""

    __tablename__ = "audit_chain"

    key: str = Field(sa_type=String(40), primary_key=True)
    seq: int = Field(default=0, sa_type=Id)
    last_hash: str = Field(default="", sa_type=String(64))
