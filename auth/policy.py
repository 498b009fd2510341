"""Every permission decision in Orgward is made here.

Functions either answer a question (`can_*`, `*_visible`) or enforce a rule (`require_*`,
`check_*`) by raising a DomainError. Callers never compare roles themselves.
"""

from __future__ import annotations

from auth.actor import Actor
from core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from models import Member, Role, User

MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def require_user(actor: Actor) -> User:
    if actor.user is None:
        raise Unauthenticated()
    return actor.user


# --- accounts -------------------------------------------------------------------------------


def email_visible(viewer: User | None, subject_id: int, subject_email_public: bool) -> bool:
    """[P1] An email is shown to its owner, or to anyone once its owner made it public.

    Later rules (team admins inside verified domains, [P2]) extend this function only.
    """
    if subject_email_public:
        return True
    return viewer is not None and viewer.id == subject_id


def check_session_owner(actor: Actor, session_user_id: int | None) -> None:
    user = require_user(actor)
    if session_user_id != user.id:
        # Someone else's session id: answer as if it did not exist.
        raise NotFound("No such session.", field="sessionId")


# --- teams ----------------------------------------------------------------------------------


def team_visible(actor: Actor, membership: Member | None) -> bool:
    return membership is not None or actor.is_staff


def require_team_view(actor: Actor, membership: Member | None) -> None:
    require_user(actor)
    if not team_visible(actor, membership):
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
