from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.relay import Connection, Node, parse_id, to_global_id
from api.users.types import User
from services.audit_log import AuditEventView, AuditFilter, audit_filter

# Audit targets that are also GraphQL nodes get a global id clients can pass to node(id:).
NODE_TYPES = {
    "user": "User",
    "team": "Team",
    "member": "Member",
    "invitation": "Invitation",
    "domain": "Domain",
    "takeover": "Takeover",
}


@strawberry.type(description="One entry of a team's append-only, hash-chained audit trail.")
class AuditEvent(Node):
    id: strawberry.ID
    action: str = strawberry.field(description="What happened, e.g. member.role_changed.")
    actor_kind: str = strawberry.field(description="user, anonymous or system.")
    target_type: str | None
    target_id: strawberry.ID | None
    ip_address: str | None
    user_agent: str | None
    reason: str | None
    details: JSON
    created_at: datetime
    actor_user_id: strawberry.Private[int | None]

    @strawberry.field(description="The user who acted, if any (null once the account is gone).")
    async def actor(self, info: Info) -> User | None:
        if self.actor_user_id is None:
            return None
        view = await info.context.loaders.user.load(self.actor_user_id)
        return User.from_view(view) if view else None

    @classmethod
    def from_view(cls, view: AuditEventView) -> AuditEvent:
        target_id = None
        if view.target_id is not None and view.target_type in NODE_TYPES:
            target_id = to_global_id(NODE_TYPES[view.target_type], view.target_id)
        return cls(
            id=to_global_id("AuditEvent", view.id),
            action=view.action,
            actor_kind=view.actor_kind,
            target_type=view.target_type,
            target_id=target_id,
            ip_address=view.ip_address,
            user_agent=view.user_agent,
            reason=view.reason,
            details=JSON(view.details),
            created_at=view.created_at,
            actor_user_id=view.actor_user_id,
        )


@strawberry.type
class AuditEventConnection(Connection[AuditEvent]):
    pass


@strawberry.input(description="Narrow the audit trail; all given conditions must hold.")
class AuditEventFilter:
    actions: list[str] | None = None
    actor_id: strawberry.ID | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_filter(self) -> AuditFilter:
        return audit_filter(
            actions=self.actions or (),
            actor_user_id=parse_id(self.actor_id, "User", "actorId") if self.actor_id else None,
            since=self.since,
            until=self.until,
        )
