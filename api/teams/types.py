from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry

from api.apps.types import Installation, InstallationConnection
from api.audit.types import AuditEvent, AuditEventConnection, AuditEventFilter
from api.context import Info
from api.domains.types import Domain
from api.managed.types import (
    EmailChangeRequestConnection,
    ManagedAccountConnection,
    team_email_change_requests,
    team_managed_accounts,
    team_setting,
)
from api.relay import Connection, Node, connection_edges, from_cursor, to_global_id
from api.selection import asks_for_any
from api.takeover.types import TakeoverConnection, team_takeovers
from api.users.types import User
from auth import policy
from models import EmailChangeStatus, Role, UserStatus
from services import audit_log
from services.audit_log import AuditFilter
from services.invitations import InvitationView
from services.pages import PageRequest
from services.teams import MemberView, TeamView

strawberry.enum(Role, name="Role", description="A member's role in a team.")


@strawberry.type(description="A user's membership of a team.")
class Member(Node):
    id: strawberry.ID
    role: Role
    joined_at: datetime
    user: User

    @classmethod
    def from_view(cls, view: MemberView) -> Member:
        return cls(
            id=to_global_id("Member", view.id),
            role=view.role,
            # None only on a page whose selection shows no timestamp (api/selection.py).
            joined_at=cast(datetime, view.joined_at),
            user=User.from_view(view.user),
        )


# The fields below a member page that show a timestamp the page would otherwise not read.
MEMBER_TIMESTAMPS = ("joinedAt", "createdAt", "emailVerified")


@strawberry.type
class MemberConnection(Connection[Member]):
    team_id: strawberry.Private[int]

    @strawberry.field(description="How many members the team has.")
    async def total_count(self, info: Info) -> int:
        return await info.context.loaders.member_count.load(self.team_id)


@strawberry.type(description="A pending invitation to join a team.")
class Invitation(Node):
    id: strawberry.ID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    invited_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def invited_by(self, info: Info) -> User | None:
        if self.invited_by_id is None:
            return None
        view = await info.context.loaders.user.load(self.invited_by_id)
        return User.from_view(view) if view else None

    @classmethod
    def from_view(cls, view: InvitationView) -> Invitation:
        return cls(
            id=to_global_id("Invitation", view.id),
            email=view.email,
            role=view.role,
            created_at=view.created_at,
            expires_at=view.expires_at,
            invited_by_id=view.invited_by_id,
        )


@strawberry.type(description="A team: members with roles, domains, settings.")
class Team(Node):
    id: strawberry.ID
    slug: str
    name: str
    created_at: datetime
    viewer_role: Role | None = strawberry.field(description="The viewer's role in the team.")
    view: strawberry.Private[TeamView]

    @classmethod
    def from_view(cls, view: TeamView) -> Team:
        return cls(
            id=to_global_id("Team", view.id),
            slug=view.slug,
            name=view.name,
            created_at=view.created_at,
            viewer_role=view.viewer_role,
            view=view,
        )

    @strawberry.field(description="Members in the order they joined; visible to every member.")
    async def members(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> MemberConnection:
        page = await info.context.loaders.member_page.load(
            (
                self.view,
                PageRequest.of(first, from_cursor(after)),
                asks_for_any(info, MEMBER_TIMESTAMPS),
            )
        )
        edges, page_info = connection_edges(page, Member.from_view)
        return MemberConnection(edges=edges, page_info=page_info, team_id=self.view.id)

    @strawberry.field(
        description="[P15] The team's owners, admins and billing contacts, for every member."
    )
    async def contacts(self, info: Info) -> list[Member]:
        views = await info.context.loaders.contacts.load(self.view)
        return [Member.from_view(view) for view in views]

    @strawberry.field(
        description="The team's email domains; null unless the viewer is an owner or admin."
    )
    async def domains(self, info: Info) -> list[Domain] | None:
        if not policy.can_read_domains(info.context.actor, self.view.viewer_role):
            return None
        views = await info.context.loaders.domains.load(self.view.id)
        return [Domain.from_view(view) for view in views]

    @strawberry.field(description="Pending invitations; null unless the viewer manages the team.")
    async def invitations(self, info: Info) -> list[Invitation] | None:
        if not policy.can_read_invitations(info.context.actor, self.view.viewer_role):
            return None
        views = await info.context.loaders.pending_invitations.load(self.view.id)
        return [Invitation.from_view(view) for view in views]

    @strawberry.field(description="[P17] The team's audit trail, newest first (owners and admins).")
    async def audit_events(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: AuditEventFilter | None = None,
    ) -> AuditEventConnection:
        page = await audit_log.team_events(
            info.context.service,
            self.view,
            filter.to_filter() if filter else AuditFilter(),
            PageRequest.of(first, from_cursor(after)),
        )
        edges, page_info = connection_edges(page, AuditEvent.from_view)
        return AuditEventConnection(edges=edges, page_info=page_info)

    @strawberry.field(
        description="Partner apps installed in the team; null unless the viewer is an owner or "
        "admin."
    )
    async def installations(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> InstallationConnection | None:
        if not policy.can_see_installations(info.context.actor, self.view.viewer_role):
            return None
        page = await info.context.loaders.installation_page.load(
            (self.view.id, PageRequest.of(first, from_cursor(after)))
        )
        edges, page_info = connection_edges(page, Installation.from_view)
        return InstallationConnection(edges=edges, page_info=page_info)

    @strawberry.field(
        description="[P5] Takeovers of the team's domains, newest first; null unless the "
        "viewer is an owner or admin."
    )
    async def takeovers(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> TakeoverConnection | None:
        return await team_takeovers(info, self.view, first, after)

    @strawberry.field(
        description="Accounts the team manages, in id order; null unless the viewer is an owner "
        "or admin. Filter by status (any of) and by the domain they are managed through."
    )
    async def managed_accounts(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: list[UserStatus] | None = None,
        domain: str | None = None,
    ) -> ManagedAccountConnection | None:
        return await team_managed_accounts(info, self.view, first, after, status, domain)

    @strawberry.field(
        description="Email-change requests of the team's managed accounts, oldest first (pending "
        "ones unless status says otherwise); null unless the viewer is an owner or admin."
    )
    async def email_change_requests(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: list[EmailChangeStatus] | None = None,
    ) -> EmailChangeRequestConnection | None:
        return await team_email_change_requests(info, self.view, first, after, status)

    @strawberry.field(
        description="Days between announcing a takeover and its effect (owners and admins)."
    )
    async def takeover_notice_days(self, info: Info) -> int | None:
        return await team_setting(info, self.view, "takeover_notice_days")

    @strawberry.field(
        description="Days a deleted managed account is kept before it is purged (owners and "
        "admins)."
    )
    async def managed_retention_days(self, info: Info) -> int | None:
        return await team_setting(info, self.view, "managed_retention_days")


@strawberry.type
class TeamConnection(Connection[Team]):
    pass
