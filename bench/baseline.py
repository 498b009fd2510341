"""Hand-written routes doing the benchmark queries' work with asyncpg and orjson.

Each route reads the same rows as the GraphQL answer (session lookup, team and the viewer's role,
the page with one extra row, the [P2] email rule in SQL) and returns the same JSON body, so the
runner can check both once and then compare their cost. They are mounted into the Orgward app
only by bench/server.py, never in production.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth import token_format
from auth.secrets import token_hash

MANAGERS = ("owner", "admin")
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
NODE_TYPES = {
    "user": "User",
    "team": "Team",
    "member": "Member",
    "invitation": "Invitation",
    "domain": "Domain",
}

SESSION = """
SELECT u.id, s.id AS session_id, s.last_seen_at
FROM user_session s JOIN user_account u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.status = 'active'
"""
TOUCH = "UPDATE user_session SET last_seen_at = $2 WHERE id = $1"
# One indexed lookup by the token's keyed hash, as auth/bearer.py does (its owner comes along).
BEARER = """
SELECT t.kind, t.expires_at, t.revoked_at, u.id, u.status
FROM api_token t LEFT JOIN user_account u ON u.id = t.user_id
WHERE t.token_hash = $1
"""
TEAM = """
SELECT t.id, m.role FROM team t
LEFT JOIN member m ON m.team_id = t.id AND m.user_id = $2
WHERE t.slug = $1
"""
# [P2] The email is shown when public, the viewer's own, or inside a verified domain of a team
# both belong to, the viewer as owner or admin (auth/policy.email_in_managed_domain).
EMAIL = """
CASE WHEN u.email_public OR u.id = $1 OR EXISTS (
    SELECT 1 FROM member mgr
    JOIN member fellow ON fellow.team_id = mgr.team_id
    JOIN domain d ON d.team_id = mgr.team_id
    WHERE mgr.user_id = $1 AND mgr.role IN ('owner', 'admin') AND fellow.user_id = u.id
      AND d.status = 'verified' AND d.verified_until > $2
      AND (u.email LIKE '%@' || d.name OR u.email LIKE '%@' || d.unicode_name)
) THEN u.email END
"""
MEMBERS = f"""
SELECT m.role, u.id, u.username, u.display_name, {EMAIL} AS email
FROM member m JOIN user_account u ON u.id = m.user_id
WHERE m.team_id = $3 ORDER BY m.id LIMIT $4
"""
DOMAINS = "SELECT name, status FROM domain WHERE team_id = $1 ORDER BY id"
VIEWER_TEAMS = """
SELECT t.id, t.name FROM member m JOIN team t ON t.id = m.team_id
WHERE m.user_id = $1 ORDER BY m.id LIMIT $2
"""
MEMBER_PAGES = f"""
SELECT m.team_id, m.role, u.id, u.username, u.display_name, {EMAIL} AS email
FROM member m
JOIN user_account u ON u.id = m.user_id
JOIN (
    SELECT id AS ranked_id,
        row_number() OVER (PARTITION BY team_id ORDER BY id) AS position
    FROM member WHERE team_id = ANY($3::bigint[])
) ranked ON ranked.ranked_id = m.id
WHERE ranked.position <= $4 ORDER BY m.team_id, m.id
"""
EVENTS = """
SELECT id, action, actor_kind, target_type, target_id, created_at, details::text
FROM audit_event
WHERE team_id = $1 AND action = ANY($2::text[]) AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4
"""


def gid(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode()


def from_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    kind, _, key = text.partition(":")
    return int(key) if kind == "cursor" else None


@dataclass
class Baseline:
    """The routes' shared state: a pool and a count of statements sent."""

    dsn: str
    secret_key: str
    cookie_name: str
    pool_size: int = 10
    statements: int = 0
    pool: asyncpg.Pool | None = field(default=None, repr=False)

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.dsn, min_size=self.pool_size, max_size=self.pool_size
        )

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def routes(self) -> list[Route]:
        return [
            Route("/baseline/q0", self.q0),
            Route("/baseline/q0_bearer", self.q0_bearer),
            Route("/baseline/q2/{slug}", self.q2),
            Route("/baseline/q3", self.q3),
            Route("/baseline/q4/{slug}", self.q4),
        ]

    # --- helpers -----------------------------------------------------------------------------

    async def _fetch(self, conn: Any, sql: str, *args: Any) -> list[Any]:
        self.statements += 1
        rows: list[Any] = await conn.fetch(sql, *args)
        return rows

    async def _viewer(self, conn: Any, request: Request, now: datetime) -> int | None:
        token = request.cookies.get(self.cookie_name)
        if not token or len(token) > 128:
            return None
        rows = await self._fetch(conn, SESSION, token_hash(self.secret_key, token), now)
        if not rows:
            return None
        user_id, session_id, last_seen = rows[0]
        if now - last_seen >= LAST_SEEN_RESOLUTION:
            self.statements += 1
            await conn.execute(TOUCH, session_id, now)
        return int(user_id)

    async def _team(self, conn: Any, slug: str, viewer: int) -> tuple[int, str] | None:
        rows = await self._fetch(conn, TEAM, slug, viewer)
        if not rows or rows[0]["role"] is None:
            return None
        return rows[0]["id"], rows[0]["role"]

    @staticmethod
    def _json(data: Any) -> Response:
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    @staticmethod
    def _member(row: Any) -> dict[str, Any]:
        return {
            "node": {
                "role": row["role"].upper(),
                "user": {
                    "id": gid("User", row["id"]),
                    "username": row["username"],
                    "displayName": row["display_name"],
                    "email": row["email"],
                },
            }
        }

    # --- routes ------------------------------------------------------------------------------

    async def q0(self, request: Request) -> Response:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            viewer = await self._viewer(conn, request, datetime.now(UTC))
        return self._json({"viewer": {"id": gid("User", viewer)} if viewer else None})

    async def q0_bearer(self, request: Request) -> Response:
        """The same answer as Q0 for a personal access token with users:read."""
        assert self.pool is not None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token_format.parse(token) is None:
            return Response(status_code=401)
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            rows = await self._fetch(conn, BEARER, token_hash(self.secret_key, token))
        if not rows:
            return Response(status_code=401)
        kind, expires_at, revoked_at, user_id, status = rows[0]
        if kind != "personal" or revoked_at is not None or expires_at <= now or status != "active":
            return Response(status_code=401)
        return self._json({"viewer": {"id": gid("User", user_id)}})

    async def q2(self, request: Request) -> Response:
        assert self.pool is not None
        first = int(request.query_params.get("first", "50"))
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            viewer = await self._viewer(conn, request, now)
            team = await self._team(conn, request.path_params["slug"], viewer) if viewer else None
            if team is None:
                return self._json({"team": None})
            team_id, role = team
            members = await self._fetch(conn, MEMBERS, viewer, now, team_id, first + 1)
            domains = await self._fetch(conn, DOMAINS, team_id) if role in MANAGERS else None
        return self._json(
            {
                "team": {
                    "members": {"edges": [self._member(row) for row in members[:first]]},
                    "domains": None
                    if domains is None
                    else [{"name": d["name"], "status": d["status"].upper()} for d in domains],
                }
            }
        )

    async def q3(self, request: Request) -> Response:
        assert self.pool is not None
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            viewer = await self._viewer(conn, request, now)
            if viewer is None:
                return self._json({"viewer": None})
            teams = (await self._fetch(conn, VIEWER_TEAMS, viewer, 21))[:20]
            ids = [team["id"] for team in teams]
            rows = await self._fetch(conn, MEMBER_PAGES, viewer, now, ids, 11) if ids else []
        by_team: dict[int, list[Any]] = {team_id: [] for team_id in ids}
        for row in rows:
            by_team[row["team_id"]].append(row)
        edges = [
            {
                "node": {
                    "name": team["name"],
                    "members": {"edges": [self._member(row) for row in by_team[team["id"]][:10]]},
                }
            }
            for team in teams
        ]
        return self._json({"viewer": {"teams": {"edges": edges}}})

    async def q4(self, request: Request) -> Response:
        assert self.pool is not None
        after = from_cursor(request.query_params.get("after"))
        actions = request.query_params.getlist("action")
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            viewer = await self._viewer(conn, request, now)
            team = await self._team(conn, request.path_params["slug"], viewer) if viewer else None
            if team is None or team[1] not in MANAGERS:
                return self._json({"team": None})
            rows = await self._fetch(conn, EVENTS, team[0], actions, after, 51)
        edges = []
        for row in rows[:50]:
            target_type, target_id = row["target_type"], row["target_id"]
            edges.append(
                {
                    "cursor": gid("cursor", row["id"]),
                    "node": {
                        "id": gid("AuditEvent", row["id"]),
                        "action": row["action"],
                        "actorKind": row["actor_kind"],
                        "targetType": target_type,
                        "targetId": gid(NODE_TYPES[target_type], target_id)
                        if target_id is not None and target_type in NODE_TYPES
                        else None,
                        "createdAt": row["created_at"].isoformat(),
                        "details": orjson.Fragment(row["details"]),
                    },
                }
            )
        page_info = {
            "hasNextPage": len(rows) > 50,
            "endCursor": edges[-1]["cursor"] if edges else None,
        }
        return self._json({"team": {"auditEvents": {"edges": edges, "pageInfo": page_info}}})
