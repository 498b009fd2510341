from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Connection, Node, to_global_id
from services.tokens import TokenView


@strawberry.type(
    description="One of the viewer's personal access tokens. The secret itself is shown only "
    "once, in createPersonalAccessToken's payload."
)
class PersonalAccessToken(Node):
    id: strawberry.ID
    name: str
    scopes: list[str] = strawberry.field(description="Granted scopes, from the catalog.")
    hint: str = strawberry.field(description="The token's first characters, to recognise it.")
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (to within five minutes)."
    )
    revoked_at: datetime | None

    @classmethod
    def from_view(cls, view: TokenView) -> PersonalAccessToken:
        return cls(
            id=to_global_id("PersonalAccessToken", view.id),
            name=view.name,
            scopes=list(view.scopes),
            hint=view.hint,
            created_at=view.created_at,
            expires_at=view.expires_at,
            last_used_at=view.last_used_at,
            revoked_at=view.revoked_at,
        )


@strawberry.type
class PersonalAccessTokenConnection(Connection[PersonalAccessToken]):
    pass
