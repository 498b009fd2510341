from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import Payload, typed_errors
from api.relay import parse_id
from api.teams.types import Invitation, Member, Team
from models import Role
from services import invitations, teams


@strawberry.input
class CreateTeamInput:
    name: str
    slug: str | None = strawberry.field(
        default=None, description="Derived from the name if absent."
    )


@strawberry.input
class UpdateTeamInput:
    team_id: strawberry.ID
    name: str


@strawberry.input
class InviteMemberInput:
    team_id: strawberry.ID
    email: str
    role: Role = Role.MEMBER


@strawberry.input
class InvitationIdInput:
    invitation_id: strawberry.ID


@strawberry.input
class AcceptInvitationInput:
    token: str


@strawberry.input
class ChangeMemberRoleInput:
    member_id: strawberry.ID
    role: Role


@strawberry.input
class MemberIdInput:
    member_id: strawberry.ID


@strawberry.input
class TeamIdInput:
    team_id: strawberry.ID


@strawberry.input
class ContactTeamAdminsInput:
    team_id: strawberry.ID
    subject: str
    message: str
    share_my_email: bool = strawberry.field(
        default=False, description="Let the recipients reply to your email address."
    )


@strawberry.type
class TeamPayload(Payload):
    team: Team | None = None


@strawberry.type
class MemberPayload(Payload):
    member: Member | None = None


@strawberry.type
class InvitationPayload(Payload):
    invitation: Invitation | None = None


@strawberry.type
class RemovedPayload(Payload):
    removed_id: strawberry.ID | None = None


@strawberry.type
class ContactPayload(Payload):
    recipients: int = 0


def _team_id(value: strawberry.ID) -> int:
    return parse_id(value, "Team", "teamId")


def _member_id(value: strawberry.ID) -> int:
    return parse_id(value, "Member", "memberId")


@strawberry.type
class TeamMutations:
    @strawberry.mutation(description="Create a team; the viewer becomes its owner.")
    @typed_errors(TeamPayload)
    async def create_team(self, info: Info, input: CreateTeamInput) -> TeamPayload:
        view = await teams.create_team(info.context.service, name=input.name, slug=input.slug)
        return TeamPayload(team=Team.from_view(view))

    @strawberry.mutation(description="Rename a team (owners and admins).")
    @typed_errors(TeamPayload)
    async def update_team(self, info: Info, input: UpdateTeamInput) -> TeamPayload:
        view = await teams.update_team(
            info.context.service, team_id=_team_id(input.team_id), name=input.name
        )
        return TeamPayload(team=Team.from_view(view))

    @strawberry.mutation(description="Invite an email address to the team with a role.")
    @typed_errors(InvitationPayload)
    async def invite_member(self, info: Info, input: InviteMemberInput) -> InvitationPayload:
        view = await invitations.invite(
            info.context.service,
            team_id=_team_id(input.team_id),
            email=input.email,
            role=input.role,
        )
        return InvitationPayload(invitation=Invitation.from_view(view))

    @strawberry.mutation(description="Withdraw a pending invitation.")
    @typed_errors(InvitationPayload)
    async def revoke_invitation(self, info: Info, input: InvitationIdInput) -> InvitationPayload:
        view = await invitations.revoke(
            info.context.service,
            invitation_id=parse_id(input.invitation_id, "Invitation", "invitationId"),
        )
        return InvitationPayload(invitation=Invitation.from_view(view))

    @strawberry.mutation(description="Join a team with the token from an invitation email.")
    @typed_errors(MemberPayload)
    async def accept_invitation(self, info: Info, input: AcceptInvitationInput) -> MemberPayload:
        view = await invitations.accept(info.context.service, token=input.token)
        return MemberPayload(member=Member.from_view(view))

    @strawberry.mutation(description="Change a member's role, within the team's role rules.")
    @typed_errors(MemberPayload)
    async def change_member_role(self, info: Info, input: ChangeMemberRoleInput) -> MemberPayload:
        view = await teams.change_role(
            info.context.service, member_id=_member_id(input.member_id), role=input.role
        )
        return MemberPayload(member=Member.from_view(view))

    @strawberry.mutation(description="Remove a member from the team.")
    @typed_errors(RemovedPayload)
    async def remove_member(self, info: Info, input: MemberIdInput) -> RemovedPayload:
        await teams.remove_member(info.context.service, member_id=_member_id(input.member_id))
        return RemovedPayload(removed_id=input.member_id)

    @strawberry.mutation(description="Leave a team. The last owner cannot leave.")
    @typed_errors(TeamPayload)
    async def leave_team(self, info: Info, input: TeamIdInput) -> TeamPayload:
        await teams.leave_team(info.context.service, team_id=_team_id(input.team_id))
        return TeamPayload()

    @strawberry.mutation(description="[P15] Write to the team's owners and admins by email.")
    @typed_errors(ContactPayload)
    async def contact_team_admins(
        self, info: Info, input: ContactTeamAdminsInput
    ) -> ContactPayload:
        count = await teams.contact_admins(
            info.context.service,
            team_id=_team_id(input.team_id),
            subject=input.subject,
            message=input.message,
            share_email=input.share_my_email,
        )
        return ContactPayload(recipients=count)
