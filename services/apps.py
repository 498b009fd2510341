"""Partner apps (SPEC 6): a signed-in user registers an app and gets client credentials.

The client secret is shown once, at registration or rotation, and stored only as a keyed hash.
Rotating it revokes the app's live tokens at once: a secret is rotated because it may have
leaked, and tokens minted with a leaked secret must not outlive it. Deleting an app uninstalls
it everywhere and revokes every token, in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import col

from auth import oauth_server, policy, scopes
from auth.secrets import token_hash
from core.errors import InvalidInput, NotFound
from models import ApiToken, App, Installation
from services import audit, normalize
from services.context import ServiceContext, flush_or_conflict
from services.pages import Page, PageRequest

MAX_APPS_PER_USER = 25


@dataclass(frozen=True, slots=True)
class AppView:
    id: int
    name: str
    homepage_url: str | None
    requested_scopes: tuple[str, ...]
    client_id: str
    created_at: datetime
    secret_rotated_at: datetime | None


@dataclass(frozen=True, slots=True)
class AppWithSecret:
    """The only place a client secret ever appears: the answer to registration or rotation."""

    app: AppView
    client_secret: str


def parse_scopes(names: list[str], field: str) -> frozenset[scopes.Scope]:
    try:
        return scopes.parse(names)
    except scopes.UnknownScope as error:
        raise InvalidInput(str(error), field=field) from None


# --- reads ----------------------------------------------------------------------------------


async def my_apps(ctx: ServiceContext, page: PageRequest) -> Page[AppView]:
    user = policy.require_user(ctx.actor)
    if not policy.app_visible(ctx.actor, user.id):
        # Apps are managed from a session: with a token the list is empty, not an error.
        return Page.from_rows([], page)
    statement = (
        select(App)
        .where(col(App.owner_id) == user.id, col(App.deleted_at).is_(None))
        .order_by(col(App.id))
        .limit(page.first + 1)
    )
    if page.after is not None:
        statement = statement.where(col(App.id) > page.after)
    rows = (await ctx.db.execute(statement)).scalars().all()
    return Page.from_rows([(app.id, _view(app)) for app in rows], page)  # type: ignore[misc]


async def app_by_id(ctx: ServiceContext, app_id: int) -> AppView | None:
    """The viewer's own app; None for anyone else's (node(id:))."""
    if ctx.actor.user is None:
        return None
    app = await ctx.db.get(App, app_id)
    if app is None or app.deleted_at is not None or not policy.app_visible(ctx.actor, app.owner_id):
        return None
    return _view(app)


# --- writes ---------------------------------------------------------------------------------


async def register_app(
    ctx: ServiceContext,
    *,
    name: str,
    homepage_url: str | None,
    requested_scopes: list[str],
) -> AppWithSecret:
    user = policy.require_session(ctx.actor)
    clean_name = normalize.text(name, "name", max_length=100, required=True)
    homepage = normalize.https_url(homepage_url, "homepageUrl")
    wanted = parse_scopes(requested_scopes, "requestedScopes")
    if not wanted:
        raise InvalidInput("Ask for at least one scope.", field="requestedScopes")
    count = await ctx.db.scalar(
        select(func.count()).where(col(App.owner_id) == user.id, col(App.deleted_at).is_(None))
    )
    if (count or 0) >= MAX_APPS_PER_USER:
        raise InvalidInput(f"You can register at most {MAX_APPS_PER_USER} apps.", field="name")
    secret = oauth_server.new_client_secret()
    app = App(
        owner_id=user.id,
        name=clean_name,
        homepage_url=homepage,
        requested_scopes=scopes.to_column(wanted),
        client_id=oauth_server.new_client_id(),
        client_secret_hash=token_hash(ctx.settings.secret_key, secret),
        created_at=ctx.now(),
    )
    ctx.db.add(app)
    await flush_or_conflict(ctx, "Please try again.", field="name")
    audit.app_registered(ctx, app=app)
    return AppWithSecret(app=_view(app), client_secret=secret)


async def rotate_secret(ctx: ServiceContext, *, app_id: int) -> AppWithSecret:
    """A new secret; the old one stops working at once, and so do the app's live tokens. Each
    installing team's trail records what it lost."""
    app = await _own_app(ctx, app_id)
    now = ctx.now()
    secret = oauth_server.new_client_secret()
    app.client_secret_hash = token_hash(ctx.settings.secret_key, secret)
    app.secret_rotated_at = now
    live = await _live_installations(ctx, app_id)
    revoked = await revoke_app_tokens(ctx, app_id=app_id, reason="secret_rotated")
    await ctx.db.flush()
    audit.app_secret_rotated(ctx, app=app, tokens_revoked=revoked.total())
    for installation in live:
        audit.installation_tokens_revoked(
            ctx,
            installation=installation,
            reason="secret_rotated",
            tokens_revoked=revoked[installation.id],
        )
    return AppWithSecret(app=_view(app), client_secret=secret)


async def delete_app(ctx: ServiceContext, *, app_id: int) -> None:
    """Uninstalled from every team and every token revoked, in this transaction."""
    app = await _own_app(ctx, app_id)
    now = ctx.now()
    app.deleted_at = now
    live = await _live_installations(ctx, app_id)
    for installation in live:
        installation.uninstalled_at = now
        installation.uninstalled_by_id = ctx.actor.user_id
    revoked = await revoke_app_tokens(ctx, app_id=app_id, reason="app_deleted")
    await ctx.db.flush()
    for installation in live:
        audit.app_uninstalled(
            ctx,
            installation=installation,
            reason="app_deleted",
            tokens_revoked=revoked[installation.id],
        )
    audit.app_deleted(ctx, app=app, installations=len(live), tokens_revoked=revoked.total())


async def revoke_app_tokens(
    ctx: ServiceContext, *, app_id: int, reason: str
) -> Counter[int | None]:
    """Set-based: every live token of every installation of the app; how many per
    installation (an installation keeps a few live tokens at most)."""
    result = await ctx.db.execute(
        update(ApiToken)
        .where(
            col(ApiToken.installation_id).in_(
                select(col(Installation.id)).where(col(Installation.app_id) == app_id)
            ),
            col(ApiToken.revoked_at).is_(None),
        )
        .values(revoked_at=ctx.now(), revoked_reason=reason)
        .returning(col(ApiToken.installation_id))
        .execution_options(synchronize_session=False)
    )
    return Counter(result.scalars())


# --- internals ------------------------------------------------------------------------------


async def _own_app(ctx: ServiceContext, app_id: int) -> App:
    policy.require_session(ctx.actor)
    app = (
        await ctx.db.execute(
            select(App)
            .where(col(App.id) == app_id, col(App.deleted_at).is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if app is None:
        raise NotFound("No such app.", field="appId")
    policy.require_app_owner(ctx.actor, app.owner_id)
    return app


async def _live_installations(ctx: ServiceContext, app_id: int) -> Sequence[Installation]:
    statement = select(Installation).where(
        col(Installation.app_id) == app_id, col(Installation.uninstalled_at).is_(None)
    )
    return (await ctx.db.execute(statement)).scalars().all()


def _view(app: App) -> AppView:
    return AppView(
        id=app.id,  # type: ignore[arg-type]
        name=app.name,
        homepage_url=app.homepage_url,
        requested_scopes=tuple(app.requested_scopes.split()),
        client_id=app.client_id,
        created_at=app.created_at,
        secret_rotated_at=app.secret_rotated_at,
    )
