"""Managed accounts without going through a takeover: the takeover flow has its own tests
(tests/takeover), including the end-to-end [P5] path into what is tested here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from api.relay import from_global_id, to_global_id
from auth.secrets import token_hash
from core.db import session_factory
from models import (
    ApiToken,
    AuditEvent,
    Domain,
    DomainStatus,
    EmailChangeRequest,
    Notification,
    Role,
    TokenKind,
    User,
)
from services import audit_chain
from tests.support.world import Person, TeamRef, World

ERRORS = "errors { __typename code field message }"

CHANGE_EMAIL = f"""
mutation ChangeEmail($input: ChangeEmailInput!) {{
  changeEmail(input: $input) {{
    viewer {{ email emailVerified }}
    emailChangeRequest {{ id status newEmail requestedAt }}
    {ERRORS}
  }}
}}"""

REQUEST_FIELDS = (
    "id status newEmail requestedAt decidedAt reason user { username } decidedBy { username }"
)

APPROVE = f"""
mutation Approve($input: DecideEmailChangeInput!) {{
  approveEmailChange(input: $input) {{ emailChangeRequest {{ {REQUEST_FIELDS} }} {ERRORS} }}
}}"""

REJECT = f"""
mutation Reject($input: DecideEmailChangeInput!) {{
  rejectEmailChange(input: $input) {{ emailChangeRequest {{ {REQUEST_FIELDS} }} {ERRORS} }}
}}"""

CANCEL = f"""
mutation Cancel($input: EmailChangeRequestIdInput!) {{
  cancelEmailChangeRequest(input: $input) {{ emailChangeRequest {{ id status }} {ERRORS} }}
}}"""

MY_REQUEST = """
query { viewer { email emailVerified emailChangeRequest { id status newEmail } } }"""

ACCOUNT = "account { user { username displayName } email status managedSince managedDomain }"

DEACTIVATE = f"""
mutation Deactivate($input: DeactivateUserInput!) {{
  deactivateUser(input: $input) {{ {ACCOUNT} {ERRORS} }}
}}"""

REACTIVATE = f"""
mutation Reactivate($input: ManagedUserInput!) {{
  reactivateUser(input: $input) {{ {ACCOUNT} {ERRORS} }}
}}"""

SIGN_OUT_EVERYWHERE = f"""
mutation SignOutEverywhere($input: ManagedUserInput!) {{
  signOutEverywhere(input: $input) {{ {ACCOUNT} {ERRORS} }}
}}"""

SET_DISPLAY_NAME = f"""
mutation SetDisplayName($input: SetManagedUserDisplayNameInput!) {{
  setManagedUserDisplayName(input: $input) {{ {ACCOUNT} {ERRORS} }}
}}"""

UPDATE_SETTINGS = f"""
mutation Settings($input: UpdateManagedAccountSettingsInput!) {{
  updateManagedAccountSettings(input: $input) {{
    team {{ id takeoverNoticeDays managedRetentionDays }} {ERRORS}
  }}
}}"""

SIGN_IN = f"""
mutation SignIn($input: SignInInput!) {{
  signIn(input: $input) {{ viewer {{ username }} {ERRORS} }}
}}"""

VIEWER = "query { viewer { username displayName } }"


def pk(global_id: str) -> int:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def only_error(payload: dict[str, Any]) -> str | None:
    errors = payload["errors"]
    assert len(errors) <= 1, errors
    return errors[0]["code"] if errors else None


@dataclass
class Acme:
    """Acme manages bob's and erin's accounts (acme.example, a domain it holds verified). alice
    owns it, adam is an admin, mia a plain member. Globex, owned by gina with admin gabe,
    manages nobody here; dave is an unmanaged member of Acme."""

    team: TeamRef
    other: TeamRef
    alice: Person
    adam: Person
    mia: Person
    bob: Person
    erin: Person
    gina: Person
    gabe: Person
    dave: Person


async def manage(
    world: World,
    team: TeamRef,
    person: Person | str,
    *,
    domain: str = "acme.example",
    since: datetime | None = None,
) -> None:
    """Make `person`'s account (or the user with that global id) managed by `team` directly,
    as a takeover taking effect would."""
    global_id = person if isinstance(person, str) else person.id
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(User)
            .where(User.id == pk(global_id))  # type: ignore[arg-type]
            .values(
                managed_by_team_id=team.pk,
                managed_since=since or world.clock.now(),
                managed_domain=domain,
            )
        )
        await db.commit()


async def hold_domain(world: World, team: TeamRef, name: str, *, days: int = 365) -> int:
    """A domain `team` verified, in force for `days` (domain verification has its own tests)."""
    now = world.clock.now()
    async with session_factory(world.engine)() as db:
        domain = Domain(
            team_id=team.pk,
            name=name,
            unicode_name=name,
            token="t" * 32,
            status=DomainStatus.VERIFIED,
            created_at=now,
            verified_at=now,
            verified_until=now + timedelta(days=days),
        )
        db.add(domain)
        await db.commit()
        assert domain.id is not None
        return domain.id


async def unmanage(world: World, person: Person) -> None:
    async with session_factory(world.engine)() as db:
        await db.execute(
            update(User)
            .where(User.id == pk(person.id))  # type: ignore[arg-type]
            .values(managed_by_team_id=None, managed_since=None, managed_domain=None)
        )
        await db.commit()


async def add_token(world: World, person: Person, secret: str) -> int:
    """A personal access token row for `person` (issued directly: tokens have their own tests)."""
    now = world.clock.now()
    async with session_factory(world.engine)() as db:
        token = ApiToken(
            kind=TokenKind.PERSONAL,
            token_hash=token_hash(world.settings.secret_key, secret),
            hint=secret[:12],
            user_id=pk(person.id),
            scopes="users:read",
            created_at=now,
            expires_at=now + timedelta(days=30),
        )
        db.add(token)
        await db.commit()
        assert token.id is not None
        return token.id


async def token_row(world: World, token_id: int) -> ApiToken:
    async with session_factory(world.engine)() as db:
        token = await db.get(ApiToken, token_id)
        assert token is not None
        return token


async def user_row(world: World, person: Person) -> User:
    async with session_factory(world.engine)() as db:
        user = await db.get(User, pk(person.id))
        assert user is not None
        return user


async def notices(world: World, person: Person) -> list[Notification]:
    async with session_factory(world.engine)() as db:
        rows = await db.execute(
            select(Notification)
            .where(Notification.user_id == pk(person.id))
            .order_by(Notification.id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def requests_of(world: World, person: Person) -> list[EmailChangeRequest]:
    async with session_factory(world.engine)() as db:
        rows = await db.execute(
            select(EmailChangeRequest)
            .where(EmailChangeRequest.user_id == pk(person.id))  # type: ignore[arg-type]
            .order_by(EmailChangeRequest.id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def team_events(world: World, team: TeamRef, prefix: str) -> list[AuditEvent]:
    async with session_factory(world.engine)() as db:
        rows = await db.execute(
            select(AuditEvent)
            .where(AuditEvent.team_id == team.pk, AuditEvent.action.startswith(prefix))  # type: ignore[arg-type, union-attr]
            .order_by(AuditEvent.id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def chain_intact(world: World, team: TeamRef) -> bool:
    async with session_factory(world.engine)() as db:
        check = await audit_chain.verify(db, audit_chain.chain_key(team.pk, None))
        return check.intact


def user_id(person: Person) -> str:
    return person.id


def request_id(key: int) -> str:
    return str(to_global_id("EmailChangeRequest", key))


@pytest.fixture
async def acme(world: World) -> Acme:
    alice = await world.sign_up("alice", email="alice@acme.example")
    adam = await world.sign_up("adam", email="adam@acme.example")
    mia = await world.sign_up("mia", email="mia@acme.example")
    bob = await world.sign_up("bob", email="bob@acme.example")
    erin = await world.sign_up("erin", email="erin@acme.example")
    gina = await world.sign_up("gina", email="gina@globex.example")
    gabe = await world.sign_up("gabe", email="gabe@globex.example")
    dave = await world.sign_up("dave", email="dave@example.org")
    team = await world.make_team(alice, "Acme", slug="acme")
    other = await world.make_team(gina, "Globex", slug="globex")
    await world.add_member(team, adam, Role.ADMIN)
    await world.add_member(team, mia, Role.MEMBER)
    await world.add_member(team, bob, Role.MEMBER)
    await world.add_member(team, dave, Role.MEMBER)
    await world.add_member(other, gabe, Role.ADMIN)
    # Bob is also a member of Globex: membership elsewhere gives Globex no power over him.
    await world.add_member(other, bob, Role.MEMBER)
    await hold_domain(world, team, "acme.example")
    await manage(world, team, bob)
    await manage(world, team, erin)
    world.mailbox.clear()
    return Acme(team, other, alice, adam, mia, bob, erin, gina, gabe, dave)
