from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.teams.types import Team
from services import takeover, teams
from services.takeover import ManagingTeamView


@strawberry.type(description="The team that manages the viewer's account [P5].")
class ManagingTeam:
    name: str
    slug: str
    since: datetime | None = strawberry.field(description="Managed since then.")
    domain: str | None = strawberry.field(description="Through this verified domain.")
    team_id: strawberry.Private[int]

    @strawberry.field(description="The team itself, if the viewer is one of its members.")
    async def team(self, info: Info) -> Team | None:
        found = await teams.find_team(info.context.service, team_id=self.team_id)
        return Team.from_view(found) if found else None

    @classmethod
    def from_view(cls, view: ManagingTeamView) -> ManagingTeam:
        return cls(
            name=view.name,
            slug=view.slug,
            since=view.since,
            domain=view.domain,
            team_id=view.team_id,
        )


async def managed_by(info: Info) -> ManagingTeam | None:
    found = await takeover.managing_team(info.context.service)
    return ManagingTeam.from_view(found) if found else None
