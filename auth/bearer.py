"""Bearer authentication for API clients (`Authorization: Bearer <token>`).

Bearer requests never use the session cookie, so they are exempt from the cookie CSRF rule
and may send queries over GET (never mutations). A token is checked offline first (prefix and
checksum: a mistyped token costs no database work), then found by its keyed hash in one
indexed lookup that brings its owner (personal tokens) and installation (app tokens) along.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import col

from auth import scopes, token_format
from auth.actor import Actor, Origin, TokenGrant
from auth.secrets import token_hash
from core.hot_reads import Database, HotRead, columns_of, loaded
from core.settings import Settings
from models import ApiToken, Installation, TokenKind, User, UserStatus


class BearerError(Exception):
    """A bearer credential that does not authenticate; answered with 401."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description

    @property
    def challenge(self) -> str:
        return (
            f'Bearer realm="orgward", error="{self.error}", error_description="{self.description}"'
        )


@dataclass(frozen=True, slots=True)
class RevokedToken:
    """A revoked token that was presented anyway: worth an audit event (SPEC 9)."""

    token_id: int
    kind: TokenKind
    user_id: int | None
    team_id: int | None


class RevokedTokenUsed(BearerError):
    def __init__(self, token: RevokedToken) -> None:
        super().__init__("invalid_token", UNUSABLE)
        self.token = token


@dataclass(frozen=True, slots=True)
class Authenticated:
    actor: Actor
    token_id: int
    last_used_at: datetime | None


# One answer for unknown, expired, revoked and disabled: a caller learns nothing more.
UNUSABLE = "The token is unknown, expired or revoked."

_COLUMNS: tuple[Any, ...] = (
    col(ApiToken.id),
    col(ApiToken.kind),
    col(ApiToken.scopes),
    col(ApiToken.team_id),
    col(ApiToken.installation_id),
    col(ApiToken.user_id),
    col(ApiToken.expires_at),
    col(ApiToken.revoked_at),
    col(ApiToken.last_used_at),
    col(Installation.scopes).label("installation_scopes"),
    col(Installation.uninstalled_at),
    col(Installation.team_id).label("installation_team_id"),
)


# Every bearer request runs this: one indexed lookup, straight to the driver.
FIND_TOKEN = HotRead(
    select(*_COLUMNS, *columns_of(User))
    .select_from(ApiToken)
    .outerjoin(User, col(User.id) == col(ApiToken.user_id))
    .outerjoin(Installation, col(Installation.id) == col(ApiToken.installation_id))
    .where(col(ApiToken.token_hash) == bindparam("token_hash"))
)


def parse_authorization(header: str) -> str:
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise BearerError("invalid_request", "Use the Authorization: Bearer <token> scheme.")
    return credentials.strip()


async def authenticate(
    db: Database, settings: Settings, *, token: str, origin: Origin, now: datetime
) -> Authenticated:
    kind = token_format.parse(token)
    if kind is None:
        # Refused before any database work: a mistyped or foreign token.
        raise BearerError("invalid_token", "The token is malformed or its checksum is wrong.")
    row = await FIND_TOKEN.first(db, token_hash=token_hash(settings.secret_key, token))
    if row is None:
        raise BearerError("invalid_token", UNUSABLE)
    # The token's columns by name, as _COLUMNS has them; its user's follow (the user's id
    # renamed, a duplicate name: tests/tokens/test_bearer_http.py).
    found = row
    if found.kind != kind:
        raise BearerError("invalid_token", UNUSABLE)
    if found.revoked_at is not None:
        raise RevokedTokenUsed(RevokedToken(found.id, kind, found.user_id, found.team_id))
    if found.expires_at <= now:
        raise BearerError("invalid_token", UNUSABLE)
    granted = scopes.from_column(found.scopes)
    user_values = row[len(_COLUMNS) :]
    user: User | None = None
    if user_values[0] is not None:
        user = loaded(db, User, user_values)
    if kind is TokenKind.PERSONAL:
        # Deactivated, pending deletion, deleted or not yet signed up: the token is dead too.
        if user is None or user.status != UserStatus.ACTIVE:
            raise BearerError("invalid_token", UNUSABLE)
    else:
        if found.team_id is None or found.installation_id is None:
            raise BearerError("invalid_token", UNUSABLE)
        if found.uninstalled_at is not None or found.installation_team_id != found.team_id:
            raise BearerError("invalid_token", UNUSABLE)
        # The installation's grant bounds its tokens, should it ever shrink after issue.
        granted &= scopes.from_column(found.installation_scopes or "")
        user = None
    grant = TokenGrant(
        token_id=found.id,
        kind=kind,
        scopes=scopes.with_implied(granted),
        team_id=found.team_id if kind is TokenKind.INSTALLATION else None,
        installation_id=found.installation_id if kind is TokenKind.INSTALLATION else None,
    )
    return Authenticated(
        actor=Actor(user=user, origin=origin, grant=grant),
        token_id=found.id,
        last_used_at=found.last_used_at,
    )
