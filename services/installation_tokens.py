"""`POST /oauth/token`: an installed app trades its client credentials for a short-lived `owi_`
token that reaches one team with the scopes that team granted [P14].

The right credentials are never refused: a secret of ~238 random bits cannot be guessed, so a
limit per client id would only let anyone who knows an app's (public) client id lock its partner
out. Failed authentications slow down the address they come from instead (counted on the side
engine, so they stay counted when the request fails). The app's installations are read only
once it has authenticated, so an unknown client id and a wrong secret cost the same statements.

Successful requests are limited too, per installation: so many tokens an hour
(`installation_tokens_per_hour`), and so many live at once (`installation_live_tokens`; a new one
beyond that revokes the oldest, reason `superseded`).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select, update
from sqlmodel import col

from auth import oauth_requests, oauth_server, scopes, throttle
from auth.oauth_requests import TokenRequest, TokenResponse
from auth.oauth_server import AppClient, LiveInstallation
from auth.secrets import token_hash
from models import ApiToken, App, Installation, Team, TokenKind, User, UserStatus
from services import audit
from services.context import ServiceContext
from services.token_revocation import revoke_tokens


def address_key(ip_address: str | None) -> str | None:
    return f"oauth:address:{ip_address}" if ip_address else None


async def issue_token(ctx: ServiceContext, request: TokenRequest) -> TokenResponse:
    settings = ctx.settings
    now = ctx.now()
    early = oauth_requests.refuse_early(request)
    if early is not None:
        return early
    client_id = oauth_requests.claimed_client_id(request)
    client = AppClient.unknown(client_id or "", settings.secret_key)
    if oauth_server.plausible_client_id(client_id):
        assert client_id is not None
        client = await _load_client(ctx, client_id)
    server = oauth_server.InstallationTokenServer(
        client=client,
        catalog=sorted(str(scope) for scope in scopes.ALL),
        now=now,
        lifetime=timedelta(seconds=settings.installation_token_ttl_seconds),
    )
    refused = server.authenticate(request)
    if refused is not None:
        return await _failed(ctx, refused)
    assert client.app_id is not None
    client.installations = await _live_installations(ctx, client.app_id)
    response = server.respond(request)
    issued = server.issued
    if issued is None or response.status != 200:
        return response
    # Taken again under lock: an uninstall, a scope change or a secret rotation that committed
    # since the rows above were read wins, and one that starts now waits for this token, which
    # it then revokes.
    granted = scopes.parse(issued.scopes)  # names Authlib checked against the catalog
    refusal = await _still_granted(ctx, client, issued.installation, granted)
    if refusal is not None:
        return server.refuse(refusal)
    if wait := await _issuance_wait(ctx, issued.installation.id, now):
        return oauth_requests.temporarily_unavailable(
            wait, "This installation asked for too many tokens this hour; retry later."
        )
    token = ApiToken(
        kind=TokenKind.INSTALLATION,
        token_hash=token_hash(settings.secret_key, issued.token),
        hint=issued.token[:8],
        name=client.name,
        installation_id=issued.installation.id,
        team_id=issued.installation.team_id,
        scopes=scopes.to_column(granted),
        created_at=now,
        expires_at=issued.expires_at,
    )
    ctx.db.add(token)
    await ctx.db.flush()
    superseded = await _supersede_oldest(ctx, issued.installation.id, now)
    audit.installation_token_issued(
        ctx,
        installation_id=issued.installation.id,
        team_id=issued.installation.team_id,
        app_id=client.app_id,
        token=token,
        superseded=superseded,
    )
    await ctx.db.flush()
    return response


async def _load_client(ctx: ServiceContext, client_id: str) -> AppClient:
    # An app whose owner is not active (deactivated by a managing team, being deleted) answers
    # like an unknown one: deactivation revoked its tokens, and it gets no new ones.
    app = (
        await ctx.db.execute(
            select(App)
            .join(User, col(User.id) == col(App.owner_id))
            .where(
                col(App.client_id) == client_id,
                col(App.deleted_at).is_(None),
                col(User.status) == UserStatus.ACTIVE,
            )
        )
    ).scalar_one_or_none()
    if app is None:
        return AppClient.unknown(client_id, ctx.settings.secret_key)
    return AppClient(
        app_id=app.id,
        client_id=app.client_id,
        name=app.name,
        secret_hash=app.client_secret_hash,
        secret_key=ctx.settings.secret_key,
    )


async def _live_installations(ctx: ServiceContext, app_id: int) -> list[LiveInstallation]:
    """Read only for a client that authenticated."""
    rows = await ctx.db.execute(
        select(
            col(Installation.id),
            col(Installation.team_id),
            col(Team.slug),
            col(Installation.scopes),
        )
        .join(Team, col(Team.id) == col(Installation.team_id))
        .where(col(Installation.app_id) == app_id, col(Installation.uninstalled_at).is_(None))
        .order_by(col(Installation.id))
    )
    return [
        LiveInstallation(
            id=cast(int, key),
            team_id=team_id,
            team_slug=slug,
            scopes=scopes.from_column(granted),
        )
        for key, team_id, slug, granted in rows
    ]


async def _failed(ctx: ServiceContext, refused: TokenResponse) -> TokenResponse:
    """A failed client authentication slows its address down; nothing else is counted."""
    key = address_key(ctx.actor.origin.ip_address)
    if key is None or refused.body.get("error") != "invalid_client":
        return refused
    limits = throttle.Limits.for_addresses(ctx.settings)
    if wait := await throttle.attempt(ctx.engine, key, limits, ctx.now()):
        return oauth_requests.temporarily_unavailable(
            wait, "Too many failed client authentications from this address; retry later."
        )
    return refused


async def _issuance_wait(ctx: ServiceContext, installation_id: int, now: datetime) -> int | None:
    """Seconds until the installation may have another token, if it had its hour's worth (read
    under the installation's lock, taken by _still_granted)."""
    hour = timedelta(hours=1)
    issued, oldest = (
        await ctx.db.execute(
            select(func.count(), func.min(col(ApiToken.created_at))).where(
                col(ApiToken.installation_id) == installation_id,
                col(ApiToken.created_at) > now - hour,
            )
        )
    ).one()
    if issued < ctx.settings.installation_tokens_per_hour:
        return None
    return max(1, math.ceil((oldest + hour - now).total_seconds()))


async def _supersede_oldest(ctx: ServiceContext, installation_id: int, now: datetime) -> int:
    """Revoke the live tokens beyond the newest `installation_live_tokens`; how many."""
    beyond = (
        select(col(ApiToken.id))
        .where(
            col(ApiToken.installation_id) == installation_id,
            col(ApiToken.revoked_at).is_(None),
            col(ApiToken.expires_at) > now,
        )
        .order_by(col(ApiToken.id).desc())
        .offset(ctx.settings.installation_live_tokens)
    )
    return await revoke_tokens(ctx, col(ApiToken.id).in_(beyond), reason="superseded")


async def _still_granted(
    ctx: ServiceContext,
    client: AppClient,
    installation: LiveInstallation,
    wanted: frozenset[scopes.Scope],
) -> str | None:
    """Lock the app's and the installation's rows (no-op writes: SQLite has no row locks, and
    only a write takes its lock) and check they still grant what was checked."""
    app = (
        await ctx.db.execute(
            update(App)
            .where(col(App.id) == client.app_id, col(App.deleted_at).is_(None))
            .values(client_secret_hash=App.client_secret_hash)
            .returning(col(App.client_secret_hash), col(App.owner_id))
            .execution_options(synchronize_session=False)
        )
    ).first()
    if app is None or not client.has_secret_hash(app.client_secret_hash):
        return "invalid_client"
    # The owner's row too: a deactivation that committed since wins; one under way waits for
    # this token and then revokes it (services.managed_accounts.deactivate).
    owner = await ctx.db.scalar(
        update(User)
        .where(col(User.id) == app.owner_id, col(User.status) == UserStatus.ACTIVE)
        .values(updated_at=User.updated_at)
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    )
    if owner is None:
        return "invalid_client"
    granted = await ctx.db.scalar(
        update(Installation)
        .where(col(Installation.id) == installation.id, col(Installation.uninstalled_at).is_(None))
        .values(scopes=Installation.scopes)
        .returning(col(Installation.scopes))
        .execution_options(synchronize_session=False)
    )
    if granted is None:
        return "unauthorized_client"
    if not wanted <= scopes.from_column(granted):
        return "invalid_scope"
    return None
