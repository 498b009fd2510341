from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, enum_type


class TokenKind(StrEnum):
    # `owp_`: a user's personal access token.
    PERSONAL = "personal"
    # `owi_`: an installed app's access token from the client-credentials grant.
    INSTALLATION = "installation"


class ApiToken(SQLModel, table=True):
    """A bearer token (SPEC 6). Only a keyed hash of it is stored; it is shown once.

    Everything a request needs to authenticate is on this row (and the owner's user row for
    personal tokens), so authenticating costs one indexed lookup.
    """

    __tablename__ = "api_token"
    __table_args__ = (
        Index("ix_api_token_user_id", "user_id"),
        Index("ix_api_token_installation_id", "installation_id"),
    )

    id: int | None = Field(default=None, sa_type=Id, primary_key=True)
    kind: TokenKind = Field(sa_type=enum_type(TokenKind))
    # HMAC-SHA256 of the whole token with the server secret (auth.secrets.token_hash).
    token_hash: str = Field(sa_type=String(64), unique=True)
    # The first characters of the token (prefix and a few random ones), to recognise it in lists.
    hint: str = Field(sa_type=String(16))
    name: str = Field(default="", sa_type=String(100))
    # The owner of a personal token.
    user_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("user_account.id", ondelete="CASCADE"))
    )
    # The installation an app's token acts for, and its team (a token reaches no other team).
    installation_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("installation.id", ondelete="CASCADE"))
    )
    team_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("team.id", ondelete="CASCADE"))
    )
    # Space-separated, sorted scope names from auth.scopes.
    scopes: str = Field(default="", sa_type=String(512))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # Coalesced: written at most once a minute or so, never on every request.
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why: "owner", "uninstalled", "deactivated", "leaked", "secret_rotated", ...
    revoked_reason: str | None = Field(default=None, sa_type=String(32))
