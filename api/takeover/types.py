from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.domains.types import Domain
from api.relay import Connection, Node, connection_edges, from_cursor, to_global_id
from api.users.types import User
from models import TakeoverStatus
from services import takeover
from services.pages import PageRequest
from services.takeover import TakeoverView
from services.teams import TeamView

strawberry.enum(
    TakeoverStatus,
    name="TakeoverStatus",
    description="announced during the notice period; then effective, or cancelled.",
)


@strawberry.type(
    description="A team's takeover of the accounts in one of its verified domains [P5]. "
    "Owners and admins only."
)
class Takeover(Node):
    id: strawberry.ID
    domain_name: str = strawberry.field(description="The domain's name (ASCII), kept as text.")
    status: TakeoverStatus
    notice_days: int
    announced_at: datetime
    effective_at: datetime = strawberry.field(
        description="When the notice period ends and the accounts become managed."
    )
    completed_at: datetime | None = strawberry.field(description="When it actually took effect.")
    cancelled_at: datetime | None
    affected_count: int = strawberry.field(description="Accounts named at announcement.")
    managed_count: int = strawberry.field(description="Accounts that became managed.")
    skipped_count: int = strawberry.field(
        description="Accounts that left the domain (or stopped qualifying) before it took "
        "effect [P6]."
    )
    view: strawberry.Private[TakeoverView]

    @strawberry.field(description="The domain, while the team still has it.")
    async def domain(self, info: Info) -> Domain | None:
        if self.view.domain_id is None:
            return None
        found = await info.context.loaders.domain.load(self.view.domain_id)
        return Domain.from_view(found) if found else None

    @strawberry.field(description="Who announced it (null once that account is gone).")
    async def announced_by(self, info: Info) -> User | None:
        if self.view.announced_by_id is None:
            return None
        found = await info.context.loaders.user.load(self.view.announced_by_id)
        return User.from_view(found) if found else None

    @classmethod
    def from_view(cls, view: TakeoverView) -> Takeover:
        return cls(
            id=to_global_id("Takeover", view.id),
            domain_name=view.domain_name,
            status=view.status,
            notice_days=view.notice_days,
            announced_at=view.announced_at,
            effective_at=view.effective_at,
            completed_at=view.completed_at,
            cancelled_at=view.cancelled_at,
            affected_count=view.affected_count,
            managed_count=view.managed_count,
            skipped_count=view.skipped_count,
            view=view,
        )


@strawberry.type
class TakeoverConnection(Connection[Takeover]):
    pass


@strawberry.type(description="Accounts a takeover would name, in id order.")
class AffectedAccountConnection(Connection[User]):
    pass


async def team_takeovers(
    info: Info, team: TeamView, first: int | None, after: str | None
) -> TakeoverConnection | None:
    page = await takeover.team_takeovers(
        info.context.service, team, PageRequest.of(first, from_cursor(after))
    )
    if page is None:
        return None
    edges, page_info = connection_edges(page, Takeover.from_view)
    return TakeoverConnection(edges=edges, page_info=page_info)
