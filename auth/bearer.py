"""Bearer authentication for API clients (`Authorization: Bearer <token>`).

Bearer requests never use the session cookie, so they are exempt from the cookie CSRF rule
and may send queries over GET. Token kinds are recognised by auth.token_format; no issued
token kind is stored yet (personal and installation tokens come with SPEC 6), so every
well-formed token is unknown and refused like a revoked one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth import token_format
from auth.actor import Actor, Origin
from core.settings import Settings


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


def parse_authorization(header: str) -> str:
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise BearerError("invalid_request", "Use the Authorization: Bearer <token> scheme.")
    return credentials.strip()


async def authenticate(
    db: AsyncSession, settings: Settings, *, token: str, origin: Origin, now: datetime
) -> Actor:
    kind = token_format.parse(token)
    if kind is None:
        # Refused before any database work: a mistyped or foreign token.
        raise BearerError("invalid_token", "The token is malformed or its checksum is wrong.")
    raise BearerError("invalid_token", "The token is unknown, expired or revoked.")
