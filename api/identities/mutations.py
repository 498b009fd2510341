from __future__ import annotations

from datetime import date

import strawberry

from api.context import Info
from api.errors import Payload, typed_errors
from api.relay import parse_id
from api.users.mutations import ViewerPayload, signed_in_payload
from auth.google import SIGNUP_COOKIE, signup_cookie_path
from services import identities, signups


@strawberry.input
class CompleteSignupInput:
    birth_date: date = strawberry.field(description="Checked against the minimum age [P4].")
    country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2 code.")
    username: str | None = strawberry.field(
        default=None, description="Replaces the proposed username."
    )


@strawberry.input
class UnlinkIdentityInput:
    identity_id: strawberry.ID


@strawberry.type
class UnlinkIdentityPayload(Payload):
    unlinked_id: strawberry.ID | None = None


def _forget_ticket(info: Info) -> None:
    settings = info.context.settings
    info.context.response.delete_cookie(
        SIGNUP_COOKIE,
        path=signup_cookie_path(settings),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Finish a Google sign-up (the browser holds its ticket): "
        "old enough activates the account and signs in; under age deletes "
        "the pending account and keeps nothing [P4]."
    )
    @typed_errors(ViewerPayload)
    async def complete_signup(self, info: Info, input: CompleteSignupInput) -> ViewerPayload:
        try:
            signed_in = await signups.complete_signup(
                info.context.service,
                ticket=info.context.request.cookies.get(SIGNUP_COOKIE),
                birth_date=input.birth_date,
                country=input.country,
                username=input.username,
            )
        except signups.SignupDiscarded:
            _forget_ticket(info)
            raise
        _forget_ticket(info)
        return signed_in_payload(info, signed_in)

    @strawberry.mutation(
        description="Unlink a sign-in identity, as long as another way to "
        "sign in remains (a password or another identity)."
    )
    @typed_errors(UnlinkIdentityPayload)
    async def unlink_identity(
        self, info: Info, input: UnlinkIdentityInput
    ) -> UnlinkIdentityPayload:
        identity_id = parse_id(input.identity_id, "Identity", "identityId")
        await identities.unlink(info.context.service, identity_id=identity_id)
        return UnlinkIdentityPayload(unlinked_id=input.identity_id)
