"""Every permission decision in Orgward is made here.

Functions either answer a question (`can_*`, `*_visible`) or enforce a rule (`require_*`,
`check_*`) by raising a DomainError. Callers never compare roles themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, false, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from auth.actor import Actor
from core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from core.settings import Settings
from models import Domain, Member, Role, User

MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def require_user(actor: Actor) -> User:
    if actor.user is None:
        raise Unauthenticated()
    return actor.user


# --- accounts -------------------------------------------------------------------------------


def email_visible(
    viewer: User | None,
    subject_id: int,
    subject_email_public: bool,
    *,
    in_managed_domain: bool = False,
) -> bool:
    """[P1] An email is shown to its owner, or to anyone once its owner made it public.

    [P2] It is also shown to the owners and admins of a team the user belongs to when the
    address lies inside one of that team's verified domains: `in_managed_domain`, which the
    query reading the user computes with `email_in_managed_domain` below.
    """
    if subject_email_public:
        return True
    if viewer is None:
        return False
    return viewer.id == subject_id or in_managed_domain


def email_in_managed_domain(viewer_id: int | None, now: datetime) -> ColumnElement[bool]:
    """[P2] SQL, correlated with the `user_account` row being read: its email lies inside a
    domain in force of a team that both the user and the viewer belong to, the viewer as owner
    or admin. Part of the same query as the user, so a page of members costs no extra
    statement."""
    if viewer_id is None:
        return false()
    manager = aliased(Member)
    fellow = aliased(Member)
    return exists().where(
        col(manager.user_id) == viewer_id,
        col(manager.role).in_(MANAGER_ROLES),
        col(fellow.team_id) == col(manager.team_id),
        col(fellow.user_id) == col(User.id),
        col(Domain.team_id) == col(manager.team_id),
        Domain.in_force(now),
        # Email domains are stored in Unicode form, domain names in ASCII (punycode): either.
        col(User.email).like(literal("%@") + col(Domain.name))
        | col(User.email).like(literal("%@") + col(Domain.unicode_name)),
    )


def check_session_owner(actor: Actor, session_user_id: int | None) -> None:
    user = require_user(actor)
    if session_user_id != user.id:
        # Someone else's session id: answer as if it did not exist.
        raise NotFound("No such session.", field="sessionId")


# --- teams ----------------------------------------------------------------------------------


def team_visible(actor: Actor, is_member: bool) -> bool:
    # Staff see a team only through an audited access grant (SPEC 7), never by being staff.
    return is_member


def visible_team_ids(actor: Actor) -> Select[int]:
    """Row-level access: the teams whose members and data the actor may read."""
    return select(col(Member.team_id)).where(col(Member.user_id) == actor.user_id)


def managed_team_ids(actor: Actor) -> Select[int]:
    """Row-level access: the teams the actor owns or administers."""
    return select(col(Member.team_id)).where(
        col(Member.user_id) == actor.user_id, col(Member.role).in_(list(MANAGER_ROLES))
    )


def require_team_view(actor: Actor, membership: Member | None) -> None:
    require_user(actor)
    if not team_visible(actor, membership is not None):
        # Non-members learn nothing about a team, not even that it exists.
        raise NotFound("No such team.", field="teamId")


def require_team_manager(actor: Actor, membership: Member | None) -> Member:
    require_team_view(actor, membership)
    if membership is None or membership.role not in MANAGER_ROLES:
        raise Forbidden("Only the team's owners and admins may do this.")
    return membership


def can_manage_members_role(role: Role | None) -> bool:
    return role in MANAGER_ROLES


def check_grant(manager: Member, role: Role) -> None:
    """May `manager` give someone `role` (by invitation or role change)?"""
    if role is Role.OWNER and manager.role is not Role.OWNER:
        raise Forbidden("Only an owner can make someone an owner.", field="role")


def check_manage_member(manager: Member, target: Member) -> None:
    """May `manager` change or remove `target`? Admins never touch owners."""
    if target.role is Role.OWNER and manager.role is not Role.OWNER:
        raise Forbidden("Only an owner can change or remove an owner.", field="memberId")


def check_keeps_an_owner(target: Member, new_role: Role | None, owner_count: int) -> None:
    """A team always keeps at least one owner (new_role None means the member goes)."""
    if target.role is Role.OWNER and new_role is not Role.OWNER and owner_count <= 1:
        raise InvalidInput(
            "A team must keep at least one owner: make someone else an owner first.",
            field="memberId",
        )


def require_audit_reader(actor: Actor, viewer_role: Role | None) -> None:
    """[P17] A team's owners and admins read and export its audit trail."""
    require_user(actor)
    if viewer_role not in MANAGER_ROLES:
        raise Forbidden("Only the team's owners and admins may read its audit trail.")


# --- domains --------------------------------------------------------------------------------


def can_manage_domains(role: Role | None) -> bool:
    """A team's owners and admins see and manage its domains (tokens included); other members
    do not see them at all."""
    return role in MANAGER_ROLES


def require_domain_manager(actor: Actor, membership: Member | None) -> Member:
    require_user(actor)
    if not team_visible(actor, membership is not None):
        # Another team's domain looks exactly like a missing one.
        raise NotFound("No such domain.", field="domainId")
    if membership is None or not can_manage_domains(membership.role):
        raise Forbidden("Only the team's owners and admins manage its domains.")
    return membership


def check_join_by_domain(user: User, offered: bool) -> None:
    """A user joins a team through its domain only with a verified address inside a domain
    the team holds with enrollment on; anything else looks like no such offer."""
    if user.email_verified_at is None or not offered:
        raise NotFound("No such team to join.", field="teamId")


# --- sign-in identities ---------------------------------------------------------------------


def check_identity_owner(actor: Actor, identity_user_id: int | None) -> None:
    user = require_user(actor)
    if identity_user_id != user.id:
        # Someone else's identity: answer as if it did not exist.
        raise NotFound("No such identity.", field="identityId")


def check_keeps_a_way_to_sign_in(*, has_password: bool, other_identities: int) -> None:
    """An account keeps at least one way in: a password or another linked identity."""
    if not has_password and other_identities == 0:
        raise InvalidInput(
            "This is your only way to sign in: set a password or link another account first.",
            field="identityId",
        )


def under_age_refusal(settings: Settings, age: int, country: str | None) -> str | None:
    """[P4] Why someone of `age` may not have an account (the minimum is per country), or None."""
    minimum = settings.minimum_age_for(country)
    if age >= minimum:
        return None
    where = f" in {country}." if country else "."
    return f"You must be at least {minimum} years old to create an account{where}"
