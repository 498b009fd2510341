"""Every permission decision in Orgward is made here.

Functions either answer a question (`can_*`, `*_visible`) or enforce a rule (`require_*`,
`check_*`) by raising a DomainError. Callers never compare roles themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    exists,
    false,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import aliased
from sqlmodel import col

from auth.actor import Actor
from auth.scopes import Scope
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from core.settings import Settings
from models import (
    AuditEvent,
    Domain,
    EmailChangeRequest,
    EmailChangeStatus,
    Member,
    Role,
    User,
    UserStatus,
)

MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def require_user(actor: Actor) -> User:
    if actor.user is None:
        if actor.installation is not None:
            raise Forbidden("An app's token acts for no user; this needs a person.")
        raise Unauthenticated()
    return actor.user


# --- tokens and scopes [P14] -----------------------------------------------------------------


def has_scope(actor: Actor, scope: Scope) -> bool:
    """A cookie session holds every scope; a token only those it was granted."""
    return actor.grant is None or scope in actor.grant.scopes


def require_scope(actor: Actor, scope: Scope) -> None:
    """Ask this once per service call, besides the role checks: a token can do what its scopes
    AND its holder's current roles allow, nothing more."""
    if not has_scope(actor, scope):
        raise Forbidden(f"This token was not granted the {scope} scope.")


def require_session(actor: Actor) -> User:
    """Account security (password, email, sessions, sign-in identities, tokens, deletion) is
    for a signed-in person only: no token may do it, whatever its scopes."""
    refuse_tokens(actor)
    return require_user(actor)


def refuse_tokens(actor: Actor) -> None:
    if actor.grant is not None:
        raise Forbidden("Sign in to do this: access tokens cannot manage the account.")


def session_user(actor: Actor) -> User | None:
    """The user of a cookie session, or None (anonymous, or any token)."""
    return actor.user if actor.grant is None else None


def require_principal(actor: Actor) -> None:
    """Someone acting: a user (by session or personal token) or an installed app."""
    if actor.user is None and actor.installation is None:
        raise Unauthenticated()


def is_nobody(actor: Actor) -> bool:
    """Anonymous or the system: no rows of anyone's are visible."""
    return actor.user is None and actor.installation is None


def may_look_up_users(actor: Actor) -> bool:
    """Profiles by id or username: signed-in users, and tokens granted users:read."""
    return not is_nobody(actor) and has_scope(actor, Scope.USERS_READ)


def user_lookup_filter(actor: Actor) -> tuple[ColumnElement[bool], ...]:
    """SQL on `user_account`: an installed app looks up only the members of its own team."""
    grant = actor.installation
    if grant is None:
        return ()
    return (
        col(User.id).in_(select(col(Member.user_id)).where(col(Member.team_id) == grant.team_id)),
    )


def viewer_user(actor: Actor) -> User | None:
    """`viewer`: the signed-in user; with a personal token only under users:read; never for an
    app's token (it acts for no person)."""
    return actor.user if has_scope(actor, Scope.USERS_READ) else None


def installation_role(actor: Actor, team_id: int) -> Role | None:
    """An installed app acts inside its one team as an admin (never an owner), and is nobody
    anywhere else."""
    grant = actor.installation
    return Role.ADMIN if grant is not None and grant.team_id == team_id else None


def installation_membership(actor: Actor, team_id: int) -> Member | None:
    """The stand-in membership an installed app holds in its team (never stored)."""
    role = installation_role(actor, team_id)
    if role is None:
        return None
    # Transient: no id and no user, so it never equals a stored membership.
    return Member(team_id=team_id, role=role)  # type: ignore[call-arg]


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


# Made once: an alias adapts each column the first time it is read, which cost more than the
# rest of building the [P2] clause on every request.
_P2_MANAGER = aliased(Member, name="p2_manager")
_P2_FELLOW = aliased(Member, name="p2_fellow")


def email_in_managed_domain(viewer_id: int | None, now: datetime) -> ColumnElement[bool]:
    """[P2] SQL, correlated with the `user_account` row being read: its email lies inside a
    domain in force of a team that both the user and the viewer belong to, the viewer as owner
    or admin. Part of the same query as the user, so a page of members costs no extra
    statement."""
    if viewer_id is None:
        return false()
    manager, fellow = _P2_MANAGER, _P2_FELLOW
    return exists().where(
        col(manager.user_id) == viewer_id,
        # Equalities, not IN: a hot read (core/hot_reads.py) takes no expanding list.
        or_(*(col(manager.role) == role for role in sorted(MANAGER_ROLES))),
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


def visible_team_ids(actor: Actor, scope: Scope | None = None) -> Select[int]:
    """Row-level access: the teams whose members and data the actor may read (with a token:
    none unless it holds `scope`; an installed app: its own team only)."""
    if scope is not None and not has_scope(actor, scope):
        return select(col(Member.team_id)).where(false())
    if (grant := actor.installation) is not None:
        return _only_team(grant.team_id)
    return select(col(Member.team_id)).where(col(Member.user_id) == actor.user_id)


def managed_team_ids(actor: Actor, scope: Scope | None = None) -> Select[int]:
    """Row-level access: the teams the actor owns or administers (scoped as above)."""
    if scope is not None and not has_scope(actor, scope):
        return select(col(Member.team_id)).where(false())
    if (grant := actor.installation) is not None:
        return _only_team(grant.team_id)
    return select(col(Member.team_id)).where(
        col(Member.user_id) == actor.user_id, col(Member.role).in_(list(MANAGER_ROLES))
    )


def _only_team(team_id: int | None) -> Select[int]:
    return select(literal(team_id if team_id is not None else -1, type_=Integer))


def require_team_view(actor: Actor, membership: Member | None, scope: Scope | None = None) -> None:
    require_principal(actor)
    if not team_visible(actor, membership is not None):
        # Non-members learn nothing about a team, not even that it exists.
        raise NotFound("No such team.", field="teamId")
    if scope is not None:
        require_scope(actor, scope)


def require_team_manager(
    actor: Actor, membership: Member | None, scope: Scope | None = None
) -> Member:
    """`membership` comes from services.teams.membership (an installed app's stand-in included);
    `scope` is what a token needs for the action at hand."""
    require_team_view(actor, membership)
    if membership is None or membership.role not in MANAGER_ROLES:
        raise Forbidden("Only the team's owners and admins may do this.")
    if scope is not None:
        require_scope(actor, scope)
    return membership


def can_manage_members_role(role: Role | None) -> bool:
    return role in MANAGER_ROLES


def check_grant(actor: Actor, manager: Member, role: Role) -> None:
    """May `manager` give someone `role` (by invitation or role change), or withdraw an
    invitation to it? An app's token never hands out (or takes back) the owner or admin role:
    only a person does, by session or personal token."""
    if actor.installation is not None and role in MANAGER_ROLES:
        raise Forbidden("An app's token cannot grant the owner or admin role.", field="role")
    if role is Role.OWNER and manager.role is not Role.OWNER:
        raise Forbidden("Only an owner can make someone an owner.", field="role")


def check_manage_member(actor: Actor, manager: Member, target: Member) -> None:
    """May `manager` change or remove `target`? Admins never touch owners, and an app's token
    touches neither owners nor admins (it could otherwise remove whoever installed it)."""
    if actor.installation is not None and target.role in MANAGER_ROLES:
        raise Forbidden(
            "An app's token cannot change or remove an owner or admin.", field="memberId"
        )
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
    """[P17] A team's owners and admins read and export its audit trail (tokens: audit:read)."""
    require_principal(actor)
    if viewer_role not in MANAGER_ROLES:
        raise Forbidden("Only the team's owners and admins may read its audit trail.")
    require_scope(actor, Scope.AUDIT_READ)


# --- domains --------------------------------------------------------------------------------


def can_manage_domains(role: Role | None) -> bool:
    """A team's owners and admins see and manage its domains (tokens included); other members
    do not see them at all."""
    return role in MANAGER_ROLES


def can_read_domains(actor: Actor, role: Role | None) -> bool:
    return can_manage_domains(role) and has_scope(actor, Scope.DOMAINS_READ)


def can_read_invitations(actor: Actor, role: Role | None) -> bool:
    return can_manage_members_role(role) and has_scope(actor, Scope.MEMBERS_MANAGE)


def require_domain_manager(actor: Actor, membership: Member | None) -> Member:
    """Changing one of the team's domains (tokens: domains:write)."""
    require_principal(actor)
    if not team_visible(actor, membership is not None):
        # Another team's domain looks exactly like a missing one.
        raise NotFound("No such domain.", field="domainId")
    if membership is None or not can_manage_domains(membership.role):
        raise Forbidden("Only the team's owners and admins manage its domains.")
    require_scope(actor, Scope.DOMAINS_WRITE)
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


# --- managed accounts (SPEC 5) ----------------------------------------------------------------


def email_change_needs_approval(user: User) -> bool:
    """A managed user changes their email only with the managing team's approval."""
    return user.managed_by_team_id is not None


def _administers(membership: Member | None, team_id: int | None) -> bool:
    return (
        team_id is not None
        and membership is not None
        and membership.team_id == team_id
        and membership.role in MANAGER_ROLES
    )


def require_managing_admin(actor: Actor, membership: Member | None, user: User | None) -> Member:
    """The owners and admins of the team managing `user` administer the account (tokens:
    managed_accounts:manage). `membership` is the actor's membership of that team.

    Nobody else learns whether the account exists or who manages it (NOT_FOUND, as for a
    missing user): not other teams' admins, not the managing team's other members. Only the
    user themself, who is told who manages them, hears FORBIDDEN.

    A person exercises these powers (a session, or their own token): never an app's token,
    which acts for nobody and could otherwise be used to act on its own owner's account."""
    require_user(actor)
    managed = (
        user is not None
        and user.managed_by_team_id is not None
        and user.status not in (UserStatus.PENDING, UserStatus.DELETED)
    )
    if not managed or not _administers(membership, user.managed_by_team_id):  # type: ignore[union-attr]
        if managed and user is not None and user.id == actor.user_id:
            raise Forbidden("Only the owners and admins of the team managing your account may.")
        raise NotFound("No such managed account.", field="userId")
    require_scope(actor, Scope.MANAGED_ACCOUNTS_MANAGE)
    assert membership is not None
    return membership


def check_administer_account(manager: Member, target_role: Role | None) -> None:
    """As with roles, admins never act on the account of one of the team's owners; only an
    owner does. (So deactivating an owner always leaves an active owner: the one acting, who
    may not deactivate themself.)"""
    if target_role is Role.OWNER and manager.role is not Role.OWNER:
        raise Forbidden("Only an owner can administer an owner's account.", field="userId")


def check_deactivate(actor: Actor, user: User) -> None:
    if user.id == actor.user_id:
        raise InvalidInput("You cannot deactivate your own account.", field="userId")


def require_email_change_decider(
    actor: Actor, membership: Member | None, request_team_id: int, requester_id: int
) -> Member:
    """An email-change request is decided by an owner or admin of the team it was filed with
    (tokens: managed_accounts:manage), never by the requester: a managed user cannot approve
    their own change (nor through an app's token: a person decides). Anyone else sees no such
    request."""
    require_user(actor)
    if not _administers(membership, request_team_id):
        if requester_id == actor.user_id:
            raise Forbidden("The team's owners and admins decide your request.")
        raise NotFound("No such email-change request.", field="requestId")
    if requester_id == actor.user_id:
        raise Forbidden(
            "Another owner or admin of the team must decide your own request.", field="requestId"
        )
    require_scope(actor, Scope.MANAGED_ACCOUNTS_MANAGE)
    assert membership is not None
    return membership


def check_email_change_owner(actor: Actor, requester_id: int | None) -> None:
    """A user withdraws only their own request (with a session: email is account security)."""
    user = require_session(actor)
    if requester_id != user.id:
        raise NotFound("No such email-change request.", field="requestId")


def can_read_managed_accounts(actor: Actor, role: Role | None) -> bool:
    """A team's owners and admins list the accounts it manages and their email-change requests,
    addresses included: the team answers for those addresses (it approves changes to them)."""
    return role in MANAGER_ROLES and has_scope(actor, Scope.MANAGED_ACCOUNTS_MANAGE)


def email_change_request_visible(actor: Actor) -> ColumnElement[bool]:
    """Row-level access to email-change requests: the requester's own (with a session), and
    those filed with a team the actor owns or administers."""
    own = (
        col(EmailChangeRequest.user_id) == actor.user_id
        if actor.user_id is not None and actor.grant is None
        else false()
    )
    managed = managed_team_ids(actor, Scope.MANAGED_ACCOUNTS_MANAGE)
    return or_(own, col(EmailChangeRequest.team_id).in_(managed))


def require_managed_settings_editor(
    actor: Actor, membership: Member | None, *, notice: bool, retention: bool
) -> Member:
    """A team's owners and admins set its takeover notice (tokens: takeover:manage, as for the
    takeovers it times) and its managed-account retention (tokens: managed_accounts:manage), in
    person: never through an app's token."""
    require_user(actor)
    manager = require_team_manager(actor, membership)
    if notice:
        require_scope(actor, Scope.TAKEOVER_MANAGE)
    if retention or not notice:
        require_scope(actor, Scope.MANAGED_ACCOUNTS_MANAGE)
    return manager


def check_acting_account_active(status: UserStatus) -> None:
    """Read again under the managing team's lock: an owner or admin whose own account was
    deactivated meanwhile (two owners deactivating each other at once) acts no more."""
    if status is not UserStatus.ACTIVE:
        raise Forbidden("Your account is no longer active.")


def check_keeps_an_active_owner(other_active_owners: int) -> None:
    """Deactivating one of the managing team's owners leaves it at least one active owner."""
    if other_active_owners < 1:
        raise Conflict("The team would be left without an active owner.", field="userId")


def email_in_team_domain(now: datetime) -> ColumnElement[bool]:
    """[P2] SQL, correlated with the `user_account` row being read: its email lies inside a
    domain in force of the team managing it."""
    email = col(User.email)
    return exists().where(
        col(Domain.team_id) == col(User.managed_by_team_id),
        Domain.in_force(now),
        # Email domains are stored in Unicode form, domain names in ASCII (punycode): either.
        email.like(literal("%@") + col(Domain.name))
        | email.like(literal("%@") + col(Domain.unicode_name)),
    )


def managed_email_visible(
    actor: Actor, subject_id: int, email_public: bool, *, in_team_domain: bool
) -> bool:
    """[P1, P2] What the managing team's readers (can_read_managed_accounts) see of a managed
    account's address: while it lies in one of the team's domains in force, the team answers
    for it; an address the user moved elsewhere is theirs again, shown only if they made it
    public (or to themself)."""
    return email_public or in_team_domain or subject_id == actor.user_id


def email_change_new_email_visible(
    actor: Actor, requester_id: int, status: EmailChangeStatus, *, still_managed: bool
) -> bool:
    """[P1, P2] The address a managed user asked to move to: theirs to see; the managing team's
    owners and admins see it only while they have it to decide (pending, on an account the team
    still manages). Decided or withdrawn, it is a private address like any other."""
    if requester_id == actor.user_id:
        return True
    return status is EmailChangeStatus.PENDING and still_managed


# --- takeover (SPEC 5) -----------------------------------------------------------------------


def require_takeover_manager(
    actor: Actor, membership: Member | None, *, missing: str = "No such domain.", field: str
) -> Member:
    """[P5] Only the owners and admins of the team holding the domain preview, announce and
    cancel its takeovers and release the accounts it manages (tokens: takeover:manage).
    Outsiders learn nothing of the team's domains or takeovers (NOT_FOUND); its other members
    are refused (FORBIDDEN). These are a person's decisions: an app's token, which acts for
    no user, is refused too, whatever its scopes."""
    require_principal(actor)
    if not team_visible(actor, membership is not None):
        raise NotFound(missing, field=field)
    if actor.installation is not None:
        raise Forbidden("Taking over or releasing accounts is a person's decision, not an app's.")
    if membership is None or membership.role not in MANAGER_ROLES:
        raise Forbidden("Only the team's owners and admins may take over or release accounts.")
    require_scope(actor, Scope.TAKEOVER_MANAGE)
    return membership


def check_takeover_notice(
    manager: Member, notice_days: int, team_notice_days: int, *, field: str = "noticeDays"
) -> None:
    """[P5] The notice period is the team's setting; an admin may give users longer, only an
    owner may give them less than the team decided (or lower the setting itself)."""
    if notice_days < team_notice_days and manager.role is not Role.OWNER:
        raise Forbidden(
            f"Only an owner may give less notice than the team's {team_notice_days} days.",
            field=field,
        )


def can_read_takeovers(actor: Actor, role: Role | None) -> bool:
    return role in MANAGER_ROLES and has_scope(actor, Scope.TAKEOVER_MANAGE)


def takeover_affects(domain_name: str, unicode_name: str) -> ColumnElement[bool]:
    """[P5, P6] SQL over `user_account`: the accounts a takeover of this domain claims. Active,
    with a *verified* email at exactly this domain (not a subdomain: the '@' is part of the
    match), managed by no team yet. Asked at announcement and again when the takeover takes
    effect, so an account that moved to a personal address meanwhile is left out."""
    email = col(User.email)
    # Addresses keep their domain in Unicode form; match the ASCII name too, either way.
    at_domain = email.endswith("@" + domain_name, autoescape=True)
    if unicode_name != domain_name:
        at_domain = at_domain | email.endswith("@" + unicode_name, autoescape=True)
    return (
        (col(User.status) == UserStatus.ACTIVE)
        & col(User.email_verified_at).is_not(None)
        & at_domain
        & col(User.managed_by_team_id).is_(None)
    )


# --- partner apps and installations (SPEC 6) ---------------------------------------------------


def require_app_owner(actor: Actor, owner_id: int | None) -> User:
    """An app is managed by the user who registered it, from a signed-in session: no token may
    mint, rotate or delete client credentials."""
    user = require_session(actor)
    if owner_id != user.id:
        # Someone else's app: answer as if it did not exist.
        raise NotFound("No such app.", field="appId")
    return user


def app_visible(actor: Actor, owner_id: int | None) -> bool:
    return actor.grant is None and actor.user is not None and owner_id == actor.user_id


def require_installation_manager(
    actor: Actor, membership: Member | None, *, subject: str = "team"
) -> Member:
    """[P14] A team's owners and admins install, uninstall and re-scope apps (SPEC 5: for a
    managing team too), from a signed-in session only: an installation's scopes need not be a
    subset of any token's, so no token (not even an app's own) may create or change one."""
    require_session(actor)
    if membership is None or not team_visible(actor, True):
        # Another team's installation looks exactly like a missing one.
        raise NotFound(f"No such {subject}.", field=f"{subject}Id")
    if membership.role not in MANAGER_ROLES:
        raise Forbidden("Only the team's owners and admins install and uninstall apps.")
    return membership


def check_installation_scopes(granted: frozenset[Scope], requested: frozenset[Scope]) -> None:
    """A team grants an app at least one of the scopes it asked for, and nothing else. Owners and
    admins hold every team scope, so either may grant any of them; the app's tokens act as an
    admin of the team, never as an owner (installation_role)."""
    if not granted:
        raise InvalidInput("Grant at least one scope.", field="scopes")
    extra = granted - requested
    if extra:
        names = ", ".join(sorted(extra))
        raise InvalidInput(f"The app did not ask for: {names}.", field="scopes")


def can_see_installations(actor: Actor, role: Role | None) -> bool:
    """A team's installations are listed to its owners and admins (tokens: teams:read), never to
    an app's token: one partner learns nothing about the team's other partners."""
    return (
        role in MANAGER_ROLES and actor.installation is None and has_scope(actor, Scope.TEAMS_READ)
    )


def installation_team_ids(actor: Actor) -> Select[int]:
    """Row-level access: the teams whose installations the actor may see (see above)."""
    if actor.installation is not None:
        return select(col(Member.team_id)).where(false())
    return managed_team_ids(actor, Scope.TEAMS_READ)


# --- the audit trail as an app's token reads it (SPEC 6, SPEC 9) ---------------------------------

PARTNER_ACTIONS = ("app.%", "installation.%")


def audit_event_filter(actor: Actor) -> tuple[ColumnElement[bool], ...]:
    """SQL on `audit_event`: an app's token reads its team's trail without the records of the
    team's other apps (their client ids, token hints, partners' addresses): of app.* and
    installation.* events, only its own installation's."""
    grant = actor.installation
    if grant is None:
        return ()
    about_partners = or_(*(col(AuditEvent.action).like(pattern) for pattern in PARTNER_ACTIONS))
    own = and_(
        col(AuditEvent.target_type) == "installation",
        col(AuditEvent.target_id) == grant.installation_id,
    )
    return (or_(~about_partners, own),)


def audit_origin_visible(actor: Actor, details: dict[str, object]) -> bool:
    """Whether an event's IP address and user agent are shown: an app's token does not see
    those of what another app's token did in the team (that partner's servers)."""
    grant = actor.installation
    if grant is None:
        return True
    return details.get("via_installation_id") in (None, grant.installation_id)
