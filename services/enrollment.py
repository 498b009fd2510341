"""Domain enrollment (SPEC 2): users whose verified address lies in a team's verified domain
are offered the team (`suggest`) or made members when the address is verified (`auto_join`).

Teams that auto-join are offered too, to users who verified their address before the team
turned auto-join on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlmodel import col

from auth import policy
from auth.scopes import Scope
from core.errors import Conflict, InvalidInput
from models import Domain, Enrollment, Member, Role, Team, User
from services import audit, normalize
from services.context import ServiceContext
from services.teams import MemberView, changed_member, lock_team

OFFERING = (Enrollment.SUGGEST, Enrollment.AUTO_JOIN)


@dataclass(frozen=True, slots=True)
class SuggestedTeamView:
    team_id: int
    slug: str
    name: str
    domain: str


async def suggested_teams(ctx: ServiceContext) -> list[SuggestedTeamView]:
    user = ctx.actor.user
    if user is None or user.email_verified_at is None:
        return []
    policy.require_scope(ctx.actor, Scope.TEAMS_READ)
    rows = await ctx.db.execute(_offers(ctx, user, OFFERING).order_by(col(Team.name)))
    return [
        SuggestedTeamView(
            team_id=team.id,  # type: ignore[arg-type]
            slug=team.slug,
            name=team.name,
            domain=domain.unicode_name,
        )
        for team, domain in rows
    ]


async def join_suggested_team(ctx: ServiceContext, *, team_id: int) -> MemberView:
    user = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.TEAMS_WRITE)
    if await ctx.db.scalar(
        select(col(Member.id)).where(col(Member.team_id) == team_id, col(Member.user_id) == user.id)
    ):
        raise Conflict("You are already a member of this team.", field="teamId")
    offer = (
        await ctx.db.execute(_offers(ctx, user, OFFERING).where(col(Team.id) == team_id))
    ).first()
    policy.check_join_by_domain(user, offer is not None)
    assert offer is not None
    member = await _join(ctx, user, offer[1], via="suggestion")
    if member is None:
        raise Conflict("You are already a member of this team.", field="teamId")
    return await changed_member(ctx, member.id)  # type: ignore[arg-type]


async def enroll_verified_email(ctx: ServiceContext, user: User) -> None:
    """Auto-join: called from email_events.email_verified, in that transaction."""
    # Earlier changes of this request (an accepted invitation's membership) must be visible.
    await ctx.db.flush()
    for _, domain in (await ctx.db.execute(_offers(ctx, user, (Enrollment.AUTO_JOIN,)))).all():
        await _join(ctx, user, domain, via="auto_join")


def _offers(ctx: ServiceContext, user: User, modes: tuple[Enrollment, ...]) -> Select[Team, Domain]:
    """Teams holding, in force and with one of `modes`, the domain of the user's address,
    that the user is not a member of. (At most one team holds a domain verified.)"""
    try:
        wanted = normalize.domain_name(normalize.email_domain(user.email))
    except InvalidInput:
        wanted = ""  # an address whose domain is no DNS name matches no domain
    already = exists().where(col(Member.team_id) == Team.id, col(Member.user_id) == user.id)
    return (
        select(Team, Domain)
        .join(Domain, col(Domain.team_id) == Team.id)
        .where(
            col(Domain.name) == wanted,
            Domain.in_force(ctx.now()),
            col(Domain.enrollment).in_(modes),
            ~already,
        )
    )


async def _join(ctx: ServiceContext, user: User, domain: Domain, *, via: str) -> Member | None:
    """Add the user as a member under the team's lock; None if they became one meanwhile."""
    await lock_team(ctx, domain.team_id)
    if await ctx.db.scalar(
        select(col(Member.id)).where(
            col(Member.team_id) == domain.team_id, col(Member.user_id) == user.id
        )
    ):
        return None
    member = Member(
        team_id=domain.team_id,
        user_id=user.id,  # type: ignore[arg-type]
        role=Role.MEMBER,
        created_at=ctx.now(),
    )
    ctx.db.add(member)
    await ctx.db.flush()
    audit.member_joined_by_domain(ctx, member=member, domain=domain, via=via)
    return member
