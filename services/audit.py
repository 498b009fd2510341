"""Audit recorders: one keyword-only function per action, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent, Domain, Invitation, Member, Role, Team, User
from services import audit_chain
from services.context import ServiceContext


def _record(
    ctx: ServiceContext,
    action: str,
    *,
    team_id: int | None = None,
    target: User | Team | Member | Invitation | Domain | None = None,
    actor_user_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    actor = ctx.actor
    user_id = actor_user_id if actor_user_id is not None else actor.user_id
    event = AuditEvent(
        action=action,
        actor_kind="user" if user_id is not None else "system",
        actor_user_id=user_id,
        team_id=team_id,
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=target.id if target is not None else None,
        ip_address=actor.origin.ip_address,
        user_agent=actor.origin.user_agent,
        details=details or {},
        created_at=ctx.now(),
    )
    ctx.db.add(event)
    audit_chain.track(ctx.db, event)
    return event


async def sign_in_failed(ctx: ServiceContext, *, user_id: int | None) -> None:
    # Written in a session of its own and committed at once: the request's transaction is
    # rolled back because the sign-in failed, but the attempt must stay on record.
    origin = ctx.actor.origin
    async with AsyncSession(ctx.engine, expire_on_commit=False) as db:
        event = AuditEvent(
            action="user.sign_in_failed",
            actor_kind="anonymous",
            target_type="user" if user_id is not None else None,
            target_id=user_id,
            ip_address=origin.ip_address,
            user_agent=origin.user_agent,
            details={},
            created_at=ctx.now(),
        )
        if user_id is None:
            # Misses on unknown names chain per address, not through one platform-wide head.
            event.chain_key = audit_chain.address_chain_key(origin.ip_address)
        db.add(event)
        audit_chain.track(db, event)
        await db.commit()


def user_signed_up(ctx: ServiceContext, *, user: User) -> None:
    _record(ctx, "user.signed_up", target=user, actor_user_id=user.id)


def user_signed_in(
    ctx: ServiceContext, *, user: User, session_id: int | None, via: str = "password"
) -> None:
    _record(
        ctx,
        "user.signed_in",
        target=user,
        actor_user_id=user.id,
        details={"session_id": session_id, "via": via},
    )


def user_signed_out(ctx: ServiceContext, *, user: User) -> None:
    _record(ctx, "user.signed_out", target=user)


def session_revoked(ctx: ServiceContext, *, user: User, session_id: int) -> None:
    _record(ctx, "session.revoked", target=user, details={"session_id": session_id})


def profile_updated(ctx: ServiceContext, *, user: User, fields: list[str]) -> None:
    _record(ctx, "user.profile_updated", target=user, details={"fields": sorted(fields)})


def email_change_requested(ctx: ServiceContext, *, user: User) -> None:
    _record(ctx, "user.email_change_requested", target=user)


def email_verified(ctx: ServiceContext, *, user: User, via: str) -> None:
    _record(ctx, "user.email_verified", target=user, actor_user_id=user.id, details={"via": via})


def password_changed(ctx: ServiceContext, *, user: User, sessions_revoked: int) -> None:
    _record(
        ctx, "user.password_changed", target=user, details={"sessions_revoked": sessions_revoked}
    )


def staff_created(ctx: ServiceContext, *, user: User) -> None:
    _record(ctx, "staff.created", target=user)


def team_created(ctx: ServiceContext, *, team: Team) -> None:
    _record(ctx, "team.created", team_id=team.id, target=team)


def team_updated(ctx: ServiceContext, *, team: Team, fields: list[str]) -> None:
    _record(ctx, "team.updated", team_id=team.id, target=team, details={"fields": sorted(fields)})


def member_role_changed(ctx: ServiceContext, *, member: Member, old_role: Role) -> None:
    _record(
        ctx,
        "member.role_changed",
        team_id=member.team_id,
        target=member,
        details={"user_id": member.user_id, "from": old_role.value, "to": member.role.value},
    )


def member_removed(ctx: ServiceContext, *, member: Member) -> None:
    _record(
        ctx,
        "member.removed",
        team_id=member.team_id,
        target=member,
        details={"user_id": member.user_id, "role": member.role.value},
    )


def member_left(ctx: ServiceContext, *, member: Member) -> None:
    _record(
        ctx,
        "member.left",
        team_id=member.team_id,
        target=member,
        details={"user_id": member.user_id, "role": member.role.value},
    )


def member_joined(ctx: ServiceContext, *, member: Member, invitation: Invitation) -> None:
    _record(
        ctx,
        "member.joined",
        team_id=member.team_id,
        target=member,
        details={
            "user_id": member.user_id,
            "role": member.role.value,
            "invitation_id": invitation.id,
        },
    )


def invitation_sent(ctx: ServiceContext, *, invitation: Invitation) -> None:
    _record(
        ctx,
        "invitation.sent",
        team_id=invitation.team_id,
        target=invitation,
        # No address: once accepted it is a member's email, which the team's admins may not
        # see unless it is public or inside a verified domain [P1, P2].
        details={"role": invitation.role.value},
    )


def invitation_revoked(ctx: ServiceContext, *, invitation: Invitation) -> None:
    _record(ctx, "invitation.revoked", team_id=invitation.team_id, target=invitation)


def team_contacted(ctx: ServiceContext, *, team_id: int, recipients: int) -> None:
    _record(ctx, "team.contacted", team_id=team_id, details={"recipients": recipients})


def invitation_accepted(ctx: ServiceContext, *, invitation: Invitation) -> None:
    _record(ctx, "invitation.accepted", team_id=invitation.team_id, target=invitation)


def audit_exported(ctx: ServiceContext, *, team_id: int) -> None:
    _record(ctx, "audit.exported", team_id=team_id)


def domain_added(ctx: ServiceContext, *, domain: Domain) -> None:
    _record(
        ctx, "domain.added", team_id=domain.team_id, target=domain, details={"name": domain.name}
    )


def domain_verified(ctx: ServiceContext, *, domain: Domain) -> None:
    _record(
        ctx,
        "domain.verified",
        team_id=domain.team_id,
        target=domain,
        details={"name": domain.name, "verified_until": _instant(domain.verified_until)},
    )


def domain_check_failed(ctx: ServiceContext, *, domain: Domain) -> None:
    _record(
        ctx,
        "domain.check_failed",
        team_id=domain.team_id,
        target=domain,
        details={
            "name": domain.name,
            "status": domain.status.value,
            "message": domain.last_check_message,
        },
    )


def domain_removed(ctx: ServiceContext, *, domain: Domain) -> None:
    _record(
        ctx,
        "domain.removed",
        team_id=domain.team_id,
        target=domain,
        details={"name": domain.name, "status": domain.status.value},
    )


def domain_enrollment_changed(ctx: ServiceContext, *, domain: Domain, old: str) -> None:
    _record(
        ctx,
        "domain.enrollment_changed",
        team_id=domain.team_id,
        target=domain,
        details={"name": domain.name, "from": old, "to": domain.enrollment.value},
    )


def domain_lapsed(ctx: ServiceContext, *, domain: Domain) -> None:
    _record(
        ctx,
        "domain.lapsed",
        team_id=domain.team_id,
        target=domain,
        details={"name": domain.name, "verified_until": _instant(domain.verified_until)},
    )


def domain_expired(ctx: ServiceContext, *, domain: Domain) -> None:
    _record(
        ctx, "domain.expired", team_id=domain.team_id, target=domain, details={"name": domain.name}
    )


def member_joined_by_domain(
    ctx: ServiceContext, *, member: Member, domain: Domain, via: str
) -> None:
    _record(
        ctx,
        "member.joined_by_domain",
        team_id=member.team_id,
        target=member,
        actor_user_id=member.user_id,
        details={
            "user_id": member.user_id,
            "role": member.role.value,
            "domain": domain.name,
            "via": via,
        },
    )


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def user_signed_up_with_google(ctx: ServiceContext, *, user: User, identity_id: int | None) -> None:
    _record(
        ctx,
        "user.signed_up",
        target=user,
        actor_user_id=user.id,
        details={"via": "google", "identity_id": identity_id},
    )


def identity_linked(
    ctx: ServiceContext, *, user: User, provider: str, identity_id: int | None
) -> None:
    _record(
        ctx,
        "identity.linked",
        target=user,
        actor_user_id=user.id,
        details={"provider": provider, "identity_id": identity_id},
    )


def identity_unlinked(ctx: ServiceContext, *, user: User, provider: str, identity_id: int) -> None:
    _record(
        ctx,
        "identity.unlinked",
        target=user,
        details={"provider": provider, "identity_id": identity_id},
    )


def verification_email_sent(ctx: ServiceContext, *, user: User) -> None:
    _record(ctx, "user.verification_email_sent", target=user)


def email_released(ctx: ServiceContext, *, user: User) -> None:
    """An unverified address taken off an account because its owner proved it elsewhere (the
    address itself stays out of the trail)."""
    _record(
        ctx, "user.email_released", target=user, details={"reason": "verified_by_google_sign_up"}
    )
