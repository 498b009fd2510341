from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry

from api.relay import Node, to_global_id
from models import UserSession
from services.users import UserView


@strawberry.type(description="A user as the viewer may see them.")
class User(Node):
    id: strawberry.ID
    username: str = strawberry.field(description="Public and unique, ignoring case.")
    display_name: str
    email: str | None = strawberry.field(
        description="Null unless the viewer may see it: the user themself, or anyone once the "
        "user made it public [P1]."
    )
    email_verified: bool
    avatar_url: str | None
    company: str | None
    job_title: str | None
    created_at: datetime

    @classmethod
    def from_view(cls, view: UserView) -> User:
        return cls(
            id=to_global_id("User", view.id),
            username=view.username,
            display_name=view.display_name,
            email=view.email,
            email_verified=view.email_verified,
            avatar_url=view.avatar_url,
            company=view.company,
            job_title=view.job_title,
            # None only on a page whose selection shows no timestamp (api/selection.py).
            created_at=cast(datetime, view.created_at),
        )


@strawberry.type(description="A signed-in browser or device of the viewer.")
class Session(Node):
    id: strawberry.ID
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool = strawberry.field(description="Whether this request uses the session.")

    @classmethod
    def from_row(cls, row: UserSession, current_id: int | None) -> Session:
        return cls(
            id=to_global_id("Session", row.id),  # type: ignore[arg-type]
            ip_address=row.ip_address,
            user_agent=row.user_agent,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            current=row.id == current_id,
        )
