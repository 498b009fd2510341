"""Installations (SPEC 6, and SPEC 5's admin powers): a team's owner or admin installs a
partner app into the team, granting some of the scopes it asked for.

[P14] Uninstalling revokes every token of the installation in the same transaction, with one
set-based UPDATE; shrinking the granted scopes revokes the live tokens too (they are short-lived,
and the app simply asks for new ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel import col

from auth import oauth_server, policy, scopes
from core.errors import Conflict, NotFound
from models import ApiToken, App, Installation
from services import audit
from services.apps import parse_scopes
from services.context import ServiceContext, flush_or_conflict
from services.pages import Page, PageRequest
from services.teams import locked_membership
from services.token_revocation import revoke_tokens

ALREADY_INSTALLED = "This app is already installed in the team."


@dataclass(frozen=True, slots=True)
class InstallationView:
    id: int
    team_id: int
    app_id: int
    app_name: str
    app_homepage_url: str | None
    client_id: str
    scopes: tuple[str, ...]
    installed_at: datetime
    installed_by_id: int | None
    uninstalled_at: datetime | None


# --- reads (callers passed policy.can_see_installations) -----------------------------------


async def installation_pages(
    ctx: ServiceContext, team_ids: Sequence[int], page: PageRequest
) -> list[Page[InstallationView]]:
    """Each team's live installations, oldest first; one query however many teams."""
    if not team_ids:
        return []
    after = [col(Installation.id) > page.after] if page.after is not None else []
    live = col(Installation.uninstalled_at).is_(None)
    if len(team_ids) == 1:
        statement = (
            _rows()
            .where(col(Installation.team_id) == team_ids[0], live, *after)
            .order_by(col(Installation.id))
            .limit(page.first + 1)
        )
    else:
        ranked = (
            select(
                col(Installation.id).label("ranked_id"),
                func.row_number()
                .over(partition_by=col(Installation.team_id), order_by=col(Installation.id))
                .label("position"),
            )
            .where(col(Installation.team_id).in_(team_ids), live, *after)
            .subquery()
        )
        statement = (
            _rows()
            .join(ranked, ranked.c.ranked_id == col(Installation.id))
            .where(ranked.c.position <= page.first + 1)
            .order_by(col(Installation.team_id), col(Installation.id))
        )
    by_team: dict[int, list[tuple[int, InstallationView]]] = {team_id: [] for team_id in team_ids}
    for row in await ctx.db.execute(statement):
        view = _view(row)
        by_team[view.team_id].append((view.id, view))
    return [Page.from_rows(by_team[team_id], page) for team_id in team_ids]


async def installations_by_id(
    ctx: ServiceContext, ids: Sequence[int]
) -> list[InstallationView | None]:
    """Installations (live or not) of teams whose installations the viewer may see."""
    if not ids:
        return []
    statement = _rows().where(
        col(Installation.id).in_(set(ids)),
        col(Installation.team_id).in_(policy.installation_team_ids(ctx.actor)),
    )
    found = {view.id: view for view in map(_view, await ctx.db.execute(statement))}
    return [found.get(key) for key in ids]


# --- writes ---------------------------------------------------------------------------------


async def install_app(
    ctx: ServiceContext, *, team_id: int, client_id: str, scope_names: list[str]
) -> InstallationView:
    policy.require_installation_manager(ctx.actor, await locked_membership(ctx, team_id))
    if not oauth_server.plausible_client_id(client_id):
        raise NotFound("No app has that client id.", field="clientId")
    app = (
        await ctx.db.execute(
            select(App)
            .where(col(App.client_id) == client_id, col(App.deleted_at).is_(None))
            # Shared lock: an app being deleted (which locks it) is not installed meanwhile.
            .with_for_update(read=True)
        )
    ).scalar_one_or_none()
    if app is None:
        raise NotFound("No app has that client id.", field="clientId")
    granted = parse_scopes(scope_names, "scopes")
    policy.check_installation_scopes(granted, scopes.from_column(app.requested_scopes))
    taken = await ctx.db.scalar(
        select(func.count()).where(
            col(Installation.app_id) == app.id,
            col(Installation.team_id) == team_id,
            col(Installation.uninstalled_at).is_(None),
        )
    )
    if taken:
        raise Conflict(ALREADY_INSTALLED, field="clientId")
    installation = Installation(
        app_id=app.id,  # type: ignore[arg-type]
        team_id=team_id,
        scopes=scopes.to_column(granted),
        installed_by_id=ctx.actor.user_id,
        installed_at=ctx.now(),
    )
    ctx.db.add(installation)
    # The partial unique index uq_installation_live_app_team decides a race.
    await flush_or_conflict(ctx, ALREADY_INSTALLED, field="clientId")
    audit.app_installed(ctx, installation=installation, app=app)
    return await _view_by_id(ctx, installation.id)  # type: ignore[arg-type]


async def uninstall_app(ctx: ServiceContext, *, installation_id: int) -> InstallationView:
    """[P14] The installation ends and every one of its tokens is revoked, in this
    transaction: the next request with any of them is refused."""
    installation = await _managed_installation(ctx, installation_id)
    installation.uninstalled_at = ctx.now()
    installation.uninstalled_by_id = ctx.actor.user_id
    await ctx.db.flush()
    revoked = await _revoke_tokens(ctx, installation_id, reason="uninstalled")
    audit.app_uninstalled(
        ctx, installation=installation, reason="uninstalled", tokens_revoked=revoked
    )
    return await _view_by_id(ctx, installation_id)


async def update_scopes(
    ctx: ServiceContext, *, installation_id: int, scope_names: list[str]
) -> InstallationView:
    """Change what the team grants; if anything is taken away, live tokens are revoked."""
    installation = await _managed_installation(ctx, installation_id)
    app = await ctx.db.get(App, installation.app_id)
    assert app is not None
    granted = parse_scopes(scope_names, "scopes")
    policy.check_installation_scopes(granted, scopes.from_column(app.requested_scopes))
    before = scopes.from_column(installation.scopes)
    if granted == before:
        return await _view_by_id(ctx, installation_id)
    installation.scopes = scopes.to_column(granted)
    await ctx.db.flush()
    revoked = 0
    if before - granted:
        revoked = await _revoke_tokens(ctx, installation_id, reason="scopes_reduced")
    audit.installation_scopes_changed(
        ctx, installation=installation, before=before, tokens_revoked=revoked
    )
    return await _view_by_id(ctx, installation_id)


# --- internals ------------------------------------------------------------------------------


async def _managed_installation(ctx: ServiceContext, installation_id: int) -> Installation:
    """A live installation of a team the actor manages, read under the team's lock; any other
    looks exactly like a missing one."""
    policy.require_session(ctx.actor)
    team_id = await ctx.db.scalar(
        select(col(Installation.team_id)).where(
            col(Installation.id) == installation_id, col(Installation.uninstalled_at).is_(None)
        )
    )
    own = await locked_membership(ctx, team_id) if team_id is not None else None
    policy.require_installation_manager(ctx.actor, own, subject="installation")
    installation = (
        await ctx.db.execute(
            select(Installation)
            .where(col(Installation.id) == installation_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if installation.uninstalled_at is not None:
        raise NotFound("No such installation.", field="installationId")
    return installation


async def _revoke_tokens(ctx: ServiceContext, installation_id: int, *, reason: str) -> int:
    return await revoke_tokens(ctx, col(ApiToken.installation_id) == installation_id, reason=reason)


def _rows() -> Select[*tuple[Any, ...]]:
    return select(
        col(Installation.id),
        col(Installation.team_id),
        col(Installation.app_id),
        col(Installation.scopes),
        col(Installation.installed_at),
        col(Installation.installed_by_id),
        col(Installation.uninstalled_at),
        col(App.name).label("app_name"),
        col(App.homepage_url).label("app_homepage_url"),
        col(App.client_id),
    ).join(App, col(App.id) == col(Installation.app_id))


def _view(row: Any) -> InstallationView:
    return InstallationView(
        id=row.id,
        team_id=row.team_id,
        app_id=row.app_id,
        app_name=row.app_name,
        app_homepage_url=row.app_homepage_url,
        client_id=row.client_id,
        scopes=tuple(row.scopes.split()),
        installed_at=row.installed_at,
        installed_by_id=row.installed_by_id,
        uninstalled_at=row.uninstalled_at,
    )


async def _view_by_id(ctx: ServiceContext, installation_id: int) -> InstallationView:
    row = (await ctx.db.execute(_rows().where(col(Installation.id) == installation_id))).one()
    return _view(row)
