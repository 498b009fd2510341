"""Personal access tokens: created and revoked from a signed-in session only."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.errors import Payload, typed_errors
from api.relay import parse_id
from api.tokens.types import PersonalAccessToken
from services import tokens


@strawberry.input
class CreatePersonalAccessTokenInput:
    name: str
    scopes: list[str] = strawberry.field(
        description="Scopes from the catalog (e.g. teams:read); at least one."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working; at most a year ahead."
    )
    expires_in_days: int | None = strawberry.field(
        default=None, description="Or: how many days it works (1-365). Give exactly one."
    )


@strawberry.input
class RevokePersonalAccessTokenInput:
    token_id: strawberry.ID


@strawberry.type
class CreatePersonalAccessTokenPayload(Payload):
    personal_access_token: PersonalAccessToken | None = None
    token: str | None = strawberry.field(
        default=None, description="The secret, shown this once: store it now."
    )


@strawberry.type
class PersonalAccessTokenPayload(Payload):
    personal_access_token: PersonalAccessToken | None = None


@strawberry.type
class TokenMutations:
    @strawberry.mutation(
        description="Create a personal access token (signed-in session only, never a token)."
    )
    @typed_errors(CreatePersonalAccessTokenPayload)
    async def create_personal_access_token(
        self, info: Info, input: CreatePersonalAccessTokenInput
    ) -> CreatePersonalAccessTokenPayload:
        created = await tokens.create_personal_token(
            info.context.service,
            name=input.name,
            scope_names=input.scopes,
            expires_at=input.expires_at,
            expires_in_days=input.expires_in_days,
        )
        return CreatePersonalAccessTokenPayload(
            personal_access_token=PersonalAccessToken.from_view(created.view),
            token=created.token,
        )

    @strawberry.mutation(description="Revoke one of your personal access tokens, at once.")
    @typed_errors(PersonalAccessTokenPayload)
    async def revoke_personal_access_token(
        self, info: Info, input: RevokePersonalAccessTokenInput
    ) -> PersonalAccessTokenPayload:
        view = await tokens.revoke_personal_token(
            info.context.service,
            token_id=parse_id(input.token_id, "PersonalAccessToken", "tokenId"),
        )
        return PersonalAccessTokenPayload(personal_access_token=PersonalAccessToken.from_view(view))
