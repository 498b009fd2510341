from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import to_global_id
from models import Identity as IdentityRow


@strawberry.type(
    description="An account at a sign-in provider (Google) linked to the viewer. "
    "Only these fields are kept from the provider [P3]."
)
class Identity:
    id: strawberry.ID
    provider: str = strawberry.field(description="`google`.")
    email: str | None
    name: str | None
    picture: str | None
    hd: str | None = strawberry.field(description="The Google Workspace domain, if any.")
    linked_at: datetime
    last_used_at: datetime

    @classmethod
    def from_row(cls, row: IdentityRow) -> Identity:
        return cls(
            id=to_global_id("Identity", row.id),  # type: ignore[arg-type]
            provider=row.provider,
            email=row.email,
            name=row.name,
            picture=row.picture,
            hd=row.hd,
            linked_at=row.created_at,
            last_used_at=row.last_used_at,
        )
