from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.apps.types import App, AppConnection
from api.context import Info
from api.domains.types import SuggestedTeam
from api.identities.types import Identity
from api.managed.types import EmailChangeRequest
from api.notifications import NotificationConnection, viewer_notifications
from api.relay import connection_edges, from_cursor, to_global_id
from api.takeover.managing import ManagingTeam, managed_by
from api.teams.types import Team, TeamConnection
from api.tokens.types import PersonalAccessToken, PersonalAccessTokenConnection
from api.users.types import Session, User
from models import User as UserRow
from services import accounts, apps, enrollment, teams, tokens
from services.email_changes import my_pending_request
from services.identities import my_identities
from services.pages import PageRequest
from services.users import user_view


@strawberry.type(description="The signed-in user, with their private profile.")
class Viewer:
    id: strawberry.ID
    username: str
    display_name: str
    email: str
    email_verified: bool
    email_public: bool
    avatar_url: str | None
    company: str | None
    job_title: str | None
    country: str | None
    locale: str | None
    time_zone: str | None
    birth_date: date | None
    is_staff: bool
    created_at: datetime
    last_login_at: datetime | None
    row: strawberry.Private[UserRow]

    @classmethod
    def from_row(cls, row: UserRow) -> Viewer:
        state = row.__dict__
        try:
            # Straight from the entity's loaded values: through SQLAlchemy's attribute
            # descriptors, reading them cost more than the rest of `{ viewer { id } }`.
            values = {name: state[name] for name in _PROFILE}
            key, verified_at = state["id"], state["email_verified_at"]
        except KeyError:  # expired (after a rollback): SQLAlchemy's way, which says why
            values = {name: getattr(row, name) for name in _PROFILE}
            key, verified_at = row.id, row.email_verified_at
        return cls(
            id=to_global_id("User", key),
            email_verified=verified_at is not None,
            row=row,
            **values,
        )

    @strawberry.field(description="The viewer as other users see them.")
    def user(self, info: Info) -> User:
        return User.from_view(user_view(info.context.actor, self.row))

    @strawberry.field(description="Teams the viewer belongs to, in the order joined.")
    async def teams(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> TeamConnection:
        page = await teams.viewer_teams(
            info.context.service, PageRequest.of(first, from_cursor(after))
        )
        edges, page_info = connection_edges(page, Team.from_view)
        return TeamConnection(edges=edges, page_info=page_info)

    @strawberry.field(
        description="Teams offered to the viewer because their verified email is in the team's "
        "verified domain (enrollment suggest or auto-join), which they are not a member of."
    )
    async def suggested_teams(self, info: Info) -> list[SuggestedTeam]:
        views = await enrollment.suggested_teams(info.context.service)
        return [SuggestedTeam.from_view(view) for view in views]

    @strawberry.field(description="Sign-in provider accounts (Google) linked to the viewer.")
    async def identities(self, info: Info) -> list[Identity]:
        return [Identity.from_row(row) for row in await my_identities(info.context.service)]

    @strawberry.field(
        description="The viewer's personal access tokens, newest first (signed-in session only)."
    )
    async def personal_access_tokens(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> PersonalAccessTokenConnection:
        page = await tokens.my_tokens(
            info.context.service, PageRequest.of(first, from_cursor(after))
        )
        edges, page_info = connection_edges(page, PersonalAccessToken.from_view)
        return PersonalAccessTokenConnection(edges=edges, page_info=page_info)

    @strawberry.field(description="The viewer's active sessions, most recently used first.")
    async def sessions(self, info: Info) -> list[Session]:
        rows = await accounts.my_sessions(info.context.service)
        return [Session.from_row(row, info.context.actor.session_id) for row in rows]

    @strawberry.field(description="Partner apps the viewer registered (never their secrets).")
    async def apps(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> AppConnection:
        page = await apps.my_apps(info.context.service, PageRequest.of(first, from_cursor(after)))
        edges, page_info = connection_edges(page, App.from_view)
        return AppConnection(edges=edges, page_info=page_info)

    @strawberry.field(description="The viewer's notices, newest first.")
    async def notifications(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        unread_only: bool = False,
    ) -> NotificationConnection:
        return await viewer_notifications(info, first, after, unread_only)

    @strawberry.field(
        description="[P5] The team that manages the viewer's account, and since when; null if "
        "none does."
    )
    async def managed_by(self, info: Info) -> ManagingTeam | None:
        return await managed_by(info)

    @strawberry.field(
        description="The viewer's pending email-change request, when their account is managed "
        "and the change waits for the team's approval."
    )
    async def email_change_request(self, info: Info) -> EmailChangeRequest | None:
        view = await my_pending_request(info.context.service)
        return EmailChangeRequest.from_view(view) if view else None


# The viewer's plain fields, each the user's column of that name (id, email_verified and the
# row itself are worked out in from_row).
_PROFILE = tuple(
    field.python_name
    for field in Viewer.__strawberry_definition__.fields  # type: ignore[attr-defined]
    if field.base_resolver is None and field.python_name not in ("id", "email_verified", "row")
)
