from __future__ import annotations

import strawberry

from api.apps.types import App, Installation
from api.context import Info
from api.errors import Payload, typed_errors
from api.relay import parse_id
from services import apps, installations


@strawberry.input
class RegisterAppInput:
    name: str
    homepage_url: str | None = strawberry.field(default=None, description="An https:// URL.")
    requested_scopes: list[str] = strawberry.field(
        description="Scopes from the catalog (e.g. teams:read) that teams may grant the app."
    )


@strawberry.input
class AppIdInput:
    app_id: strawberry.ID


@strawberry.input
class InstallAppInput:
    team_id: strawberry.ID
    client_id: str
    scopes: list[str] = strawberry.field(description="A subset of the app's requested scopes.")


@strawberry.input
class InstallationIdInput:
    installation_id: strawberry.ID


@strawberry.input
class UpdateInstallationScopesInput:
    installation_id: strawberry.ID
    scopes: list[str]


@strawberry.type
class AppCredentialsPayload(Payload):
    app: App | None = None
    client_secret: str | None = strawberry.field(
        default=None,
        description="Shown this once: store it now. Only a hash of it is kept.",
    )


@strawberry.type
class DeleteAppPayload(Payload):
    deleted_id: strawberry.ID | None = None


@strawberry.type
class InstallationPayload(Payload):
    installation: Installation | None = None


def _app_id(value: strawberry.ID) -> int:
    return parse_id(value, "App", "appId")


def _installation_id(value: strawberry.ID) -> int:
    return parse_id(value, "Installation", "installationId")


@strawberry.type
class AppMutations:
    @strawberry.mutation(
        description="Register a partner app (signed-in session only); returns its client id "
        "and, once, its client secret."
    )
    @typed_errors(AppCredentialsPayload)
    async def register_app(self, info: Info, input: RegisterAppInput) -> AppCredentialsPayload:
        created = await apps.register_app(
            info.context.service,
            name=input.name,
            homepage_url=input.homepage_url,
            requested_scopes=input.requested_scopes,
        )
        return AppCredentialsPayload(
            app=App.from_view(created.app), client_secret=created.client_secret
        )

    @strawberry.mutation(
        description="Replace the app's client secret. The old one stops working at once and "
        "the app's live tokens are revoked."
    )
    @typed_errors(AppCredentialsPayload)
    async def rotate_app_secret(self, info: Info, input: AppIdInput) -> AppCredentialsPayload:
        rotated = await apps.rotate_secret(info.context.service, app_id=_app_id(input.app_id))
        return AppCredentialsPayload(
            app=App.from_view(rotated.app), client_secret=rotated.client_secret
        )

    @strawberry.mutation(
        description="Delete the app: uninstalled from every team, every token revoked."
    )
    @typed_errors(DeleteAppPayload)
    async def delete_app(self, info: Info, input: AppIdInput) -> DeleteAppPayload:
        await apps.delete_app(info.context.service, app_id=_app_id(input.app_id))
        return DeleteAppPayload(deleted_id=input.app_id)

    @strawberry.mutation(
        description="Install an app into a team, granting some of the scopes it asks for "
        "(owners and admins, signed-in session only)."
    )
    @typed_errors(InstallationPayload)
    async def install_app(self, info: Info, input: InstallAppInput) -> InstallationPayload:
        view = await installations.install_app(
            info.context.service,
            team_id=parse_id(input.team_id, "Team", "teamId"),
            client_id=input.client_id,
            scope_names=input.scopes,
        )
        return InstallationPayload(installation=Installation.from_view(view))

    @strawberry.mutation(
        description="[P14] Uninstall an app from a team; every token it holds there is revoked "
        "at once."
    )
    @typed_errors(InstallationPayload)
    async def uninstall_app(self, info: Info, input: InstallationIdInput) -> InstallationPayload:
        view = await installations.uninstall_app(
            info.context.service, installation_id=_installation_id(input.installation_id)
        )
        return InstallationPayload(installation=Installation.from_view(view))

    @strawberry.mutation(
        description="Change the scopes a team grants an installed app; taking any away revokes "
        "its live tokens."
    )
    @typed_errors(InstallationPayload)
    async def update_installation_scopes(
        self, info: Info, input: UpdateInstallationScopesInput
    ) -> InstallationPayload:
        view = await installations.update_scopes(
            info.context.service,
            installation_id=_installation_id(input.installation_id),
            scope_names=input.scopes,
        )
        return InstallationPayload(installation=Installation.from_view(view))
