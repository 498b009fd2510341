"""POST /tokens/revoke: a secret scanner reports leaked tokens; live ones are revoked at once,
recorded and their owners told, and the answer never says which tokens existed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event, select

from auth import token_format
from core.db import session_factory
from models import ApiToken, AuditEvent, Role, TokenKind
from services.token_leaks import MAX_REPORTS
from tests.apps.flows import Partner, installed, register_app
from tests.support.client import ORIGIN
from tests.support.world import Person, StatementCounter, World
from tests.tokens.support import Bearer, create_token

VIEWER = "{ viewer { id username } }"
NOTICES = "{ viewer { notifications(first: 10) { edges { node { kind details } } } } }"
LEAK_URL = "https://github.com/octo/repo/blob/abc123/config.yml"


class Scanner:
    """A secret scanning partner's server: no cookies, no Origin."""

    def __init__(self, world: World, address: str = "127.0.0.1") -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.app, client=(address, 50002)),
            base_url=ORIGIN,
            headers={"user-agent": "GitHub-Secret-Scanning/1.0"},
        )

    async def report(self, *tokens: str, url: str = LEAK_URL) -> httpx.Response:
        body = [
            {"token": token, "type": "orgward_token", "url": url, "source": "commit"}
            for token in tokens
        ]
        return await self.http.post("/tokens/revoke", json=body)

    async def post(self, content: bytes, content_type: str = "application/json") -> httpx.Response:
        return await self.http.post(
            "/tokens/revoke", content=content, headers={"content-type": content_type}
        )

    async def aclose(self) -> None:
        await self.http.aclose()


async def _notices(person: Person) -> list[dict[str, Any]]:
    data = await person(NOTICES)
    return [edge["node"] for edge in data["viewer"]["notifications"]["edges"]]


async def _leak_events(world: World) -> list[AuditEvent]:
    async with session_factory(world.engine)() as db:
        query = select(AuditEvent).where(AuditEvent.action == "token.leaked")
        return list((await db.execute(query)).scalars())


def _received(response: httpx.Response, count: int) -> None:
    assert response.status_code == 202, response.text
    assert response.json() == {"received": count}
    assert response.headers["cache-control"] == "no-store"


async def test_a_leaked_personal_token_is_revoked_and_its_owner_told(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"], name="laptop script")
    client = Bearer(world, token)
    assert (await client.post(VIEWER)).status_code == 200
    scanner = Scanner(world)
    try:
        _received(await scanner.report(token), 1)
        assert (await client.post(VIEWER)).status_code == 401
        await world.deliver_mail()
        mail = world.mailbox.last_to(alice.email, "token_leaked")
        body = mail.get_content()
        assert token[:8] in mail["Subject"] and "laptop script" in body
        # The email names the host only, never a link of the anonymous reporter's choosing.
        assert "github.com (commit)" in body and LEAK_URL not in body
        notices = await _notices(alice)
        assert notices[0]["kind"] == "token.leaked"
        assert notices[0]["details"]["url"] == LEAK_URL
        async with session_factory(world.engine)() as db:
            row = (await db.execute(select(ApiToken))).scalar_one()
        assert row.revoked_reason == "leaked" and row.revoked_at == world.clock.now()
        [leaked] = await _leak_events(world)
        assert leaked.team_id is None and leaked.actor_kind == "anonymous"
        assert leaked.chain_key == f"user:{row.user_id}"
        assert leaked.target_type == "api_token" and leaked.target_id == row.id
        assert leaked.details["url"] == LEAK_URL and leaked.details["source"] == "commit"
        # Reported again: nothing new is revoked, recorded or sent.
        world.mailbox.clear()
        _received(await scanner.report(token), 1)
        await world.deliver_mail()
        assert world.mailbox.to(alice.email) == []
        assert len(await _leak_events(world)) == 1
        assert len(await _notices(alice)) == 1
    finally:
        await scanner.aclose()


async def test_a_leaked_app_token_is_revoked_and_the_developer_and_admins_told(
    world: World,
) -> None:
    devon = await world.sign_up("devon")
    olga = await world.sign_up("olga")
    ada = await world.sign_up("ada")
    acme = await world.make_team(olga, "Acme", slug="acme")
    await world.add_member(acme, ada, Role.ADMIN)
    app = await register_app(devon, name="Roster Sync")
    await installed(olga, acme, app.client_id)
    partner = Partner(world)
    token = await partner.token(app, team="acme")
    scanner = Scanner(world)
    try:
        _received(await scanner.report(token), 1)
        assert (await partner.graphql(token, '{ team(slug: "acme") { id } }')).status_code == 401
        await world.deliver_mail()
        mail = world.mailbox.last_to(devon.email, "app_token_leaked")
        assert "Roster Sync" in mail["Subject"] and "Acme" in mail.get_content()
        assert world.mailbox.to(olga.email, "app_token_leaked") == []
        assert (await _notices(devon))[0]["kind"] == "app.token_leaked"
        for manager in (olga, ada):
            notice = (await _notices(manager))[0]
            assert notice["kind"] == "installation.token_leaked"
            assert notice["details"]["app"] == "Roster Sync"
        [leaked] = await _leak_events(world)
        assert leaked.team_id == acme.pk and leaked.chain_key == f"team:{acme.pk}"
        assert leaked.details["url"] == LEAK_URL and leaked.details["kind"] == "installation"
        async with session_factory(world.engine)() as db:
            row = (await db.execute(select(ApiToken))).scalar_one()
        assert row.revoked_reason == "leaked"
    finally:
        await scanner.aclose()


async def test_a_bad_checksum_costs_no_sql_at_all(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"])
    mistyped = token[:10] + ("x" if token[10] != "x" else "y") + token[11:]
    assert token_format.parse(mistyped) is None
    scanner = Scanner(world)
    side = StatementCounter()
    side_engine = world.app.state.orgward.side_engine.sync_engine
    event.listen(side_engine, "before_cursor_execute", side)
    try:
        with world.count_statements() as counter:
            _received(await scanner.report(mistyped, "owp_short", "ghp_" + "a" * 36), 3)
    finally:
        event.remove(side_engine, "before_cursor_execute", side)
        await scanner.aclose()
    assert counter.count == 0, counter.statements
    assert side.count == 0, side.statements
    assert (await Bearer(world, token).post(VIEWER)).status_code == 200


async def test_unknown_tokens_get_the_same_answer_as_live_and_revoked_ones(world: World) -> None:
    alice = await world.sign_up("alice")
    live, _ = await create_token(alice, ["users:read"])
    expired, _ = await create_token(alice, ["users:read"], days=1)
    world.clock.advance(timedelta(days=2))
    unknown = token_format.new_token(TokenKind.PERSONAL)
    scanner = Scanner(world)
    try:
        answers = [await scanner.report(token) for token in (unknown, live, live, expired)]
    finally:
        await scanner.aclose()
    assert {(r.status_code, r.content) for r in answers} == {(202, b'{"received":1}')}
    async with session_factory(world.engine)() as db:
        rows = {row.hint: row for row in (await db.execute(select(ApiToken))).scalars()}
    assert rows[live[:8]].revoked_reason == "leaked"
    # An expired token is not revoked again, and nobody is told about it.
    assert rows[expired[:8]].revoked_at is None
    assert len(await _leak_events(world)) == 1


async def test_several_tokens_in_one_report_take_one_select_and_one_update(world: World) -> None:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")
    tokens = [(await create_token(person, ["users:read"]))[0] for person in (alice, bob, bob)]
    unknown = token_format.new_token(TokenKind.INSTALLATION)
    scanner = Scanner(world)
    try:
        with world.count_statements() as counter:
            _received(await scanner.report(*tokens, unknown, "not-a-token"), 5)
    finally:
        await scanner.aclose()
    on_tokens = [s.split()[0] for s in counter.statements if "api_token" in s.split("WHERE")[0]]
    assert on_tokens == ["SELECT", "UPDATE"], counter.statements
    assert len(await _leak_events(world)) == 3
    assert len(await _notices(bob)) == 2


async def test_a_single_object_is_accepted_too(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"])
    scanner = Scanner(world)
    try:
        response = await scanner.http.post("/tokens/revoke", json={"token": token})
    finally:
        await scanner.aclose()
    _received(response, 1)
    assert (await Bearer(world, token).post(VIEWER)).status_code == 401


async def test_bad_reports_are_refused_with_json_never_500(world: World) -> None:
    scanner = Scanner(world)
    token = token_format.new_token(TokenKind.PERSONAL)
    too_many = [{"token": token}] * (MAX_REPORTS + 1)
    cases: list[tuple[bytes, str, int]] = [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b'"owp_x"', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'[{"token": 5}]', "application/json", 400),
        (b'[{"token": "owp_x", "url": ["x"]}]', "application/json", 400),
        (b"[" * 100_000, "application/json", 413),
        (b"[" * 50_000, "application/json", 400),
        (b'{"token": "\\ud800"}', "application/json", 400),  # a lone surrogate
        (httpx.Request("POST", "/", json=too_many).content, "application/json", 400),
        (b"token=owp_x", "application/x-www-form-urlencoded", 415),
    ]
    try:
        for content, content_type, status in cases:
            response = await scanner.post(content, content_type)
            assert response.status_code == status, (content[:40], response.text)
            assert response.json()["error"] == "INVALID_INPUT"
        declared = await scanner.http.post(
            "/tokens/revoke",
            content=b"[]",
            headers={"content-type": "application/json", "content-length": "9999999"},
        )
        assert declared.status_code == 413
    finally:
        await scanner.aclose()


async def test_reported_details_are_cut_and_cleaned(world: World) -> None:
    alice = await world.sign_up("alice")
    token, _ = await create_token(alice, ["users:read"])
    scanner = Scanner(world)
    try:
        _received(await scanner.report(token, url="https://x.example/\x00" + "a" * 5000), 1)
    finally:
        await scanner.aclose()
    [leaked] = await _leak_events(world)
    assert len(leaked.details["url"]) == 2048 and "\x00" not in leaked.details["url"]


async def test_an_address_reporting_too_many_tokens_is_told_when_to_retry(world: World) -> None:
    limit = world.settings.token_leak_reports_per_minute
    scanner = Scanner(world, address="127.0.0.9")
    other = Scanner(world, address="127.0.0.10")
    batch = [token_format.new_token(TokenKind.PERSONAL) for _ in range(MAX_REPORTS)]
    try:
        for _ in range(limit // MAX_REPORTS):
            _received(await scanner.report(*batch), MAX_REPORTS)
        refused = await scanner.report(batch[0])
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "RATE_LIMITED"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Malformed tokens cost nothing, so they are not refused; other addresses are not either.
        _received(await scanner.report("owp_nonsense"), 1)
        _received(await other.report(batch[0]), 1)
        world.clock.advance(timedelta(seconds=61))
        _received(await scanner.report(batch[0]), 1)
    finally:
        await scanner.aclose()
        await other.aclose()
