from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.relay import Connection, Node, to_global_id
from api.users.types import User
from services.apps import AppView
from services.installations import InstallationView


@strawberry.type(description="A partner app the viewer registered. Its secret is never shown here.")
class App(Node):
    id: strawberry.ID
    name: str
    homepage_url: str | None
    requested_scopes: list[str] = strawberry.field(
        description="The scopes the app asks teams to grant."
    )
    client_id: str = strawberry.field(
        description="Public: the app sends it with its secret to POST /oauth/token."
    )
    created_at: datetime
    secret_rotated_at: datetime | None

    @classmethod
    def from_view(cls, view: AppView) -> App:
        return cls(
            id=to_global_id("App", view.id),
            name=view.name,
            homepage_url=view.homepage_url,
            requested_scopes=list(view.requested_scopes),
            client_id=view.client_id,
            created_at=view.created_at,
            secret_rotated_at=view.secret_rotated_at,
        )


@strawberry.type
class AppConnection(Connection[App]):
    pass


@strawberry.type(description="A partner app installed in a team, with the scopes the team granted.")
class Installation(Node):
    id: strawberry.ID
    app_name: str
    app_homepage_url: str | None
    client_id: str
    scopes: list[str] = strawberry.field(description="What the app's tokens may do in the team.")
    installed_at: datetime
    uninstalled_at: datetime | None
    installed_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who installed it, if they still have an account.")
    async def installed_by(self, info: Info) -> User | None:
        if self.installed_by_id is None:
            return None
        view = await info.context.loaders.user.load(self.installed_by_id)
        return User.from_view(view) if view else None

    @classmethod
    def from_view(cls, view: InstallationView) -> Installation:
        return cls(
            id=to_global_id("Installation", view.id),
            app_name=view.app_name,
            app_homepage_url=view.app_homepage_url,
            client_id=view.client_id,
            scopes=list(view.scopes),
            installed_at=view.installed_at,
            uninstalled_at=view.uninstalled_at,
            installed_by_id=view.installed_by_id,
        )


@strawberry.type
class InstallationConnection(Connection[Installation]):
    pass
