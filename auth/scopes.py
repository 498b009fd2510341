"""The scope catalog (SPEC 6): what a bearer token may be granted.

A token can do what its scopes *and* its holder's current roles allow [P14]; a cookie session
has every scope. Account security (password, email, sessions, sign-in identities, tokens,
deletion) is never reachable with a token, whatever its scopes: see policy.require_session.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache


class Scope(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    TEAMS_READ = "teams:read"
    TEAMS_WRITE = "teams:write"
    MEMBERS_MANAGE = "members:manage"
    DOMAINS_READ = "domains:read"
    DOMAINS_WRITE = "domains:write"
    AUDIT_READ = "audit:read"
    TAKEOVER_MANAGE = "takeover:manage"
    MANAGED_ACCOUNTS_MANAGE = "managed_accounts:manage"


DESCRIPTIONS: dict[Scope, str] = {
    Scope.USERS_READ: "Read your own profile (viewer) and other users' public profiles.",
    Scope.USERS_WRITE: "Change your own profile (display name, company, preferences).",
    Scope.TEAMS_READ: "Read your teams: members, contacts, member counts.",
    Scope.TEAMS_WRITE: "Create and rename teams; join, leave and write to their admins.",
    Scope.MEMBERS_MANAGE: "Invite, re-role and remove members; read pending invitations.",
    Scope.DOMAINS_READ: "Read a team's email domains and their verification state.",
    Scope.DOMAINS_WRITE: "Add, verify and remove domains; set their enrollment.",
    Scope.AUDIT_READ: "Read and export a team's audit trail.",
    Scope.TAKEOVER_MANAGE: "Preview, announce and release administrator takeovers; set the "
    "takeover notice period.",
    Scope.MANAGED_ACCOUNTS_MANAGE: "Administer managed accounts: deactivate, sign out, "
    "rename, decide email-change requests, set their retention.",
}

ALL: frozenset[Scope] = frozenset(Scope)

# Changing something lets its holder read what it changes (as a token with write access to
# members must see them): a grant of the key carries the values too.
IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.USERS_WRITE: frozenset({Scope.USERS_READ}),
    Scope.TEAMS_WRITE: frozenset({Scope.TEAMS_READ}),
    Scope.MEMBERS_MANAGE: frozenset({Scope.TEAMS_READ}),
    Scope.DOMAINS_WRITE: frozenset({Scope.DOMAINS_READ}),
}


@lru_cache(maxsize=256)
def with_implied(granted: frozenset[Scope]) -> frozenset[Scope]:
    """What a grant allows: its scopes and those they imply."""
    return granted.union(*(IMPLIES.get(scope, frozenset()) for scope in granted))


class UnknownScope(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown scope {name!r}.")
        self.name = name


def parse(names: Iterable[str]) -> frozenset[Scope]:
    """Scopes named by a client; raises UnknownScope for any name outside the catalog."""
    found = set()
    for name in names:
        try:
            found.add(Scope(name.strip()))
        except ValueError:
            raise UnknownScope(name) from None
    return frozenset(found)


# Every bearer request reads its token's stored scopes; the distinct values are few.
@lru_cache(maxsize=256)
def from_column(value: str) -> frozenset[Scope]:
    """Stored scopes (space separated); names no longer in the catalog grant nothing."""
    return frozenset(Scope(name) for name in value.split() if name in _NAMES)


def to_column(scopes: Iterable[Scope]) -> str:
    return " ".join(sorted(str(scope) for scope in scopes))


_NAMES = frozenset(str(scope) for scope in Scope)
