"""Invitations: a manager invites an email address with a role; its holder accepts once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import col

from auth import policy
from auth.scopes import Scope
from auth.secrets import new_token, plausible_token, token_hash
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models import Invitation, Member, Role, Team
from services import audit, email_events, emails, normalize, quotas
from services.context import ServiceContext
from services.outbox import send_email
from services.teams import MemberView, changed_member, lock_team, locked_membership, membership


@dataclass(frozen=True, slots=True)
class InvitationView:
    id: int
    team_id: int
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    invited_by_id: int | None


async def invite(ctx: ServiceContext, *, team_id: int, email: str, role: Role) -> InvitationView:
    inviter = policy.require_user(ctx.actor)
    address = normalize.email(email)
    # Counted before the team lock is taken: the side engine must not wait on this request.
    await quotas.spend(ctx, quotas.INVITATIONS, f"user:{inviter.id}")
    manager = policy.require_team_manager(
        ctx.actor, await locked_membership(ctx, team_id), Scope.MEMBERS_MANAGE
    )
    policy.check_grant(ctx.actor, manager, role)
    now = ctx.now()
    # No "already a member" check by address: it would let an admin confirm which member owns
    # a private email [P1]. A member who accepts is told so instead.
    pending = await ctx.db.scalar(
        select(col(Invitation.id)).where(
            *_pending(now), col(Invitation.team_id) == team_id, col(Invitation.email) == address
        )
    )
    if pending:
        raise Conflict(
            "That address already has a pending invitation; revoke it to send a new one.",
            field="email",
        )
    team = await ctx.db.get(Team, team_id)
    assert team is not None and ctx.actor.user is not None
    token = new_token()
    invitation = Invitation(
        team_id=team_id,
        email=address,
        role=role,
        token_hash=token_hash(ctx.settings.secret_key, token),
        invited_by_id=ctx.actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=ctx.settings.invitation_days),
    )
    ctx.db.add(invitation)
    await ctx.db.flush()
    send_email(
        ctx,
        to=address,
        email=emails.invitation(
            base_url=ctx.settings.links_base_url,
            team_name=team.name,
            inviter=ctx.actor.user.display_name or ctx.actor.user.username,
            role=role.value,
            token=token,
            expires_at=invitation.expires_at,
        ),
    )
    audit.invitation_sent(ctx, invitation=invitation)
    return _view(invitation)


async def revoke(ctx: ServiceContext, *, invitation_id: int) -> InvitationView:
    policy.require_principal(ctx.actor)
    team_id = await ctx.db.scalar(
        select(col(Invitation.team_id)).where(col(Invitation.id) == invitation_id)
    )
    own = await locked_membership(ctx, team_id) if team_id is not None else None
    invitation = await _fresh(ctx, col(Invitation.id) == invitation_id) if own is not None else None
    if invitation is None or own is None:
        # Another team's invitation looks exactly like a missing one.
        raise NotFound("No such invitation.", field="invitationId")
    manager = policy.require_team_manager(ctx.actor, own, Scope.MEMBERS_MANAGE)
    policy.check_grant(ctx.actor, manager, invitation.role)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise InvalidInput("This invitation is no longer pending.", field="invitationId")
    invitation.revoked_at = ctx.now()
    audit.invitation_revoked(ctx, invitation=invitation)
    return _view(invitation)


async def accept(ctx: ServiceContext, *, token: str) -> MemberView:
    user = policy.require_user(ctx.actor)
    policy.require_scope(ctx.actor, Scope.TEAMS_WRITE)
    now = ctx.now()
    if not plausible_token(token):
        # Our tokens are short URL-safe ASCII; anything else (a lone surrogate cannot even be
        # hashed) matches no invitation.
        raise NotFound("This invitation link is not valid.", field="token")
    hashed = token_hash(ctx.settings.secret_key, token)
    team_id = await ctx.db.scalar(
        select(col(Invitation.team_id)).where(col(Invitation.token_hash) == hashed)
    )
    if team_id is not None:
        # Taken before reading the invitation, so two acceptances (or an acceptance and a
        # revocation) take turns and the second sees what the first did.
        await lock_team(ctx, team_id)
    invitation = await _fresh(ctx, col(Invitation.token_hash) == hashed)
    if invitation is None:
        raise NotFound("This invitation link is not valid.", field="token")
    if invitation.accepted_at is not None:
        raise InvalidInput("This invitation was already used.", field="token")
    if invitation.revoked_at is not None:
        raise InvalidInput("This invitation was revoked.", field="token")
    if invitation.expires_at <= now:
        raise InvalidInput("This invitation has expired; ask for a new one.", field="token")
    if invitation.email != user.email:
        # A forwarded or leaked link must not let someone else in.
        raise Forbidden(
            "This invitation was sent to a different email address than your account's.",
            field="token",
        )
    if await membership(ctx, invitation.team_id) is not None:
        raise Conflict("You are already a member of this team.", field="token")
    member = Member(
        team_id=invitation.team_id,
        user_id=user.id,  # type: ignore[arg-type]
        role=invitation.role,
        created_at=now,
    )
    ctx.db.add(member)
    invitation.accepted_at = now
    invitation.accepted_by_id = user.id
    if user.email_verified_at is None:
        # Opening the emailed link proves control of the address, as a verification link does.
        await email_events.email_verified(ctx, user, via="invitation")
    await ctx.db.flush()
    audit.member_joined(ctx, member=member, invitation=invitation)
    return await changed_member(ctx, member.id)  # type: ignore[arg-type]


async def pending_for_teams(
    ctx: ServiceContext, team_ids: Sequence[int]
) -> list[list[InvitationView]]:
    """Pending invitations per team; the caller has checked policy.can_read_invitations."""
    policy.require_scope(ctx.actor, Scope.MEMBERS_MANAGE)
    rows = await ctx.db.execute(
        select(Invitation)
        .where(*_pending(ctx.now()), col(Invitation.team_id).in_(team_ids))
        .order_by(col(Invitation.id))
    )
    by_team: dict[int, list[InvitationView]] = {team_id: [] for team_id in team_ids}
    for invitation in rows.scalars():
        by_team[invitation.team_id].append(_view(invitation))
    return [by_team[team_id] for team_id in team_ids]


async def invitations_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[InvitationView | None]:
    """For node(id:): only managers of the invitation's team see it, and only while it is
    pending: an accepted invitation's address is a member's (possibly private) email."""
    if not ids or policy.is_nobody(ctx.actor):
        return [None for _ in ids]
    managed = policy.managed_team_ids(ctx.actor, Scope.MEMBERS_MANAGE)
    rows = await ctx.db.execute(
        select(Invitation).where(
            col(Invitation.id).in_(set(ids)),
            col(Invitation.team_id).in_(managed),
            *_pending(ctx.now()),
        )
    )
    found = {invitation.id: _view(invitation) for invitation in rows.scalars()}
    return [found.get(invitation_id) for invitation_id in ids]


async def _fresh(ctx: ServiceContext, condition: Any) -> Invitation | None:
    return (
        await ctx.db.execute(
            select(Invitation).where(condition).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


def _pending(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Invitation.accepted_at).is_(None),
        col(Invitation.revoked_at).is_(None),
        col(Invitation.expires_at) > now,
    )


def _view(invitation: Invitation) -> InvitationView:
    return InvitationView(
        id=invitation.id,  # type: ignore[arg-type]
        team_id=invitation.team_id,
        email=invitation.email,
        role=Role(invitation.role),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        invited_by_id=invitation.invited_by_id,
    )
