"""The GraphQL-over-HTTP edge: media types, status codes, CSRF, GET rules, limits, masking."""

from __future__ import annotations

import gc
import re

import httpx
import pytest

from api.app import YOUNG_GENERATION_THRESHOLD, create_app
from core.settings import Environment, Settings
from tests.support.client import ORIGIN
from tests.support.world import World

VIEWER = "{ viewer { username } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _http(world: World, **headers: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url=ORIGIN, headers=headers
    )
    return client


async def test_json_is_the_default_media_type(world: World) -> None:
    async with _http(world) as http:
        response = await http.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"viewer": None}}
    async with _http(world) as http:
        again = await http.post("/graphql", json={"query": VIEWER})
    ids = [response.headers["x-request-id"], again.headers["x-request-id"]]
    assert all(re.fullmatch("[0-9a-f]{32}", request_id) for request_id in ids)
    assert ids[0] != ids[1]


async def test_graphql_response_media_type_when_asked_for(world: World) -> None:
    async with _http(world, accept=f"{GRAPHQL_RESPONSE}, application/json;q=0.9") as http:
        ok = await http.post("/graphql", json={"query": VIEWER})
        invalid = await http.post("/graphql", json={"query": "{ viewer { nope } }"})
        unparsable = await http.post("/graphql", json={"query": "{ viewer "})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    for failed in (invalid, unparsable):
        assert failed.status_code == 400
        assert failed.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        body = failed.json()
        assert "data" not in body and body["errors"]


async def test_validation_errors_keep_200_for_plain_json_clients(world: World) -> None:
    async with _http(world, accept="application/json") as http:
        response = await http.post("/graphql", json={"query": "{ viewer { nope } }"})
    assert response.status_code == 200
    assert response.json()["data"] is None


async def test_mutations_are_refused_over_get(world: World) -> None:
    async with _http(world) as http:
        response = await http.get("/graphql", params={"query": "mutation { signOut { ok } }"})
    assert response.status_code in (400, 405)


async def test_anonymous_queries_may_use_get(world: World) -> None:
    async with _http(world, accept="application/json") as http:
        response = await http.get("/graphql", params={"query": VIEWER})
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}


async def test_cookie_authenticated_requests_may_not_use_get(world: World) -> None:
    alice = await world.sign_up("alice")
    response = await alice.client.http.get(
        "/graphql", params={"query": VIEWER}, headers={"accept": "application/json"}
    )
    assert response.status_code == 405
    assert "POST" in response.text


async def test_csrf_cookie_post_from_another_origin_is_refused(world: World) -> None:
    alice = await world.sign_up("alice")
    response = await alice.client.http.post(
        "/graphql",
        json={"query": "mutation { signOut { ok } }"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    # The session survived: the forged sign-out did nothing.
    assert (await alice(VIEWER))["viewer"]["username"] == "alice"


async def test_csrf_cookie_post_without_origin_is_refused(world: World) -> None:
    alice = await world.sign_up("alice")
    cookies = dict(alice.client.http.cookies)
    async with _http(world) as http:
        http.cookies.update(cookies)
        response = await http.post("/graphql", json={"query": "mutation { signOut { ok } }"})
        assert response.status_code == 403
        # A Referer from our own origin is accepted in place of Origin.
        referred = await http.post(
            "/graphql", json={"query": VIEWER}, headers={"referer": f"{ORIGIN}/dashboard"}
        )
        assert referred.json()["data"]["viewer"]["username"] == "alice"


async def test_cookie_less_server_to_server_post_needs_no_origin(world: World) -> None:
    async with _http(world) as http:
        response = await http.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 200


async def test_batching_is_refused(world: World) -> None:
    async with _http(world) as http:
        response = await http.post("/graphql", json=[{"query": VIEWER}, {"query": VIEWER}])
    assert response.status_code == 400


async def test_one_mutation_field_per_request(world: World) -> None:
    alice = await world.sign_up("alice")
    body = await alice.raw("mutation { a: signOut { ok } b: signOut { ok } }")
    assert body["data"] is None
    assert "exactly one mutation field" in body["errors"][0]["message"]


async def test_query_depth_limit(world: World) -> None:
    settings = world.settings.model_copy(update={"max_query_depth": 4})
    app = create_app(
        settings, engine=world.engine, clock=world.clock, run_worker=False, apply_migrations=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        allowed = await http.post(
            "/graphql", json={"query": "{ viewer { teams { edges { cursor } } } }"}
        )
        deep = await http.post(
            "/graphql",
            json={
                "query": "{ viewer { teams { edges { node { members { edges { cursor } } } } } } }"
            },
        )
    assert "errors" not in allowed.json()
    body = deep.json()
    assert body["data"] is None
    assert any("exceeds maximum operation depth" in e["message"] for e in body["errors"])


async def test_alias_limit(world: World) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(16)) + " }"
    body = await world.client().raw(query)
    assert body["errors"] and "aliases" in body["errors"][0]["message"].lower()


async def test_token_limit(world: World) -> None:
    query = "{ " + " ".join("viewer { id }" for _ in range(800)) + " }"
    body = await world.client().raw(query)
    assert body["errors"] and "token" in body["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked_with_a_request_id(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import users

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(users, "user_by_username", broken)
    alice = await world.sign_up("alice")
    response = await alice.client.post(
        '{ user(username: "alice") { id } }', headers={"x-request-id": "req-123"}
    )
    body = response.json()
    (error,) = body["errors"]
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-123"}
    assert "req-123" in error["message"]


async def test_a_failure_while_identifying_is_masked_with_the_request_id(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auth import sessions

    alice = await world.sign_up("alice")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(sessions, "authenticate", broken)
    response = await alice.client.post("{ viewer { id } }", headers={"x-request-id": "req-7"})
    assert response.status_code == 500
    assert "hunter2" not in response.text and "Traceback" not in response.text
    (error,) = response.json()["errors"]
    assert error == {
        "message": "Internal server error (request id req-7).",
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


async def test_expected_query_errors_carry_their_code(world: World) -> None:
    alice = await world.sign_up("alice")
    body = await alice.raw("{ viewer { teams(first: 1000) { edges { cursor } } } }")
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "first"}


async def test_health_and_readiness(world: World) -> None:
    async with _http(world) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        metrics = await http.get("/metrics")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "orgward_http_requests_total" in metrics.text


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        create_app(Settings(_env_file=None, environment=Environment.PRODUCTION))  # type: ignore[call-arg]


async def test_production_turns_off_graphiql_and_introspection(world: World) -> None:
    settings = world.settings.model_copy(
        update={
            "environment": Environment.PRODUCTION,
            "secret_key": "x" * 40,
        }
    )
    app = create_app(
        settings, engine=world.engine, clock=world.clock, run_worker=False, apply_migrations=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        introspection = await http.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}
        )
    assert page.status_code == 404
    assert introspection.json()["data"] is None
    assert "introspection" in introspection.json()["errors"][0]["message"].lower()


async def test_graphiql_in_development(world: World) -> None:
    async with _http(world, accept="text/html") as http:
        page = await http.get("/graphql")
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_bearer_tokens_with_a_bad_checksum_are_refused_with_401(world: World) -> None:
    from auth import token_format

    good = token_format.new_token(token_format.TokenKind.PERSONAL)
    mistyped = good[:-1] + ("A" if good[-1] != "A" else "B")
    async with _http(world) as http:
        for token in (mistyped, "owp_short", "ghp_" + "a" * 36):
            response = await http.post(
                "/graphql", json={"query": VIEWER}, headers={"authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
        wrong_scheme = await http.post(
            "/graphql", json={"query": VIEWER}, headers={"authorization": "Basic dXNlcjpwYXNz"}
        )
    assert wrong_scheme.status_code == 401
    assert 'error="invalid_request"' in wrong_scheme.headers["www-authenticate"]


async def test_well_formed_but_unknown_bearer_tokens_are_refused(world: World) -> None:
    from auth import token_format

    token = token_format.new_token(token_format.TokenKind.INSTALLATION)
    assert token_format.parse(token) is token_format.TokenKind.INSTALLATION
    async with _http(world) as http:
        # Bearer requests are exempt from the cookie CSRF rule (no Origin), and may use GET.
        response = await http.get(
            "/graphql", params={"query": VIEWER}, headers={"authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    assert "unknown" in response.text


async def test_oversized_bodies_are_refused_before_parsing(world: World) -> None:
    huge = "x" * 1_100_000
    async with _http(world) as http:
        response = await http.post("/graphql", json={"query": VIEWER, "variables": {"x": huge}})
    assert response.status_code == 413


async def test_non_json_bodies_are_refused(world: World) -> None:
    async with _http(world) as http:
        form = await http.post("/graphql", data={"query": VIEWER})
        broken = await http.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert form.status_code == 400
    assert broken.status_code == 400


async def test_unpaired_surrogates_are_refused_before_any_work(world: World) -> None:
    # Valid JSON, but text no database can store: "\ud800" alone.
    body = b'{"query": "{ viewer { username } }", "variables": {"x": "a\\ud800b"}}'
    async with _http(world) as http:
        response = await http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400


CREATE = 'createTeam(input: {name: "%s"}) { team { slug } errors { code } }'


async def test_fragments_cannot_smuggle_a_second_mutation(world: World) -> None:
    alice = await world.sign_up("alice")
    one, two = CREATE % "One", CREATE % "Two"
    for document in (
        f"mutation {{ ... on Mutation {{ a: {one} b: {two} }} }}",
        f"mutation {{ ...Both }} fragment Both on Mutation {{ a: {one} b: {two} }}",
        f"mutation {{ a: {one} ...More }} fragment More on Mutation {{ b: {two} }}",
    ):
        body = await alice.raw(document)
        assert body.get("data") is None, document
        assert "exactly one mutation field" in body["errors"][0]["message"]
    teams = await alice("{ viewer { teams { edges { node { slug } } } } }")
    assert teams["viewer"]["teams"]["edges"] == []
    # One mutation behind a fragment is fine.
    ok = await alice("mutation { ...One } fragment One on Mutation { %s }" % (CREATE % "Solo"))
    assert ok["createTeam"]["team"] == {"slug": "solo"}


async def test_an_unexpected_error_in_a_mutation_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import audit

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    alice = await world.sign_up("alice")
    monkeypatch.setattr(audit, "team_created", broken)
    body = await alice.raw("mutation { %s }" % (CREATE % "Ghost"))
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    monkeypatch.undo()
    # The team row was flushed before the failure; it must not have been committed.
    teams = await alice("{ viewer { teams { edges { node { slug } } } } }")
    assert teams["viewer"]["teams"]["edges"] == []
    assert (await alice('{ team(slug: "ghost") { id } }'))["team"] is None


async def test_empty_and_ambiguous_documents(world: World) -> None:
    async with _http(world, accept="application/json") as http:
        empty = await http.post("/graphql", json={"query": ""})
        two = await http.post(
            "/graphql", json={"query": "query A { viewer { id } } query B { viewer { id } }"}
        )
        unknown = await http.post(
            "/graphql", json={"query": "query A { viewer { id } }", "operationName": "Z"}
        )
        picked = await http.post(
            "/graphql",
            json={
                "query": "query A { viewer { id } } query B { viewer { id } }",
                "operationName": "B",
            },
        )
    assert empty.status_code == 400
    # graphql-core's own errors: nothing runs, the client reads why.
    for response in (two, unknown):
        assert response.status_code == 200 and response.json()["data"] is None
        assert "operation" in response.json()["errors"][0]["message"].lower()
    assert picked.json() == {"data": {"viewer": None}}


async def test_production_start_up_tunes_the_collector(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What start-up built is frozen out of the collector's scans, and the young generation
    is collected less often (requests leave no cycles: tests/test_request_memory.py)."""
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    frozen: list[bool] = []
    before = gc.get_threshold()
    settings = world.settings.model_copy(
        update={"environment": Environment.PRODUCTION, "secret_key": "x" * 40}
    )
    app = create_app(
        settings, engine=world.engine, clock=world.clock, run_worker=False, apply_migrations=False
    )
    try:
        async with app.router.lifespan_context(app):
            assert frozen == [True]
            assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
