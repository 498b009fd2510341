"""What a managing team's owners and admins do to the accounts it manages, and a managed user's
own email-change request (SPEC 5)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import Payload, typed_errors
from api.managed.types import EmailChangeRequest, ManagedAccount
from api.relay import parse_id
from api.teams.types import Team
from services import email_changes, managed_accounts


@strawberry.input
class DeactivateUserInput:
    user_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Shown to the user.")


@strawberry.input
class ManagedUserInput:
    user_id: strawberry.ID


@strawberry.input
class SetManagedUserDisplayNameInput:
    user_id: strawberry.ID
    display_name: str | None = strawberry.field(description="Empty or null: the username.")


@strawberry.input
class UpdateManagedAccountSettingsInput:
    team_id: strawberry.ID
    takeover_notice_days: int | None = strawberry.field(
        default=None, description="Days between announcing a takeover and its effect (0-30)."
    )
    managed_retention_days: int | None = strawberry.field(
        default=None,
        description="Days a deleted managed account is kept, restorable, before it is purged "
        "(1-3650).",
    )


@strawberry.input
class DecideEmailChangeInput:
    request_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Shown to the user.")


@strawberry.input
class EmailChangeRequestIdInput:
    request_id: strawberry.ID


@strawberry.type
class ManagedAccountPayload(Payload):
    account: ManagedAccount | None = None


@strawberry.type
class EmailChangeRequestPayload(Payload):
    email_change_request: EmailChangeRequest | None = None


@strawberry.type
class ManagedAccountSettingsPayload(Payload):
    team: Team | None = None


def _user_id(value: strawberry.ID) -> int:
    return parse_id(value, "User", "userId")


def _request_id(value: strawberry.ID) -> int:
    return parse_id(value, "EmailChangeRequest", "requestId")


@strawberry.type
class ManagedAccountMutations:
    @strawberry.mutation(
        description="Terminate a managed user's access: deactivated, every session and access "
        "token revoked at once; sign-in is refused until reactivation."
    )
    @typed_errors(ManagedAccountPayload)
    async def deactivate_user(
        self, info: Info, input: DeactivateUserInput
    ) -> ManagedAccountPayload:
        view = await managed_accounts.deactivate(
            info.context.service, user_id=_user_id(input.user_id), reason=input.reason
        )
        return ManagedAccountPayload(account=ManagedAccount.from_view(view))

    @strawberry.mutation(description="Let a deactivated managed user sign in again.")
    @typed_errors(ManagedAccountPayload)
    async def reactivate_user(self, info: Info, input: ManagedUserInput) -> ManagedAccountPayload:
        view = await managed_accounts.reactivate(
            info.context.service, user_id=_user_id(input.user_id)
        )
        return ManagedAccountPayload(account=ManagedAccount.from_view(view))

    @strawberry.mutation(
        description="End every session of a managed user (their access tokens stay; "
        "deactivateUser revokes those too)."
    )
    @typed_errors(ManagedAccountPayload)
    async def sign_out_everywhere(
        self, info: Info, input: ManagedUserInput
    ) -> ManagedAccountPayload:
        view = await managed_accounts.sign_out_everywhere(
            info.context.service, user_id=_user_id(input.user_id)
        )
        return ManagedAccountPayload(account=ManagedAccount.from_view(view))

    @strawberry.mutation(description="Change a managed user's display name.")
    @typed_errors(ManagedAccountPayload)
    async def set_managed_user_display_name(
        self, info: Info, input: SetManagedUserDisplayNameInput
    ) -> ManagedAccountPayload:
        view = await managed_accounts.set_display_name(
            info.context.service, user_id=_user_id(input.user_id), display_name=input.display_name
        )
        return ManagedAccountPayload(account=ManagedAccount.from_view(view))

    @strawberry.mutation(
        description="Set the team's takeover notice period and managed-account retention; "
        "omitted fields stay as they are."
    )
    @typed_errors(ManagedAccountSettingsPayload)
    async def update_managed_account_settings(
        self, info: Info, input: UpdateManagedAccountSettingsInput
    ) -> ManagedAccountSettingsPayload:
        view = await managed_accounts.update_settings(
            info.context.service,
            team_id=parse_id(input.team_id, "Team", "teamId"),
            takeover_notice_days=input.takeover_notice_days,
            managed_retention_days=input.managed_retention_days,
        )
        return ManagedAccountSettingsPayload(team=Team.from_view(view))

    @strawberry.mutation(
        description="Approve a managed user's email change: the new address then has to be "
        "verified, as for any change."
    )
    @typed_errors(EmailChangeRequestPayload)
    async def approve_email_change(
        self, info: Info, input: DecideEmailChangeInput
    ) -> EmailChangeRequestPayload:
        return await _decide(info, input, approve=True)

    @strawberry.mutation(description="Reject a managed user's email change.")
    @typed_errors(EmailChangeRequestPayload)
    async def reject_email_change(
        self, info: Info, input: DecideEmailChangeInput
    ) -> EmailChangeRequestPayload:
        return await _decide(info, input, approve=False)

    @strawberry.mutation(description="Withdraw the viewer's own pending email-change request.")
    @typed_errors(EmailChangeRequestPayload)
    async def cancel_email_change_request(
        self, info: Info, input: EmailChangeRequestIdInput
    ) -> EmailChangeRequestPayload:
        view = await email_changes.cancel_request(
            info.context.service, request_id=_request_id(input.request_id)
        )
        return EmailChangeRequestPayload(email_change_request=EmailChangeRequest.from_view(view))


async def _decide(
    info: Info, input: DecideEmailChangeInput, *, approve: bool
) -> EmailChangeRequestPayload:
    view = await email_changes.decide(
        info.context.service,
        request_id=_request_id(input.request_id),
        approve=approve,
        reason=input.reason,
    )
    return EmailChangeRequestPayload(email_change_request=EmailChangeRequest.from_view(view))
