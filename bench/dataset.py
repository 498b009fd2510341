"""The benchmark dataset, built on PostgreSQL with set-based SQL (INSERT … SELECT generate_series).

Users, teams (10 to 1,000 members each), three verified domains per team, audit events spread
over the teams, and one signed-in viewer (a session row whose token hash is the app's HMAC) who
belongs to 25+ teams (Q3) and owns the team that Q2 and Q4 read.

The audit rows carry filled hash-chain columns (chain key, sequence, previous hash, hash) and
chain heads, but the hashes are stand-ins: `services.audit_chain.verify` does NOT pass on this
dataset. The database is the benchmark's own; it is dropped and rebuilt when the wanted size or
the migrations change (their text, not only the head's id), and reused otherwise.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

from auth import token_format
from auth.secrets import token_hash
from core import migrate
from core.db import create_engine
from core.settings import Settings

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/orgward_bench"
# Keys the session token's HMAC; the bench server runs with the same key.
SECRET_KEY = "orgward-bench-secret-key-for-loopback-runs-only-0123456789"
SESSION_TOKEN = "bench-viewer-session-token-2b8f0c3e9d7a41f6a5c2e1d0b9a8f7e6"
VIEWER_USERNAME = "bench_viewer"
# The viewer's personal access token for Q0_bearer: a fixed random part keeps it stable.
BEARER_RANDOM = "Bench0viewer0token0k3Xq9Zt2Lm4"
BEARER_TOKEN = f"owp_{BEARER_RANDOM}{token_format.checksum(BEARER_RANDOM)}"
BEARER_SCOPES = "teams:read users:read"
# The filter of Q4: two of the eight actions the generator writes.
AUDIT_ACTIONS = ("member.role_changed", "member.removed")
ACTIONS = (
    "member.role_changed",
    "member.removed",
    "member.joined",
    "member.left",
    "invitation.sent",
    "invitation.accepted",
    "team.updated",
    "domain.verified",
)
# Fixed instants keep the dataset the same from one build to the next.
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Spec:
    users: int
    teams: int
    events: int
    min_members: int = 10
    max_members: int = 1000
    viewer_teams: int = 25

    def __post_init__(self) -> None:
        if self.max_members > self.users or self.min_members < 1 or self.teams < 2:
            raise ValueError("need teams >= 2 and 1 <= min_members <= max_members <= users")


FULL = Spec(users=100_000, teams=1_000, events=1_000_000)
QUICK = Spec(users=2_000, teams=30, events=20_000)
TINY = Spec(users=300, teams=24, events=2_000, max_members=250, viewer_teams=22)


@dataclass(frozen=True, slots=True)
class Dataset:
    """What the runner needs to know about a built dataset."""

    database_url: str
    spec: Spec
    viewer_id: int
    session_token: str
    bearer_token: str
    team_id: int
    team_slug: str
    team_members: int
    audit_actions: tuple[str, ...]
    audit_matches: int
    deep_after: int  # the id of an audit event ~80 % down the filtered trail (Q4's deep cursor)
    built_seconds: float | None  # None when an existing dataset was reused


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


def _admin_dsn(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(drivername="postgresql", database="postgres").render_as_string(False)


def q2_team(spec: Spec) -> int:
    return spec.teams // 2


async def build(
    database_url: str = DEFAULT_DATABASE_URL,
    spec: Spec = QUICK,
    *,
    rebuild: bool = False,
    log: bool = True,
) -> Dataset:
    """Create (or reuse) the benchmark database at `database_url` holding `spec`'s data."""
    name = make_url(database_url).database
    if not name or not make_url(database_url).drivername.startswith("postgresql"):
        raise ValueError("the benchmark needs a PostgreSQL URL naming its own database")
    wanted = json.dumps({"spec": asdict(spec), "schema": _schema_fingerprint()})
    if not rebuild and await _stored_meta(database_url) == wanted:
        return await describe(database_url, spec, built_seconds=None)
    started = time.perf_counter()
    admin = await asyncpg.connect(_admin_dsn(database_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    engine = create_engine(Settings(_env_file=None, database_url=database_url))  # type: ignore[call-arg]
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with connection.transaction():
            for label, sql, args in _statements(spec):
                step = time.perf_counter()
                await connection.execute(sql, *args)
                if log:
                    print(f"  dataset: {label} ({time.perf_counter() - step:.1f} s)", flush=True)
            await connection.execute(
                "CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)"
            )
            await connection.execute("INSERT INTO bench_meta VALUES ('meta', $1)", wanted)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return await describe(database_url, spec, built_seconds=time.perf_counter() - started)


async def drop(database_url: str) -> None:
    name = make_url(database_url).database
    admin = await asyncpg.connect(_admin_dsn(database_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _stored_meta(database_url: str) -> str | None:
    try:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        if await connection.fetchval("SELECT to_regclass('bench_meta')") is None:
            return None
        value: str | None = await connection.fetchval(
            "SELECT value FROM bench_meta WHERE key = 'meta'"
        )
        return value
    finally:
        await connection.close()


async def describe(database_url: str, spec: Spec, *, built_seconds: float | None) -> Dataset:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        viewer_id = await connection.fetchval(
            "SELECT id FROM user_account WHERE username = $1", VIEWER_USERNAME
        )
        await _ensure_bearer_token(connection, viewer_id)
        team_id = q2_team(spec)
        slug, members = await connection.fetchrow(
            "SELECT slug, (SELECT count(*) FROM member WHERE team_id = $1) FROM team WHERE id = $1",
            team_id,
        )
        matches = await connection.fetchval(
            "SELECT count(*) FROM audit_event WHERE team_id = $1 AND action = ANY($2)",
            team_id,
            list(AUDIT_ACTIONS),
        )
        deep_after = await connection.fetchval(
            "SELECT id FROM audit_event WHERE team_id = $1 AND action = ANY($2)"
            " ORDER BY id DESC OFFSET $3 LIMIT 1",
            team_id,
            list(AUDIT_ACTIONS),
            max(matches * 4 // 5, 0),
        )
    finally:
        await connection.close()
    return Dataset(
        database_url=database_url,
        spec=spec,
        viewer_id=viewer_id,
        session_token=SESSION_TOKEN,
        bearer_token=BEARER_TOKEN,
        team_id=team_id,
        team_slug=slug,
        team_members=members,
        audit_actions=AUDIT_ACTIONS,
        audit_matches=matches,
        deep_after=deep_after,
        built_seconds=built_seconds,
    )


async def _ensure_bearer_token(connection: asyncpg.Connection, viewer_id: int) -> None:
    """Written at every run rather than with the dataset, so a reused dataset has it too."""
    await connection.execute(
        """
        INSERT INTO api_token (kind, token_hash, hint, name, user_id, scopes, created_at,
            expires_at)
        VALUES ('personal', $1, $2, 'bench', $3, $4, now(), now() + interval '365 days')
        ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, expires_at = EXCLUDED.expires_at
        """,
        token_hash(SECRET_KEY, BEARER_TOKEN),
        BEARER_TOKEN[:8],
        viewer_id,
        BEARER_SCOPES,
    )


def _statements(spec: Spec) -> list[tuple[str, str, tuple[object, ...]]]:
    users, teams, events = spec.users, spec.teams, spec.events
    viewer = users + 1
    tq = q2_team(spec)
    size = f"({spec.min_members} + ((t - 1) * {spec.max_members - spec.min_members}) / {teams - 1})"
    return [
        (
            f"{users:,} users",
            """
            INSERT INTO user_account (id, username, display_name, email, email_verified_at,
                email_public, avatar_url, company, job_title, country, locale, time_zone,
                birth_date, password_hash, status, managed_by_team_id, is_staff, created_at,
                updated_at, last_login_at)
            SELECT g, 'user' || g, 'User ' || g, 'user' || g || '@mail.bench.example',
                e - interval '300 days', g % 10 = 0,
                CASE WHEN g % 4 = 0 THEN 'https://avatars.bench.example/' || g END,
                CASE WHEN g % 3 = 0 THEN 'Company ' || (g % 500) END,
                CASE WHEN g % 5 = 0 THEN 'Engineer' END,
                'US', 'en-US', 'UTC', DATE '1990-01-01' + (g % 7000)::int, NULL, 'active', NULL,
                false, e - interval '1 day' * (400 - g % 300), e - interval '1 day',
                NULL
            FROM generate_series(1, $1::bigint) AS g, (SELECT $2::timestamptz AS e) AS epoch
            """,
            (users, EPOCH),
        ),
        (
            "the signed-in viewer",
            """
            INSERT INTO user_account (id, username, display_name, email, email_verified_at,
                email_public, country, status, is_staff, created_at, updated_at)
            VALUES ($1, $2, 'Bench Viewer', 'bench_viewer@viewer.bench.example', $3, false, 'US',
                'active', false, $3, $3)
            """,
            (viewer, VIEWER_USERNAME, EPOCH),
        ),
        (
            "user id sequence",
            "SELECT setval(pg_get_serial_sequence('user_account', 'id'), $1)",
            (viewer,),
        ),
        (
            f"{teams:,} teams",
            """
            INSERT INTO team (id, slug, name, created_at, updated_at)
            SELECT t, 'team-' || t, 'Team ' || t, $2::timestamptz - interval '1 hour' * t,
                $2::timestamptz
            FROM generate_series(1, $1::bigint) AS t
            """,
            (teams, EPOCH),
        ),
        (
            "team id sequence",
            "SELECT setval(pg_get_serial_sequence('team', 'id'), $1)",
            (teams,),
        ),
        (
            f"members ({spec.min_members} to {spec.max_members} per team)",
            f"""
            INSERT INTO member (team_id, user_id, role, created_at)
            SELECT t, ((t * 7919 + k) % $1) + 1,
                CASE WHEN k = 0 THEN 'owner' WHEN k < 3 THEN 'admin'
                     WHEN k % 50 = 3 THEN 'billing' ELSE 'member' END,
                $2::timestamptz - interval '1 minute' * ({size} - k)
            FROM generate_series(1, $3::bigint) AS t,
                LATERAL generate_series(0, {size} - 1) AS k
            ORDER BY t, k
            """,
            (users, EPOCH, teams),
        ),
        (
            f"the viewer in {spec.viewer_teams} teams, owner of team-{tq}",
            """
            INSERT INTO member (team_id, user_id, role, created_at)
            SELECT t, $1, CASE WHEN t = $3 THEN 'owner' WHEN t % 5 = 0 THEN 'admin'
                               ELSE 'member' END, $4::timestamptz
            FROM (SELECT generate_series(1, $2::bigint) AS t UNION SELECT $3::bigint) AS wanted
            ORDER BY t
            """,
            (viewer, min(spec.viewer_teams, teams), tq, EPOCH),
        ),
        (
            "emails inside a team's domain",
            """
            UPDATE user_account AS u
            SET email = 'user' || u.id || '@team' || home.team_id || '.example'
            FROM (
                SELECT DISTINCT ON (user_id) user_id, team_id FROM member
                WHERE user_id <= $1
                ORDER BY user_id, md5(user_id || ':' || team_id)
            ) AS home
            WHERE home.user_id = u.id AND u.id % 3 <> 1
            """,
            (users,),
        ),
        (
            "3 verified domains per team",
            """
            INSERT INTO domain (team_id, name, unicode_name, token, status, enrollment,
                added_by_id, created_at, verified_at, verified_until, next_check_at,
                check_failures, last_checked_at, last_check_ok, last_check_message)
            SELECT t, name, name, md5('domain:' || name), 'verified', 'off', NULL,
                $2::timestamptz - interval '30 days', $2::timestamptz - interval '29 days',
                TIMESTAMPTZ '2100-01-01 00:00:00+00', $2::timestamptz + interval '1 day', 0,
                $2::timestamptz, true, NULL
            FROM generate_series(1, $1::bigint) AS t,
                LATERAL (VALUES ('team' || t || '.example'), ('team' || t || '-b.example'),
                                ('team' || t || '-c.example')) AS names(name)
            ORDER BY t
            """,
            (teams, EPOCH),
        ),
        (
            f"{events:,} audit events",
            """
            INSERT INTO audit_event (action, actor_kind, actor_user_id, team_id, target_type,
                target_id, ip_address, user_agent, reason, details, created_at, chain_key,
                chain_seq, prev_hash, hash)
            SELECT action, 'user', actor, team_id, split_part(action, '.', 1), target, ip,
                'Mozilla/5.0 (X11; Linux x86_64) bench/1.0', NULL,
                CASE action
                    WHEN 'member.role_changed' THEN json_build_object(
                        'user_id', target, 'from', 'member', 'to', 'admin')
                    WHEN 'member.removed' THEN json_build_object(
                        'user_id', target, 'role', 'member')
                    WHEN 'invitation.sent' THEN json_build_object(
                        'email', 'invitee' || i || '@bench.example', 'role', 'member')
                    WHEN 'team.updated' THEN json_build_object('fields', json_build_array('name'))
                    ELSE json_build_object('user_id', target)
                END,
                $3::timestamptz - interval '5 seconds' * ($1 - i),
                'team:' || team_id,
                row_number() OVER chain,
                coalesce(lag(h) OVER chain, ''),
                h
            FROM (
                SELECT i,
                    CASE WHEN i % 10 = 0 THEN $4 ELSE 1 + (i * 37) % $2 END AS team_id,
                    ($5::text[])[1 + (i / 7) % 8] AS action,
                    1 + (i * 31) % $6 AS actor,
                    1 + (i * 13) % 100000 AS target,
                    '10.' || (i % 250) || '.' || (i / 250 % 250) || '.1' AS ip,
                    encode(sha256(convert_to('bench:' || i, 'UTF8')), 'hex') AS h
                FROM generate_series(1, $1::bigint) AS i
            ) AS generated
            WINDOW chain AS (PARTITION BY team_id ORDER BY i)
            ORDER BY i
            """,
            (events, teams, EPOCH, tq, list(ACTIONS), users),
        ),
        (
            "audit chain heads",
            """
            INSERT INTO audit_chain (key, seq, last_hash)
            SELECT chain_key, max(chain_seq), (array_agg(hash ORDER BY chain_seq DESC))[1]
            FROM audit_event GROUP BY chain_key
            """,
            (),
        ),
        (
            "the viewer's session",
            """
            INSERT INTO user_session (user_id, token_hash, ip_address, user_agent, created_at,
                last_seen_at, expires_at, revoked_at)
            VALUES ($1, $2, '127.0.0.1', 'bench', now(), now(), now() + interval '3650 days',
                NULL)
            """,
            (viewer, token_hash(SECRET_KEY, SESSION_TOKEN)),
        ),
    ]


def _schema_fingerprint() -> str:
    """The migrations' text: an amended revision changes the schema without a new head id."""
    digest = hashlib.sha256()
    for path in sorted((migrate.MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()
