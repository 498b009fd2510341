"""The GraphQL schema: queries and mutations (limits and error masking: api/operations.py)."""

from __future__ import annotations

import strawberry

from api import node as node_resolver
from api import resolvers
from api.apps.mutations import AppMutations
from api.context import Info
from api.domains.mutations import DomainMutations
from api.errors import MutationError, RateLimitedError
from api.execution import FastExecutionContext
from api.identities.mutations import IdentityMutations
from api.managed.mutations import ManagedAccountMutations
from api.notifications import NotificationMutations
from api.relay import Node
from api.takeover.mutations import TakeoverMutations
from api.teams.mutations import TeamMutations
from api.teams.types import Team
from api.tokens.mutations import TokenMutations
from api.users.mutations import UserMutations
from api.users.types import User
from api.viewer import Viewer
from auth import policy
from core.settings import Settings
from services import teams, users


@strawberry.type
class Query:
    @strawberry.field(
        description="The signed-in user, or null (with a token: needs users:read; an app's "
        "token has no viewer)."
    )
    def viewer(self, info: Info) -> Viewer | None:
        user = policy.viewer_user(info.context.actor)
        return Viewer.from_row(user) if user else None

    @strawberry.field(description="Any object by its global id, if the viewer may see it.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await node_resolver.resolve_node(info, id)

    @strawberry.field(description="A team the viewer belongs to, by slug or id.")
    async def team(
        self, info: Info, slug: str | None = None, id: strawberry.ID | None = None
    ) -> Team | None:
        if id is not None:
            found = await node_resolver.resolve_node(info, id)
            return found if isinstance(found, Team) else None
        if slug is None:
            return None
        view = await teams.find_team(info.context.service, slug=slug)
        return Team.from_view(view) if view else None

    @strawberry.field(description="A user by username (signed-in viewers only).")
    async def user(self, info: Info, username: str) -> User | None:
        view = await users.user_by_username(info.context.service, username)
        return User.from_view(view) if view else None


@strawberry.type
class Mutation(
    UserMutations,
    TeamMutations,
    DomainMutations,
    IdentityMutations,
    AppMutations,
    TokenMutations,
    TakeoverMutations,
    NotificationMutations,
    ManagedAccountMutations,
):
    pass


def create_schema(settings: Settings) -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[MutationError, RateLimitedError],
        execution_context_class=FastExecutionContext if settings.fast_execution else None,
    )
    if settings.fast_execution:
        resolvers.install(schema)
    return schema
