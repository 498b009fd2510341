"""Who is making a request, and from where."""

from __future__ import annotations

from dataclasses import dataclass

from auth.scopes import Scope
from models import TokenKind, User


@dataclass(frozen=True, slots=True)
class Origin:
    """Connection facts recorded on sessions and audit events."""

    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a bearer token brings: its scopes and, for an app's token, its one team.

    A personal token acts for its owner (Actor.user) within `scopes`. An installation token
    has no user: it acts inside `team_id` as that team's admin (never an owner), within
    `scopes` (auth.policy decides all of this)."""

    token_id: int
    kind: TokenKind
    scopes: frozenset[Scope]
    team_id: int | None = None
    installation_id: int | None = None

    @property
    def is_installation(self) -> bool:
        return self.kind is TokenKind.INSTALLATION


@dataclass(frozen=True, slots=True)
class Actor:
    user: User | None
    origin: Origin
    session_id: int | None = None
    # None for a cookie session (all of the user's power) and for anonymous or system actors.
    grant: TokenGrant | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def is_staff(self) -> bool:
        # Staff powers need a signed-in session (with its second factor), never a token.
        return bool(self.user and self.user.is_staff and self.grant is None)

    @property
    def installation(self) -> TokenGrant | None:
        """The grant of an installed app's token, else None."""
        grant = self.grant
        return grant if grant is not None and grant.is_installation else None

    @classmethod
    def anonymous(cls, origin: Origin | None = None) -> Actor:
        return cls(user=None, origin=origin or Origin())

    @classmethod
    def system(cls) -> Actor:
        return cls(user=None, origin=Origin(user_agent="orgward-worker"))
