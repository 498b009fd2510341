"""Who is making a request, and from where."""

from __future__ import annotations

from dataclasses import dataclass

from models import User


@dataclass(frozen=True, slots=True)
class Origin:
    """Connection facts recorded on sessions and audit events."""

    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    user: User | None
    origin: Origin
    session_id: int | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def is_staff(self) -> bool:
        return bool(self.user and self.user.is_staff)

    @classmethod
    def anonymous(cls, origin: Origin | None = None) -> Actor:
        return cls(user=None, origin=origin or Origin())

    @classmethod
    def system(cls) -> Actor:
        return cls(user=None, origin=Origin(user_agent="orgward-worker"))
