"""Audit recorders: one keyword-only function per action, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.actor import Actor
from models import (
    ApiToken,
    App,
    AuditEvent,
    Domain,
    Installation,
    Invitation,
    Member,
    Role,
    Team,
    User,
)
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
        actor_kind=_actor_kind(actor, user_id),
        actor_user_id=user_id,
        team_id=team_id,
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=target.id if target is not None else None,
        ip_address=actor.origin.ip_address,
        user_agent=actor.origin.user_agent,
        details=_with_token(actor, details),
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


# --- managed accounts (SPEC 5): in the managing team's chain; addresses stay out -------------


def email_change_filed(
    ctx: ServiceContext, *, user: User, team_id: int, request_id: int, superseded_id: int | None
) -> None:
    _record(
        ctx,
        "email_change.requested",
        team_id=team_id,
        target=user,
        details={"request_id": request_id, "superseded_request_id": superseded_id},
    )


def email_change_cancelled(
    ctx: ServiceContext, *, user: User, team_id: int, request_id: int
) -> None:
    _record(
        ctx,
        "email_change.cancelled",
        team_id=team_id,
        target=user,
        details={"request_id": request_id},
    )


def email_change_decided(
    ctx: ServiceContext,
    *,
    user: User,
    team_id: int,
    request_id: int,
    approved: bool,
    reason: str | None,
) -> None:
    event = _record(
        ctx,
        "email_change.approved" if approved else "email_change.rejected",
        team_id=team_id,
        target=user,
        details={"request_id": request_id},
    )
    event.reason = reason


def managed_user_deactivated(
    ctx: ServiceContext,
    *,
    user: User,
    team_id: int,
    reason: str | None,
    sessions_revoked: int,
    tokens_revoked: int,
    app_tokens_revoked: int = 0,
    email_changes_cancelled: int = 0,
) -> None:
    event = _record(
        ctx,
        "managed_user.deactivated",
        team_id=team_id,
        target=user,
        details={
            "sessions_revoked": sessions_revoked,
            "tokens_revoked": tokens_revoked,
            "app_tokens_revoked": app_tokens_revoked,
            "email_changes_cancelled": email_changes_cancelled,
        },
    )
    event.reason = reason


def managed_user_reactivated(ctx: ServiceContext, *, user: User, team_id: int) -> None:
    _record(ctx, "managed_user.reactivated", team_id=team_id, target=user)


def managed_user_signed_out(
    ctx: ServiceContext, *, user: User, team_id: int, sessions_revoked: int
) -> None:
    _record(
        ctx,
        "managed_user.signed_out_everywhere",
        team_id=team_id,
        target=user,
        details={"sessions_revoked": sessions_revoked},
    )


def managed_user_renamed(ctx: ServiceContext, *, user: User, team_id: int, old: str) -> None:
    _record(
        ctx,
        "managed_user.display_name_changed",
        team_id=team_id,
        target=user,
        details={"from": old, "to": user.display_name},
    )


def managed_settings_changed(ctx: ServiceContext, *, team: Team, changes: dict[str, Any]) -> None:
    _record(ctx, "team.managed_settings_changed", team_id=team.id, target=team, details=changes)


# --- takeover (SPEC 5): one event per use case in the team's chain; TakeoverAccount rows are
# the per-account record ------------------------------------------------------------------------


def _takeover_event(
    ctx: ServiceContext, action: str, *, team_id: int, takeover_id: int, details: dict[str, Any]
) -> AuditEvent:
    event = _record(ctx, action, team_id=team_id, details={"takeover_id": takeover_id, **details})
    event.target_type, event.target_id = "takeover", takeover_id
    return event


def takeover_previewed(ctx: ServiceContext, *, domain: Domain, affected_count: int) -> None:
    _record(
        ctx,
        "takeover.previewed",
        team_id=domain.team_id,
        target=domain,
        details={"domain": domain.name, "affected_count": affected_count},
    )


def takeover_announced(
    ctx: ServiceContext,
    *,
    team_id: int,
    takeover_id: int,
    domain: str,
    notice_days: int,
    effective_at: datetime,
    affected_count: int,
) -> None:
    # The count only: the takeover's TakeoverAccount rows name the accounts.
    _takeover_event(
        ctx,
        "takeover.announced",
        team_id=team_id,
        takeover_id=takeover_id,
        details={
            "domain": domain,
            "notice_days": notice_days,
            "effective_at": _instant(effective_at),
            "affected_count": affected_count,
        },
    )


def takeover_effective(
    ctx: ServiceContext,
    *,
    team_id: int,
    takeover_id: int,
    domain: str,
    managed_count: int,
    skipped_count: int,
) -> None:
    _takeover_event(
        ctx,
        "takeover.effective",
        team_id=team_id,
        takeover_id=takeover_id,
        details={"domain": domain, "managed_count": managed_count, "skipped_count": skipped_count},
    )


def takeover_cancelled(
    ctx: ServiceContext,
    *,
    team_id: int,
    takeover_id: int,
    domain: str,
    reason: str,
    accounts: int,
) -> None:
    _takeover_event(
        ctx,
        "takeover.cancelled",
        team_id=team_id,
        takeover_id=takeover_id,
        details={"domain": domain, "reason": reason, "accounts": accounts},
    )


def managed_accounts_released(
    ctx: ServiceContext,
    *,
    team_id: int,
    domain: str | None,
    user_ids: list[int] | None,
    released_count: int,
    reason: str,
    reactivated_count: int = 0,
) -> None:
    _record(
        ctx,
        "managed_accounts.released",
        team_id=team_id,
        details={
            "domain": domain,
            "user_ids": user_ids,
            "released_count": released_count,
            # Accounts the team had deactivated, active again now that it manages them no more.
            "reactivated_count": reactivated_count,
            "reason": reason,
        },
    )


# --- partner apps and installations (SPEC 6) ---------------------------------------------------


def _about(event: AuditEvent, target_type: str, target_id: int | None) -> None:
    # Apps and installations are named here rather than in _record's target union.
    event.target_type = target_type
    event.target_id = target_id


def app_registered(ctx: ServiceContext, *, app: App) -> None:
    event = _record(
        ctx,
        "app.registered",
        details={"name": app.name, "client_id": app.client_id, "scopes": app.requested_scopes},
    )
    _about(event, "app", app.id)


def app_secret_rotated(ctx: ServiceContext, *, app: App, tokens_revoked: int) -> None:
    event = _record(
        ctx,
        "app.secret_rotated",
        details={"client_id": app.client_id, "tokens_revoked": tokens_revoked},
    )
    _about(event, "app", app.id)


def app_deleted(ctx: ServiceContext, *, app: App, installations: int, tokens_revoked: int) -> None:
    event = _record(
        ctx,
        "app.deleted",
        details={
            "client_id": app.client_id,
            "installations": installations,
            "tokens_revoked": tokens_revoked,
        },
    )
    _about(event, "app", app.id)


def app_installed(ctx: ServiceContext, *, installation: Installation, app: App) -> None:
    event = _record(
        ctx,
        "app.installed",
        team_id=installation.team_id,
        details={
            "app_id": app.id,
            "app_name": app.name,
            "client_id": app.client_id,
            "scopes": installation.scopes,
        },
    )
    _about(event, "installation", installation.id)


def app_uninstalled(
    ctx: ServiceContext,
    *,
    installation: Installation,
    reason: str,
    tokens_revoked: int | None = None,
) -> None:
    event = _record(
        ctx,
        "app.uninstalled",
        team_id=installation.team_id,
        details={
            "app_id": installation.app_id,
            "reason": reason,
            "tokens_revoked": tokens_revoked,
        },
    )
    _about(event, "installation", installation.id)


def installation_scopes_changed(
    ctx: ServiceContext, *, installation: Installation, before: frozenset[str], tokens_revoked: int
) -> None:
    event = _record(
        ctx,
        "installation.scopes_changed",
        team_id=installation.team_id,
        details={
            "app_id": installation.app_id,
            "from": " ".join(sorted(before)),
            "to": installation.scopes,
            "tokens_revoked": tokens_revoked,
        },
    )
    _about(event, "installation", installation.id)


def installation_token_issued(
    ctx: ServiceContext,
    *,
    installation_id: int,
    team_id: int,
    app_id: int | None,
    token: ApiToken,
    superseded: int = 0,
) -> None:
    """The app itself acts here (client credentials): no user. `superseded`: older live tokens
    revoked because the installation holds too many."""
    event = _record(
        ctx,
        "installation.token_issued",
        team_id=team_id,
        details={
            "app_id": app_id,
            "token_id": token.id,
            "token_hint": token.hint,
            "scopes": token.scopes,
            "expires_at": _instant(token.expires_at),
            "superseded": superseded,
        },
    )
    event.actor_kind = "app"
    _about(event, "installation", installation_id)


# --- bearer tokens (SPEC 6) --------------------------------------------------------------------


def _actor_kind(actor: Actor, user_id: int | None) -> str:
    if actor.installation is not None:
        return "app"  # an installed app's token: no user behind it
    return "user" if user_id is not None else "system"


def _with_token(actor: Actor, details: dict[str, Any] | None) -> dict[str, Any]:
    """Whatever a token did names the token, so a leaked one's doings can be traced."""
    if actor.grant is None:
        return details or {}
    via = {"via_token_id": actor.grant.token_id}
    if actor.grant.installation_id is not None:
        via["via_installation_id"] = actor.grant.installation_id
    return {**(details or {}), **via}


def _token_details(token: ApiToken) -> dict[str, Any]:
    return {
        "token_id": token.id,
        "kind": str(token.kind),
        "hint": token.hint,
        "name": token.name,
        "scopes": token.scopes,
        "expires_at": _instant(token.expires_at),
    }


def token_created(ctx: ServiceContext, *, token: ApiToken) -> None:
    event = _record(ctx, "token.created", details=_token_details(token))
    _about(event, "api_token", token.id)


def token_revoked(ctx: ServiceContext, *, token: ApiToken, reason: str) -> None:
    details = {**_token_details(token), "reason": reason}
    event = _record(ctx, "token.revoked", team_id=token.team_id, details=details)
    _about(event, "api_token", token.id)


def token_revoked_used_event(
    ctx: ServiceContext, *, token_id: int, kind: str, user_id: int | None, team_id: int | None
) -> AuditEvent:
    """For a session of the caller's own (the request is refused and rolled back): someone
    presented a revoked token. Chained in the token's team, or its owner's chain."""
    origin = ctx.actor.origin
    return AuditEvent(
        action="token.revoked_used",
        actor_kind="anonymous",
        team_id=team_id,
        target_type="api_token",
        target_id=token_id,
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        details={"kind": str(kind), "owner_user_id": user_id},
        created_at=ctx.now(),
        chain_key=audit_chain.chain_key(team_id, user_id),
    )


def installation_tokens_revoked(
    ctx: ServiceContext, *, installation: Installation, reason: str, tokens_revoked: int
) -> None:
    """In the installing team's trail: the app's developer revoked its tokens there (by rotating
    the client secret)."""
    event = _record(
        ctx,
        "installation.tokens_revoked",
        team_id=installation.team_id,
        details={
            "app_id": installation.app_id,
            "reason": reason,
            "tokens_revoked": tokens_revoked,
        },
    )
    _about(event, "installation", installation.id)


def token_leaked(
    ctx: ServiceContext,
    *,
    token_id: int,
    kind: str,
    hint: str,
    name: str,
    owner_user_id: int | None,
    team_id: int | None,
    app_id: int | None,
    installation_id: int | None,
    found: dict[str, str | None],
) -> None:
    """A secret scanner reported the token found in public and it was revoked. The reporter is
    anonymous; the event goes to the token's team (an app's token) or its owner's chain."""
    event = _record(
        ctx,
        "token.leaked",
        team_id=team_id,
        details={
            "token_id": token_id,
            "kind": kind,
            "hint": hint,
            "name": name,
            "owner_user_id": owner_user_id,
            "app_id": app_id,
            "installation_id": installation_id,
            "reason": "leaked",
            **found,
        },
    )
    event.actor_kind = "anonymous"
    event.chain_key = audit_chain.chain_key(team_id, owner_user_id)
    _about(event, "api_token", token_id)
