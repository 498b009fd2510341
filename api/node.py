"""`node(id:)`: every global id resolves through the same policy as its other paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from api.apps.types import App, Installation
from api.audit.types import AuditEvent
from api.context import Info
from api.domains.types import Domain
from api.managed.types import email_change_request_node
from api.notifications import Notification
from api.relay import Node, from_global_id
from api.takeover.types import Takeover
from api.teams.types import Invitation, Member, Team
from api.tokens.types import PersonalAccessToken
from api.users.types import Session, User
from services import (
    accounts,
    apps,
    audit_log,
    installations,
    notifications,
    takeover,
    teams,
    tokens,
)


async def _user(info: Info, key: int) -> Node | None:
    view = await info.context.loaders.user.load(key)
    return User.from_view(view) if view else None


async def _team(info: Info, key: int) -> Node | None:
    view = await teams.find_team(info.context.service, team_id=key)
    return Team.from_view(view) if view else None


async def _member(info: Info, key: int) -> Node | None:
    view = await info.context.loaders.member.load(key)
    return Member.from_view(view) if view else None


async def _invitation(info: Info, key: int) -> Node | None:
    view = await info.context.loaders.invitation.load(key)
    return Invitation.from_view(view) if view else None


async def _session(info: Info, key: int) -> Node | None:
    row = await accounts.my_session(info.context.service, key)
    return Session.from_row(row, info.context.actor.session_id) if row else None


async def _audit_event(info: Info, key: int) -> Node | None:
    (view,) = await audit_log.events_by_id(info.context.service, [key])
    return AuditEvent.from_view(view) if view else None


async def _domain(info: Info, key: int) -> Node | None:
    view = await info.context.loaders.domain.load(key)
    return Domain.from_view(view) if view else None


async def _app(info: Info, key: int) -> Node | None:
    view = await apps.app_by_id(info.context.service, key)
    return App.from_view(view) if view else None


async def _installation(info: Info, key: int) -> Node | None:
    (view,) = await installations.installations_by_id(info.context.service, [key])
    return Installation.from_view(view) if view else None


async def _personal_access_token(info: Info, key: int) -> Node | None:
    view = await tokens.my_token(info.context.service, key)
    return PersonalAccessToken.from_view(view) if view else None


async def _takeover(info: Info, key: int) -> Node | None:
    (view,) = await takeover.takeovers_by_id(info.context.service, [key])
    return Takeover.from_view(view) if view else None


async def _notification(info: Info, key: int) -> Node | None:
    view = await notifications.my_notification(info.context.service, key)
    return Notification.from_view(view) if view else None


RESOLVERS: dict[str, Callable[[Info, int], Awaitable[Node | None]]] = {
    "User": _user,
    "Team": _team,
    "Member": _member,
    "Invitation": _invitation,
    "Session": _session,
    "AuditEvent": _audit_event,
    "Domain": _domain,
    "Takeover": _takeover,
    "PersonalAccessToken": _personal_access_token,
    "App": _app,
    "Installation": _installation,
    "EmailChangeRequest": email_change_request_node,
    "Notification": _notification,
}


async def resolve_node(info: Info, global_id: str) -> Node | None:
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] not in RESOLVERS:
        return None
    type_name, key = parsed
    return await RESOLVERS[type_name](info, key)
