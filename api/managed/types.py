"""Managed accounts and email-change requests as a managing team's owners and admins see them
(and a requester sees their own request)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.relay import Connection, Node, connection_edges, from_cursor, to_global_id
from api.users.types import User
from models import EmailChangeStatus, UserStatus
from services import email_changes, managed_accounts
from services.email_changes import EmailChangeView
from services.managed_accounts import ManagedAccountView
from services.pages import PageRequest
from services.teams import TeamView

strawberry.enum(UserStatus, name="UserStatus", description="Where an account stands.")
strawberry.enum(
    EmailChangeStatus, name="EmailChangeStatus", description="Where an email-change request stands."
)


@strawberry.type(description="An account the team manages, as its owners and admins see it.")
class ManagedAccount:
    user: User
    email: str | None = strawberry.field(
        description="[P1, P2] The account's address while it lies in one of the team's domains "
        "in force (the team answers for it: it approves changes to it); otherwise only if the "
        "user made it public."
    )
    email_verified: bool
    status: UserStatus
    managed_since: datetime | None
    managed_domain: str | None = strawberry.field(
        description="The team's verified domain through which it manages the account."
    )

    @classmethod
    def from_view(cls, view: ManagedAccountView) -> ManagedAccount:
        return cls(
            user=User.from_view(view.user),
            email=view.email,
            email_verified=view.email_verified,
            status=view.status,
            managed_since=view.managed_since,
            managed_domain=view.managed_domain,
        )


@strawberry.type
class ManagedAccountConnection(Connection[ManagedAccount]):
    pass


@strawberry.type(
    description="A managed user's wish to change their email address, which an owner or admin "
    "of the managing team approves or rejects."
)
class EmailChangeRequest(Node):
    id: strawberry.ID
    status: EmailChangeStatus
    new_email: str | None = strawberry.field(
        description="[P1, P2] The address asked for: shown to the requester, and to the team's "
        "owners and admins only while the request is pending on an account the team still "
        "manages."
    )
    requested_at: datetime
    decided_at: datetime | None
    reason: str | None = strawberry.field(description="The deciding admin's note, if any.")
    user_id: strawberry.Private[int]
    decided_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who asked.")
    async def user(self, info: Info) -> User | None:
        view = await info.context.loaders.user.load(self.user_id)
        return User.from_view(view) if view else None

    @strawberry.field(description="Who decided or withdrew it, if anyone did.")
    async def decided_by(self, info: Info) -> User | None:
        if self.decided_by_id is None:
            return None
        view = await info.context.loaders.user.load(self.decided_by_id)
        return User.from_view(view) if view else None

    @classmethod
    def from_view(cls, view: EmailChangeView) -> EmailChangeRequest:
        return cls(
            id=to_global_id("EmailChangeRequest", view.id),
            status=view.status,
            new_email=view.new_email,
            requested_at=view.requested_at,
            decided_at=view.decided_at,
            reason=view.reason,
            user_id=view.user_id,
            decided_by_id=view.decided_by_id,
        )


@strawberry.type
class EmailChangeRequestConnection(Connection[EmailChangeRequest]):
    pass


# Team fields (api/teams/types.py delegates here).


async def team_managed_accounts(
    info: Info,
    team: TeamView,
    first: int | None,
    after: str | None,
    status: list[UserStatus] | None,
    domain: str | None,
) -> ManagedAccountConnection | None:
    page = await info.context.loaders.managed_account_page.load(
        (
            team,
            PageRequest.of(first, from_cursor(after)),
            tuple(status or ()),
            managed_accounts.domain_filter(domain),
        )
    )
    if page is None:
        return None
    edges, page_info = connection_edges(page, ManagedAccount.from_view)
    return ManagedAccountConnection(edges=edges, page_info=page_info)


async def team_email_change_requests(
    info: Info,
    team: TeamView,
    first: int | None,
    after: str | None,
    status: list[EmailChangeStatus] | None,
) -> EmailChangeRequestConnection | None:
    page = await info.context.loaders.email_change_page.load(
        (
            team,
            PageRequest.of(first, from_cursor(after)),
            tuple(status or ()),
        )
    )
    if page is None:
        return None
    edges, page_info = connection_edges(page, EmailChangeRequest.from_view)
    return EmailChangeRequestConnection(edges=edges, page_info=page_info)


async def team_setting(info: Info, team: TeamView, name: str) -> int | None:
    found = await info.context.loaders.managed_settings.load(team)
    return getattr(found, name) if found is not None else None


async def email_change_request_node(info: Info, key: int) -> Node | None:
    (view,) = await email_changes.requests_by_id(info.context.service, [key])
    return EmailChangeRequest.from_view(view) if view else None
