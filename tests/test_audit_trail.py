"""[P17] A team's owners and admins read, filter, page through and export its audit trail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from models import Role
from tests.support.world import Person, TeamRef, World

TRAIL = """
query($slug: String!, $first: Int, $after: String, $filter: AuditEventFilter) {
  team(slug: $slug) {
    auditEvents(first: $first, after: $after, filter: $filter) {
      edges { cursor node { id action actorKind targetType targetId details createdAt
                            ipAddress userAgent actor { username } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

RENAME = """mutation($id: ID!, $name: String!) {
  updateTeam(input: {teamId: $id, name: $name}) { errors { code } } }"""


async def _acme(world: World) -> tuple[Person, Person, Person, TeamRef]:
    olga = await world.sign_up("olga")
    team = await world.make_team(olga, name="Acme", slug="acme")
    adam = await world.sign_up("adam")
    mia = await world.sign_up("mia")
    await world.add_member(team, adam, Role.ADMIN)
    await world.add_member(team, mia, Role.MEMBER)
    for index in range(3):
        world.clock.advance(minutes=1)
        await (olga if index % 2 == 0 else adam)(RENAME, id=team.id, name=f"Acme {index}")
    return olga, adam, mia, team


def _actions(data: dict) -> list[str]:
    return [edge["node"]["action"] for edge in data["team"]["auditEvents"]["edges"]]


async def test_p17_owners_and_admins_read_the_trail_newest_first(world: World) -> None:
    olga, adam, _, team = await _acme(world)
    for reader in (olga, adam):
        data = await reader(TRAIL, slug="acme")
        assert _actions(data) == ["team.updated"] * 3 + ["team.created"]
    newest = (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"][0]["node"]
    assert newest["actor"] == {"username": "olga"}
    assert newest["actorKind"] == "user" and newest["targetType"] == "team"
    assert newest["targetId"] == team.id
    assert newest["details"] == {"fields": ["name"]}
    assert newest["ipAddress"] == "127.0.0.1" and newest["userAgent"]


async def test_p17_members_may_not_read_the_trail(world: World) -> None:
    _, _, mia, _ = await _acme(world)
    body = await mia.raw(TRAIL, slug="acme")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert body["data"]["team"] is None


async def test_the_trail_pages_with_cursors(world: World) -> None:
    olga, _, _, _ = await _acme(world)
    first = (await olga(TRAIL, slug="acme", first=3))["team"]["auditEvents"]
    assert len(first["edges"]) == 3 and first["pageInfo"]["hasNextPage"]
    rest = await olga(TRAIL, slug="acme", first=3, after=first["pageInfo"]["endCursor"])
    page = rest["team"]["auditEvents"]
    assert [e["node"]["action"] for e in page["edges"]] == ["team.created"]
    assert page["pageInfo"]["hasNextPage"] is False


async def test_the_trail_filters_by_action_actor_and_time(world: World) -> None:
    olga, adam, _, _ = await _acme(world)
    created = await olga(TRAIL, slug="acme", filter={"actions": ["team.created"]})
    assert _actions(created) == ["team.created"]
    by_adam = await olga(TRAIL, slug="acme", filter={"actorId": adam.id})
    assert _actions(by_adam) == ["team.updated"]
    since = (world.clock.now() - timedelta(seconds=90)).isoformat()
    recent = await olga(TRAIL, slug="acme", filter={"since": since})
    assert _actions(recent) == ["team.updated", "team.updated"]
    bad = await olga.raw(TRAIL, slug="acme", filter={"actorId": "nonsense"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_audit_events_resolve_as_nodes_for_managers_only(world: World) -> None:
    olga, _, mia, _ = await _acme(world)
    event_id = (await olga(TRAIL, slug="acme", first=1))["team"]["auditEvents"]["edges"][0]
    query = "query($id: ID!) { node(id: $id) { ... on AuditEvent { action } } }"
    assert (await olga(query, id=event_id["node"]["id"]))["node"] == {"action": "team.updated"}
    assert (await mia(query, id=event_id["node"]["id"]))["node"] is None


async def test_trail_statements_do_not_grow_with_page_size(world: World) -> None:
    olga, _, _, _ = await _acme(world)
    with world.count_statements() as small:
        await olga(TRAIL, slug="acme", first=1)
    with world.count_statements() as large:
        await olga(TRAIL, slug="acme", first=50)
    assert large.count == small.count


async def test_p17_export_as_json_lines(world: World) -> None:
    olga, _, _, _ = await _acme(world)
    response = await olga.client.http.get("/teams/acme/audit-events.jsonl")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    # The export itself is on the record, as the trail's last entry.
    assert [line["action"] for line in lines] == (
        ["team.created"] + ["team.updated"] * 3 + ["audit.exported"]
    )
    assert lines[0]["created_at"] < lines[-1]["created_at"]
    assert _actions(await olga(TRAIL, slug="acme", first=1)) == ["audit.exported"]
    filtered = await olga.client.http.get(
        "/teams/acme/audit-events.jsonl", params={"action": "team.created"}
    )
    assert [json.loads(line)["action"] for line in filtered.text.splitlines()] == ["team.created"]


async def test_export_refusals(world: World) -> None:
    _, _, mia, _ = await _acme(world)
    outsider = await world.sign_up("oscar")
    assert (await mia.client.http.get("/teams/acme/audit-events.jsonl")).status_code == 403
    assert (await outsider.client.http.get("/teams/acme/audit-events.jsonl")).status_code == 404
    assert (await world.client().http.get("/teams/acme/audit-events.jsonl")).status_code == 404
    naive = await mia.client.http.get(
        "/teams/acme/audit-events.jsonl", params={"since": "2026-01-01T00:00:00"}
    )
    assert naive.status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        {"since": "2026-01-01T00:00:00"},
        {"actions": ["team.created\u0000"]},
        {"actions": ["x" * 65]},
        {"actions": [f"a.b{n}" for n in range(51)]},
    ],
    ids=["naive-time", "nul", "long-action", "too-many-actions"],
)
async def test_hostile_filters_are_invalid_input(world: World, bad: dict) -> None:
    olga, _, _, _ = await _acme(world)
    body = await olga.raw(TRAIL, slug="acme", filter=bad)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    export = await olga.client.http.get(
        "/teams/acme/audit-events.jsonl",
        params={
            "action": bad.get("actions", []),
            **({"since": bad["since"]} if "since" in bad else {}),
        },
    )
    assert export.status_code == 400


async def test_an_unexpected_export_failure_is_masked_with_the_request_id(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auth import sessions

    olga, _, _, _ = await _acme(world)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(sessions, "authenticate", broken)
    response = await olga.client.http.get(
        "/teams/acme/audit-events.jsonl", headers={"x-request-id": "req-9"}
    )
    assert response.status_code == 500
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert response.json()["errors"] == [
        {
            "message": "Internal server error (request id req-9).",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
