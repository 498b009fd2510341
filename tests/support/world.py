"""The running system under test and domain-speaking factories on top of it."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from core.clock import FrozenClock
from core.db import session_factory
from core.settings import Settings
from models import Member, Role
from tests.support.client import ORIGIN, GraphQLClient
from tests.support.mailbox import Mailbox
from worker.context import WorkerContext
from worker.runner import run_once

PASSWORD = "correct horse battery"

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { viewer { id username email } errors { __typename code field message } }
}"""

CREATE_TEAM = """
mutation CreateTeam($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id slug name } errors { code field message } }
}"""


@dataclass
class Person:
    """A signed-in user and their own browser."""

    client: GraphQLClient
    id: str
    username: str
    email: str

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.client(query, **variables)

    async def raw(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.client.raw(query, **variables)


@dataclass
class TeamRef:
    id: str
    slug: str
    pk: int


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        self.statements.append(statement)


@dataclass
class World:
    app: Starlette
    engine: AsyncEngine
    clock: FrozenClock
    settings: Settings
    mailbox: Mailbox
    clients: list[GraphQLClient] = field(default_factory=list)
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def client(self, **kwargs: Any) -> GraphQLClient:
        client = GraphQLClient(self.app, **kwargs)
        self.clients.append(client)
        return client

    async def sign_up(
        self,
        username: str | None = None,
        *,
        email: str | None = None,
        password: str = PASSWORD,
        birth_date: date = date(1990, 5, 17),
        country: str | None = None,
        verified: bool = True,
    ) -> Person:
        username = username or f"user{next(self._serial)}"
        email = email or f"{username}@example.org"
        client = self.client()
        data = await client(
            SIGN_UP,
            input={
                "username": username,
                "email": email,
                "password": password,
                "birthDate": birth_date.isoformat(),
                "country": country,
            },
        )
        payload = data["signUp"]
        assert payload["errors"] == [], payload["errors"]
        if verified:
            await self.deliver_mail()
            token = self.mailbox.token_in(email, "verify_email")
            await client(
                "mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }", t=token
            )
        viewer = payload["viewer"]
        return Person(client=client, id=viewer["id"], username=viewer["username"], email=email)

    async def make_team(
        self, owner: Person, name: str = "Acme", slug: str | None = None
    ) -> TeamRef:
        data = await owner(CREATE_TEAM, input={"name": name, "slug": slug})
        team = data["createTeam"]["team"]
        assert team, data
        from api.relay import from_global_id

        parsed = from_global_id(team["id"])
        assert parsed is not None
        return TeamRef(id=team["id"], slug=team["slug"], pk=parsed[1])

    async def add_member(self, team: TeamRef, person: Person, role: Role = Role.MEMBER) -> str:
        """Put `person` in `team` directly (invitations have their own tests); returns member id."""
        from api.relay import from_global_id, to_global_id

        user_pk = from_global_id(person.id)[1]  # type: ignore[index]
        async with session_factory(self.engine)() as db:
            member = Member(
                team_id=team.pk, user_id=user_pk, role=role, created_at=self.clock.now()
            )
            db.add(member)
            await db.commit()
            return str(to_global_id("Member", member.id))  # type: ignore[arg-type]

    async def deliver_mail(self) -> dict[str, int]:
        context = WorkerContext(
            engine=self.engine,
            sessions=session_factory(self.engine),
            settings=self.settings,
            clock=self.clock,
        )
        return await run_once(context)

    @contextlib.contextmanager
    def count_statements(self) -> Iterator[StatementCounter]:
        counter = StatementCounter()
        event.listen(self.engine.sync_engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", counter)

    @contextlib.asynccontextmanager
    async def own_app(
        self, person: Person, engine: AsyncEngine, settings: Settings | None = None
    ) -> AsyncIterator[httpx.AsyncClient]:
        """An app of its own on `engine` (same database and clock), started, and a client
        signed in as `person`; the engine is disposed of afterwards."""
        from api.app import create_app

        app = create_app(
            settings or self.settings,
            engine=engine,
            clock=self.clock,
            run_worker=False,
            apply_migrations=False,
        )
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url=ORIGIN,
                    cookies=dict(person.client.http.cookies),
                    headers={"origin": ORIGIN},
                ) as http,
            ):
                yield http
        finally:
            await engine.dispose()
