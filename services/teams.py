"""Teams and their members: create, read, change roles, remove, leave, contact [P15]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, bindparam, false, func, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from auth import policy
from auth.scopes import Scope
from core.errors import Conflict, InvalidInput, NotFound
from core.hot_reads import HotRead
from models import Member, Role, Team, User, UserStatus
from services import audit, emails, normalize, quotas
from services.context import ServiceContext
from services.outbox import send_email
from services.pages import Page, PageRequest
from services.users import (
    USER_COLUMNS,
    USER_COLUMNS_UNTIMED,
    UserView,
    user_columns,
    user_view,
)

ROLE_ORDER = {Role.OWNER: 0, Role.ADMIN: 1, Role.BILLING: 2, Role.MEMBER: 3}


@dataclass(frozen=True, slots=True)
class TeamView:
    """A team as seen by a viewer who passed policy.team_visible."""

    id: int
    slug: str
    name: str
    created_at: datetime
    viewer_role: Role | None


# Not frozen, like UserView: pages build these by the hundred, and a frozen dataclass's
# __init__ costs about three times as much (one object.__setattr__ per field).
@dataclass(slots=True)
class MemberView:
    id: int
    team_id: int
    role: Role
    # None for a page read without timestamps (member_pages), as the user's created_at.
    joined_at: datetime | None
    user: UserView


# --- reads ----------------------------------------------------------------------------------


async def membership(ctx: ServiceContext, team_id: int) -> Member | None:
    """The actor's membership of a team, read afresh (never a stale copy from earlier); an
    installed app's stand-in membership of its own team."""
    if ctx.actor.installation is not None:
        return policy.installation_membership(ctx.actor, team_id)
    if ctx.actor.user_id is None:
        return None
    return (
        await ctx.db.execute(
            select(Member)
            .where(col(Member.team_id) == team_id, col(Member.user_id) == ctx.actor.user_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def locked_membership(ctx: ServiceContext, team_id: int) -> Member | None:
    """The actor's membership, read again after taking the team's write lock.

    Every change to a team's members takes this lock first, so changes to one team take turns:
    what a change checked (the owner count, a pending invitation, the actor's own role) stays
    true until it commits, and two changes never wait on each other's rows (no deadlock).
    Non-members get None without taking the lock.
    """
    if await membership(ctx, team_id) is None:
        return None
    await lock_team(ctx, team_id)
    return await membership(ctx, team_id)


async def lock_team(ctx: ServiceContext, team_id: int) -> None:
    # A write rather than SELECT ... FOR UPDATE: SQLite has no row locks, and only a write makes
    # its connection take the database's write lock. On PostgreSQL it locks the team row.
    await ctx.db.execute(
        update(Team)
        .where(col(Team.id) == team_id)
        .values(updated_at=Team.updated_at)
        .execution_options(synchronize_session=False)
    )


async def find_team(
    ctx: ServiceContext, *, team_id: int | None = None, slug: str | None = None
) -> TeamView | None:
    """The team if the viewer may see it; None otherwise (never revealing that it exists).

    Any token of a member reaches the team itself (id, slug, name, the viewer's role); what is
    in it (members, domains, audit trail...) asks for its own scope."""
    app = ctx.actor.installation
    if ctx.actor.user is None and app is None:
        return None
    if app is None:
        return await _find_users_team(ctx, team_id=team_id, slug=slug)
    statement = select(Team, col(Member.role)).outerjoin(
        Member,
        (col(Member.team_id) == col(Team.id)) & (col(Member.user_id) == ctx.actor.user_id),
    )
    # An installed app reaches its own team only (where no member row is its own).
    statement = statement.where(col(Team.id) == app.team_id)
    if team_id is not None:
        statement = statement.where(col(Team.id) == team_id)
    elif slug is not None and (wanted := _wanted_slug(slug)) is not None:
        statement = statement.where(col(Team.slug) == wanted)
    else:
        return None
    found = (await ctx.db.execute(statement)).first()
    if found is None:
        return None
    team, _ = found
    role = policy.installation_role(ctx.actor, cast(int, team.id))
    if not policy.team_visible(ctx.actor, role is not None):
        return None
    return _team_view(team, role)


# A team and the viewer's role in it, by slug or by id: every team page starts here.
_TEAM_COLUMNS = (
    col(Team.id),
    col(Team.slug),
    col(Team.name),
    col(Team.created_at),
    col(Member.role),
)
_TEAM_OF_VIEWER = select(*_TEAM_COLUMNS).outerjoin(
    Member,
    (col(Member.team_id) == col(Team.id)) & (col(Member.user_id) == bindparam("viewer_id")),
)
_TEAM_BY_SLUG = HotRead(_TEAM_OF_VIEWER.where(col(Team.slug) == bindparam("slug")))
_TEAM_BY_ID = HotRead(_TEAM_OF_VIEWER.where(col(Team.id) == bindparam("team_id")))


async def _find_users_team(
    ctx: ServiceContext, *, team_id: int | None, slug: str | None
) -> TeamView | None:
    viewer_id = ctx.actor.user_id
    if team_id is not None:
        row = await _TEAM_BY_ID.first(ctx.db, team_id=team_id, viewer_id=viewer_id)
    elif slug is not None and (wanted := _wanted_slug(slug)) is not None:
        row = await _TEAM_BY_SLUG.first(ctx.db, slug=wanted, viewer_id=viewer_id)
    else:
        return None
    if row is None or not policy.team_visible(ctx.actor, row.role is not None):
        return None
    return _team_view(row, row.role)


def _wanted_slug(slug: str) -> str | None:
    """The slug to look for, or None when no team can have it: cutting an overlong one short
    could name a different team, and PostgreSQL would refuse some strings (NUL bytes)."""
    wanted = slug.strip().lower()
    return wanted if normalize.SLUG_RE.fullmatch(wanted) else None


async def viewer_teams(ctx: ServiceContext, page: PageRequest) -> Page[TeamView]:
    user = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.TEAMS_READ)
    statement = (
        select(col(Member.id), Team, col(Member.role))
        .join(Team, col(Team.id) == col(Member.team_id))
        .where(col(Member.user_id) == user.id)
        .order_by(col(Member.id))
        .limit(page.first + 1)
    )
    if page.after is not None:
        statement = statement.where(col(Member.id) > page.after)
    rows = await ctx.db.execute(statement)
    # SQLModel types every id `int | None`; a stored membership always has one.
    return Page.from_rows(
        [(cast(int, key), _team_view(team, role)) for key, team, role in rows], page
    )


async def member_pages(
    ctx: ServiceContext, teams: Sequence[TeamView], page: PageRequest, *, timestamps: bool = True
) -> list[Page[MemberView]]:
    """One page of members for each team, in a single query however many teams there are.
    Without `timestamps` (a page that shows no dates) the views' joined_at and the users'
    created_at are None and email_verified False: those columns are not read."""
    policy.require_scope(ctx.actor, Scope.TEAMS_READ)
    if not teams:
        return []
    team_ids = [team.id for team in teams]
    after = [col(Member.id) > page.after] if page.after is not None else []
    if len(team_ids) == 1:
        # One team (a team page): a keyset scan of (team_id, id) that stops after first + 1
        # rows, as a hot read.
        read = _one_team_page(
            viewer=ctx.actor.user_id is not None,
            after=page.after is not None,
            timestamps=timestamps,
        )
        params: dict[str, Any] = {"team_id": team_ids[0], "limit": page.first + 1}
        if page.after is not None:
            params["after"] = page.after
        if ctx.actor.user_id is not None:
            params.update(viewer_id=ctx.actor.user_id, now=ctx.now())
        rows = await read.rows(ctx.db, **params)
        items = [(row.member_id, _member_view(ctx, row)) for row in rows]
        return [Page.from_rows(items, page)]
    else:
        # Rank memberships alone (an index scan), then join users for the winners only:
        # ranking the member-user join would read every user of every team.
        ranked = (
            select(
                col(Member.id).label("ranked_id"),
                func.row_number()
                .over(partition_by=col(Member.team_id), order_by=col(Member.id))
                .label("position"),
            )
            .where(col(Member.team_id).in_(team_ids), *after)
            .subquery()
        )
        statement = (
            _member_rows(ctx, timestamps=timestamps)
            .join(ranked, ranked.c.ranked_id == col(Member.id))
            .where(ranked.c.position <= page.first + 1)
            .order_by(col(Member.team_id), col(Member.id))
        )
    by_team: dict[int, list[tuple[int, MemberView]]] = {team_id: [] for team_id in team_ids}
    for row in await ctx.db.execute(statement):
        by_team[row.team_id].append((row.member_id, _member_view(ctx, row)))
    return [Page.from_rows(by_team[team_id], page) for team_id in team_ids]


async def member_counts(ctx: ServiceContext, team_ids: Sequence[int]) -> list[int]:
    policy.require_scope(ctx.actor, Scope.TEAMS_READ)
    rows = await ctx.db.execute(
        select(col(Member.team_id), func.count())
        .where(col(Member.team_id).in_(team_ids))
        .group_by(col(Member.team_id))
    )
    counts: dict[int, int] = {team_id: count for team_id, count in rows}
    return [counts.get(team_id, 0) for team_id in team_ids]


async def contacts(ctx: ServiceContext, teams: Sequence[TeamView]) -> list[list[MemberView]]:
    """[P15] Every member may list the team's owners, admins and billing contacts; for any
    number of teams (each passed policy.team_visible) in one query."""
    policy.require_scope(ctx.actor, Scope.TEAMS_READ)
    by_team: dict[int, list[MemberView]] = {team.id: [] for team in teams}
    rows = await ctx.db.execute(
        _member_rows(ctx).where(
            col(Member.team_id).in_(list(by_team)), col(Member.role) != Role.MEMBER
        )
    )
    for row in rows:
        by_team[row.team_id].append(_member_view(ctx, row))
    order = lambda view: (ROLE_ORDER[view.role], view.user.username)  # noqa: E731
    return [sorted(by_team[team.id], key=order) for team in teams]


async def members_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[MemberView | None]:
    """Members of teams the viewer belongs to, in one query."""
    if not ids or policy.is_nobody(ctx.actor):
        return [None for _ in ids]
    visible = policy.visible_team_ids(ctx.actor, Scope.TEAMS_READ)
    statement = _member_rows(ctx).where(
        col(Member.id).in_(set(ids)), col(Member.team_id).in_(visible)
    )
    found = {row.member_id: _member_view(ctx, row) for row in await ctx.db.execute(statement)}
    return [found.get(member_id) for member_id in ids]


# --- writes ---------------------------------------------------------------------------------


async def create_team(ctx: ServiceContext, *, name: str, slug: str | None) -> TeamView:
    user = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.TEAMS_WRITE)
    clean_name = normalize.text(name, "name", max_length=100, required=True)
    clean_slug = normalize.slug(slug if slug else normalize.slug_from_name(clean_name))
    if await ctx.db.scalar(select(func.count()).where(col(Team.slug) == clean_slug)):
        raise Conflict("That slug is taken.", field="slug")
    now = ctx.now()
    team = Team(slug=clean_slug, name=clean_name, created_at=now, updated_at=now)
    ctx.db.add(team)
    try:
        await ctx.db.flush()
    except IntegrityError:
        raise Conflict("That slug is taken.", field="slug") from None
    ctx.db.add(Member(team_id=team.id, user_id=user.id, role=Role.OWNER, created_at=now))  # type: ignore[arg-type]
    audit.team_created(ctx, team=team)
    await ctx.db.flush()
    return _team_view(team, Role.OWNER)


async def update_team(ctx: ServiceContext, *, team_id: int, name: str) -> TeamView:
    manager = policy.require_team_manager(
        ctx.actor, await membership(ctx, team_id), Scope.TEAMS_WRITE
    )
    team = await ctx.db.get(Team, team_id)
    assert team is not None
    team.name = normalize.text(name, "name", max_length=100, required=True)
    team.updated_at = ctx.now()
    audit.team_updated(ctx, team=team, fields=["name"])
    return _team_view(team, manager.role)


async def change_role(ctx: ServiceContext, *, member_id: int, role: Role) -> MemberView:
    target, own = await _member_for_update(ctx, member_id)
    manager = policy.require_team_manager(ctx.actor, own, Scope.MEMBERS_MANAGE)
    policy.check_manage_member(ctx.actor, manager, target)
    policy.check_grant(ctx.actor, manager, role)
    if target.role == role:
        return await changed_member(ctx, member_id)
    policy.check_keeps_an_owner(target, role, await _owner_count(ctx, target.team_id))
    old_role = target.role
    target.role = role
    await ctx.db.flush()
    audit.member_role_changed(ctx, member=target, old_role=old_role)
    return await changed_member(ctx, member_id)


async def remove_member(ctx: ServiceContext, *, member_id: int) -> None:
    target, own = await _member_for_update(ctx, member_id)
    if own.id == target.id:
        # Whatever their role, someone removing themself means to leave: say how.
        raise InvalidInput("To remove yourself, leave the team.", field="memberId")
    manager = policy.require_team_manager(ctx.actor, own, Scope.MEMBERS_MANAGE)
    policy.check_manage_member(ctx.actor, manager, target)
    policy.check_keeps_an_owner(target, None, await _owner_count(ctx, target.team_id))
    audit.member_removed(ctx, member=target)
    await ctx.db.delete(target)
    await ctx.db.flush()


async def leave_team(ctx: ServiceContext, *, team_id: int) -> None:
    policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.TEAMS_WRITE)
    own = await locked_membership(ctx, team_id)
    policy.require_team_view(ctx.actor, own)
    if own is None:
        raise NotFound("You are not a member of this team.", field="teamId")
    policy.check_keeps_an_owner(own, None, await _owner_count(ctx, team_id))
    audit.member_left(ctx, member=own)
    await ctx.db.delete(own)
    await ctx.db.flush()


async def contact_admins(
    ctx: ServiceContext, *, team_id: int, subject: str, message: str, share_email: bool = False
) -> int:
    """[P15] Send a message to the team's owners and admins; returns how many were written to.

    The sender's address goes out (as Reply-To) only when they ask for it or made it public:
    writing to admins must not leak a private email [P1]."""
    sender = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.TEAMS_WRITE)
    team = await find_team(ctx, team_id=team_id)
    if team is None or team.viewer_role is None:
        raise NotFound("No such team.", field="teamId")
    clean_subject = normalize.text(subject, "subject", max_length=150, required=True)
    body = normalize.multiline_text(message, "message", max_length=5000)
    await quotas.spend(ctx, quotas.TEAM_CONTACTS, f"user:{sender.id}")
    recipients = (
        (
            await ctx.db.execute(
                select(col(User.email))
                .join(Member, col(Member.user_id) == col(User.id))
                .where(
                    col(Member.team_id) == team_id,
                    col(Member.role).in_([Role.OWNER, Role.ADMIN]),
                    col(User.status) == UserStatus.ACTIVE,
                    col(User.id) != sender.id,
                )
            )
        )
        .scalars()
        .all()
    )
    reply_to = sender.email if share_email or sender.email_public else None
    for address in recipients:
        send_email(
            ctx,
            to=address,
            email=emails.team_contact(
                team_name=team.name,
                sender=sender.username,
                subject=clean_subject,
                message=body,
                can_reply=reply_to is not None,
            ),
            reply_to=reply_to,
        )
    audit.team_contacted(ctx, team_id=team_id, recipients=len(recipients))
    return len(recipients)


# --- internals ------------------------------------------------------------------------------


def _team_view(team: Any, role: Role | None) -> TeamView:
    """From a Team, or a row with its id, slug, name and created_at."""
    return TeamView(
        id=team.id,
        slug=team.slug,
        name=team.name,
        created_at=team.created_at,
        viewer_role=Role(role) if role is not None else None,
    )


def _member_rows(ctx: ServiceContext, *, timestamps: bool = True) -> Select[Any]:
    return _member_select(user_columns(ctx, timestamps=timestamps), timestamps=timestamps)


def _member_select(users: tuple[Any, ...], *, timestamps: bool = True) -> Select[Any]:
    """Exactly the columns a MemberView needs: the membership and its user (`users`: the
    user columns with the [P2] fact), in one join; without `timestamps`, NULL for the date
    joined (see USER_COLUMNS_UNTIMED)."""
    joined_at = col(Member.created_at) if timestamps else null()
    return select(
        col(Member.id).label("member_id"),
        col(Member.team_id),
        col(Member.role),
        joined_at.label("joined_at"),
        *users,
    ).join(User, col(User.id) == col(Member.user_id))


def _one_team_page(*, viewer: bool, after: bool, timestamps: bool) -> HotRead:
    """One team's page of members, with the [P2] email fact for the viewer as parameters."""
    key = (viewer, after, timestamps)
    read = _ONE_TEAM_PAGES.get(key)
    if read is None:
        in_domain = (
            policy.email_in_managed_domain(bindparam("viewer_id"), bindparam("now"))  # type: ignore[arg-type]
            if viewer
            else false()
        )
        users = USER_COLUMNS if timestamps else USER_COLUMNS_UNTIMED
        statement = (
            _member_select(
                (*users, in_domain.label("email_in_managed_domain")), timestamps=timestamps
            )
            .where(col(Member.team_id) == bindparam("team_id"))
            .order_by(col(Member.id))
            .limit(bindparam("limit"))
        )
        if after:
            statement = statement.where(col(Member.id) > bindparam("after"))
        read = _ONE_TEAM_PAGES[key] = HotRead(statement)
    return read


_ONE_TEAM_PAGES: dict[tuple[bool, bool, bool], HotRead] = {}


def _member_view(ctx: ServiceContext, row: object) -> MemberView:
    return MemberView(
        id=row.member_id,  # type: ignore[attr-defined]
        team_id=row.team_id,  # type: ignore[attr-defined]
        role=row.role,  # type: ignore[attr-defined]  # the column's type made it a Role
        joined_at=row.joined_at,  # type: ignore[attr-defined]
        user=user_view(ctx.actor, row),
    )


async def changed_member(ctx: ServiceContext, member_id: int) -> MemberView:
    """The member a mutation just changed or created, for its payload: the caller was allowed
    to change it, so no read scope is asked for besides."""
    row = (await ctx.db.execute(_member_rows(ctx).where(col(Member.id) == member_id))).one()
    return _member_view(ctx, row)


async def _member_for_update(ctx: ServiceContext, member_id: int) -> tuple[Member, Member]:
    """The member to act on and the actor's own membership of its team, read under the team's
    lock. Another team's member looks exactly like a missing one."""
    policy.require_principal(ctx.actor)
    team_id = await ctx.db.scalar(select(col(Member.team_id)).where(col(Member.id) == member_id))
    own = await locked_membership(ctx, team_id) if team_id is not None else None
    target = (
        (
            await ctx.db.execute(
                select(Member)
                .where(col(Member.id) == member_id)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if own is not None
        else None
    )
    if own is None or target is None:
        raise NotFound("No such member.", field="memberId")
    return target, own


async def _owner_count(ctx: ServiceContext, team_id: int) -> int:
    # Exact: callers hold the team's lock (locked_membership), so no owner can change meanwhile.
    count = await ctx.db.scalar(
        select(func.count()).where(col(Member.team_id) == team_id, col(Member.role) == Role.OWNER)
    )
    return int(count or 0)
