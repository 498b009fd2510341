from __future__ import annotations

from datetime import date

import strawberry

from api.context import Info
from api.errors import Payload, typed_errors
from api.managed.types import EmailChangeRequest
from api.relay import parse_id
from api.viewer import Viewer
from auth.actor import Actor
from services import accounts
from services.accounts import SignedIn, SignUpInput
from services.email_changes import EmailChangeView


@strawberry.input(name="SignUpInput")
class SignUpInputType:
    username: str
    email: str
    password: str
    birth_date: date = strawberry.field(description="Checked against the minimum age [P4].")
    country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2 code.")
    display_name: str | None = None


@strawberry.input
class SignInInput:
    identifier: str = strawberry.field(description="Username or email address.")
    password: str


@strawberry.input
class VerifyEmailInput:
    token: str


@strawberry.input
class UpdateProfileInput:
    display_name: str | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    job_title: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    email_public: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Show your email to everyone [P1]."
    )


@strawberry.input
class ChangeEmailInput:
    email: str
    password: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.input
class RevokeSessionInput:
    session_id: strawberry.ID


@strawberry.type
class ViewerPayload(Payload):
    viewer: Viewer | None = None


@strawberry.type
class DonePayload(Payload):
    ok: bool = False


@strawberry.type
class ChangeEmailPayload(ViewerPayload):
    email_change_request: EmailChangeRequest | None = strawberry.field(
        default=None,
        description="Set when the account is managed: the change was filed as a request for "
        "the managing team to approve, and the email is unchanged until then.",
    )


def signed_in_payload(info: Info, signed_in: SignedIn) -> ViewerPayload:
    context = info.context
    context.act_as(
        Actor(user=signed_in.user, origin=context.actor.origin, session_id=signed_in.session.id)
    )
    context.new_session_token = signed_in.token
    return ViewerPayload(viewer=Viewer.from_row(signed_in.user))


@strawberry.type
class UserMutations:
    @strawberry.mutation(
        description="Create an account and sign in. Under-age sign-ups are "
        "refused and nothing is stored [P4]."
    )
    @typed_errors(ViewerPayload)
    async def sign_up(self, info: Info, input: SignUpInputType) -> ViewerPayload:
        signed_in = await accounts.sign_up(
            info.context.service,
            SignUpInput(
                username=input.username,
                email=input.email,
                password=input.password,
                birth_date=input.birth_date,
                country=input.country,
                display_name=input.display_name,
            ),
        )
        return signed_in_payload(info, signed_in)

    @strawberry.mutation(description="Sign in with username or email and password.")
    @typed_errors(ViewerPayload)
    async def sign_in(self, info: Info, input: SignInInput) -> ViewerPayload:
        signed_in = await accounts.sign_in(
            info.context.service, identifier=input.identifier, password=input.password
        )
        return signed_in_payload(info, signed_in)

    @strawberry.mutation(description="End the current session.")
    @typed_errors(DonePayload)
    async def sign_out(self, info: Info) -> DonePayload:
        await accounts.sign_out(info.context.service)
        info.context.new_session_token = ""
        return DonePayload(ok=True)

    @strawberry.mutation(description="Confirm an email address with the emailed token.")
    @typed_errors(DonePayload)
    async def verify_email(self, info: Info, input: VerifyEmailInput) -> DonePayload:
        await accounts.verify_email(info.context.service, token=input.token)
        return DonePayload(ok=True)

    @strawberry.mutation(description="Send a new verification link to the viewer's email.")
    @typed_errors(DonePayload)
    async def resend_verification_email(self, info: Info) -> DonePayload:
        await accounts.resend_verification(info.context.service)
        return DonePayload(ok=True)

    @strawberry.mutation(description="Change profile fields; omitted fields stay as they are.")
    @typed_errors(ViewerPayload)
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> ViewerPayload:
        changes = {
            name: value for name, value in vars(input).items() if value is not strawberry.UNSET
        }
        user = await accounts.update_profile(info.context.service, changes)
        return ViewerPayload(viewer=Viewer.from_row(user))

    @strawberry.mutation(
        description="Change the email address; the new one must be verified. For a managed "
        "account the change is filed as a request for the managing team to approve."
    )
    @typed_errors(ChangeEmailPayload)
    async def change_email(self, info: Info, input: ChangeEmailInput) -> ChangeEmailPayload:
        change = await accounts.change_email(
            info.context.service, email=input.email, password=input.password
        )
        request = change.request
        return ChangeEmailPayload(
            viewer=Viewer.from_row(change.user),
            email_change_request=(
                EmailChangeRequest.from_view(EmailChangeView.of(request)) if request else None
            ),
        )

    @strawberry.mutation(description="Change the password; other sessions are signed out.")
    @typed_errors(ViewerPayload)
    async def change_password(self, info: Info, input: ChangePasswordInput) -> ViewerPayload:
        user = await accounts.change_password(
            info.context.service, current=input.current_password, new=input.new_password
        )
        return ViewerPayload(viewer=Viewer.from_row(user))

    @strawberry.mutation(description="Sign out one of the viewer's sessions.")
    @typed_errors(DonePayload)
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> DonePayload:
        session_id = parse_id(input.session_id, "Session", "sessionId")
        await accounts.revoke_session(info.context.service, session_id=session_id)
        if session_id == info.context.actor.session_id:
            info.context.new_session_token = ""
        return DonePayload(ok=True)
