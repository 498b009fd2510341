"""The takeover benchmark (SPEC 5: "claiming 100,000 accounts is a handful of statements").

python -m bench.takeover [--json PATH] [--database-url URL] [--users N] [--in-domain N]
                         [--repeat N]

In a PostgreSQL database of its own (dropped and rebuilt on every run) it writes, set-based,
--users accounts of which --in-domain have a verified address in acme.example, and a team that
holds that domain verified. Then it times, alternately and --repeat times each (median):

- baseline: the bare `UPDATE user_account SET managed_by_team_id = ...` of exactly the rows a
  takeover claims, in a transaction rolled back;
- takeover: services.takeover.announce_takeover with a notice of 0 days, which names, claims,
  queues its notices (one notice batch, written out per user by the worker afterwards, outside
  this transaction) and audits in one transaction, as the API would (rolled back too, so every
  repetition starts from the same data).

Both sides run on the same server, the table vacuumed before each repetition. It prints the
ratio, the statements of the takeover that took the most time, and writes `takeover_ratio`
(with both medians) as JSON when given --json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from auth.actor import Actor, Origin
from bench.dataset import asyncpg_dsn, drop
from core import migrate
from core.clock import FrozenClock
from core.db import create_engine
from core.settings import Settings
from models import User
from services.context import ServiceContext
from services.takeover import announce_takeover

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/orgward_bench_takeover"
DOMAIN = "acme.example"
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)
# The moment the takeover is announced: the domain is verified until a month later.
NOW = EPOCH + timedelta(days=1)
TEAM_ID = 1
# The same rows the takeover claims (auth.policy.takeover_affects), for the baseline.
BARE_UPDATE = f"""
UPDATE user_account SET managed_by_team_id = $1
WHERE status = 'active' AND email_verified_at IS NOT NULL
  AND email LIKE '%@{DOMAIN}' AND managed_by_team_id IS NULL
"""


@dataclass
class Outcome:
    users: int
    in_domain: int
    baseline_seconds: list[float] = field(default_factory=list)
    takeover_seconds: list[float] = field(default_factory=list)
    statements: int = 0
    slowest: list[tuple[str, float]] = field(default_factory=list)

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_seconds)

    @property
    def takeover(self) -> float:
        return statistics.median(self.takeover_seconds)

    @property
    def ratio(self) -> float:
        return self.takeover / self.baseline

    def as_json(self) -> dict[str, Any]:
        return {
            "takeover_ratio": round(self.ratio, 3),
            "takeover_seconds": round(self.takeover, 4),
            "bare_update_seconds": round(self.baseline, 4),
            "users": self.users,
            "in_domain": self.in_domain,
            "repeat": len(self.takeover_seconds),
            "statements": self.statements,
            "slowest_statements": [
                {"statement": text, "seconds": round(seconds, 4)} for text, seconds in self.slowest
            ],
        }


async def build(database_url: str, users: int, in_domain: int) -> tuple[int, int]:
    """A fresh database: `users` accounts (the first `in_domain` at acme.example, all verified),
    team 1 owned by one more account, holding acme.example verified. Returns (admin id,
    domain id)."""
    name = make_url(database_url).database
    if not name or not make_url(database_url).drivername.startswith("postgresql"):
        raise ValueError("the benchmark needs a PostgreSQL URL naming its own database")
    await drop(database_url)
    admin = await asyncpg.connect(
        make_url(asyncpg_dsn(database_url)).set(database="postgres").render_as_string(False)
    )
    try:
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
            await connection.execute(
                """
                INSERT INTO user_account (username, display_name, email, email_verified_at,
                    email_public, status, is_staff, created_at, updated_at)
                SELECT 'user' || g, 'User ' || g,
                    CASE WHEN g <= $2 THEN 'user' || g || '@acme.example'
                         ELSE 'user' || g || '@mail' || (g % 100) || '.example' END,
                    $3, false, 'active', false, $3, $3
                FROM generate_series(1, $1::bigint) AS g
                """,
                users,
                in_domain,
                EPOCH,
            )
            admin_id = await connection.fetchval(
                """
                INSERT INTO user_account (username, display_name, email, email_verified_at,
                    email_public, status, is_staff, created_at, updated_at)
                VALUES ('bench_admin', 'Bench Admin', 'admin@hq.example', $1, false, 'active',
                    false, $1, $1)
                RETURNING id
                """,
                EPOCH,
            )
            await connection.execute(
                """
                INSERT INTO team (id, slug, name, takeover_notice_days, managed_retention_days,
                    created_at, updated_at)
                VALUES ($1, 'acme', 'Acme', 7, 15, $2, $2)
                """,
                TEAM_ID,
                EPOCH,
            )
            await connection.execute(
                "INSERT INTO member (team_id, user_id, role, created_at)"
                " VALUES ($1, $2, 'owner', $3)",
                TEAM_ID,
                admin_id,
                EPOCH,
            )
            domain_id = await connection.fetchval(
                """
                INSERT INTO domain (team_id, name, unicode_name, token, status, enrollment,
                    created_at, verified_at, verified_until, check_failures)
                VALUES ($1, $2, $2, 'bench-token', 'verified', 'off', $3, $3, $4, 0)
                RETURNING id
                """,
                TEAM_ID,
                DOMAIN,
                EPOCH,
                EPOCH + timedelta(days=30),
            )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return int(admin_id), int(domain_id)


async def time_bare_update(connection: asyncpg.Connection, in_domain: int) -> float:
    transaction = connection.transaction()
    await transaction.start()
    try:
        started = time.perf_counter()
        status = await connection.execute(BARE_UPDATE, TEAM_ID)
        elapsed = time.perf_counter() - started
    finally:
        await transaction.rollback()
    if status != f"UPDATE {in_domain}":
        raise AssertionError(f"the bare update touched {status}, expected {in_domain} rows")
    return elapsed


class StatementClock:
    """Wall time per statement of the engine (the takeover side), by its first line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.count = 0
        self._started: list[float] = []

    def before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        key = " ".join(statement.split())[:90]
        self.seconds[key] += time.perf_counter() - self._started.pop()


async def time_takeover(
    settings: Settings, engine: Any, admin_id: int, domain_id: int, in_domain: int
) -> tuple[float, StatementClock]:
    clock = StatementClock()
    event.listen(engine.sync_engine, "before_cursor_execute", clock.before)
    event.listen(engine.sync_engine, "after_cursor_execute", clock.after)
    try:
        async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as db:  # noqa: SIM117
            async with db.begin():
                admin = await db.get(User, admin_id)
                ctx = ServiceContext(
                    db=db,
                    actor=Actor(user=admin, origin=Origin(user_agent="bench")),
                    settings=settings,
                    clock=FrozenClock(NOW),
                )
                clock.seconds.clear()
                clock.count = 0
                started = time.perf_counter()
                view = await announce_takeover(ctx, domain_id=domain_id, notice_days=0)
                await db.flush()
                elapsed = time.perf_counter() - started
                if view.managed_count != in_domain:
                    raise AssertionError(f"managed {view.managed_count}, expected {in_domain}")
                await db.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", clock.before)
        event.remove(engine.sync_engine, "after_cursor_execute", clock.after)
    return elapsed, clock


async def measure(
    database_url: str, *, users: int, in_domain: int, repeat: int, log: bool = True
) -> Outcome:
    say = print if log else (lambda *_a, **_k: None)
    started = time.perf_counter()
    admin_id, domain_id = await build(database_url, users, in_domain)
    built = time.perf_counter() - started
    say(f"dataset: {users:,} users, {in_domain:,} in {DOMAIN} ({built:.1f} s)")
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    engine = create_engine(settings)
    outcome = Outcome(users=users, in_domain=in_domain)
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for round_ in range(repeat):
            await connection.execute("VACUUM ANALYZE user_account")
            outcome.baseline_seconds.append(await time_bare_update(connection, in_domain))
            await connection.execute("VACUUM ANALYZE")
            seconds, statements = await time_takeover(
                settings, engine, admin_id, domain_id, in_domain
            )
            outcome.takeover_seconds.append(seconds)
            outcome.statements = statements.count
            outcome.slowest = sorted(statements.seconds.items(), key=lambda kv: -kv[1])[:6]
            say(
                f"  round {round_ + 1}: bare update {outcome.baseline_seconds[-1] * 1000:.0f} ms,"
                f" takeover {seconds * 1000:.0f} ms ({statements.count} statements)"
            )
    finally:
        await connection.close()
        await engine.dispose()
    return outcome


def report(outcome: Outcome) -> str:
    lines = [
        f"takeover of {outcome.in_domain:,} of {outcome.users:,} accounts "
        f"(announce with a notice of 0 days: name, claim, queue notices, audit):",
        f"  bare UPDATE   {outcome.baseline * 1000:8.1f} ms"
        f" (medians of {len(outcome.baseline_seconds)} rounds)",
        f"  takeover      {outcome.takeover * 1000:8.1f} ms in {outcome.statements} statements",
        f"  ratio         {outcome.ratio:8.2f}x (target <= 1.5x)",
        "  where the takeover's time goes (last round):",
    ]
    lines.extend(f"    {seconds * 1000:7.1f} ms  {text}" for text, seconds in outcome.slowest)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.takeover",
        description="A takeover through the service against the bare UPDATE of the same rows "
        "(PostgreSQL only).",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help=f"the benchmark's own database, dropped and rebuilt (default {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--in-domain", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not 0 < args.in_domain <= args.users or args.repeat < 1:
        parser.error("need 0 < --in-domain <= --users and --repeat >= 1")
    try:
        outcome = asyncio.run(
            measure(
                args.database_url, users=args.users, in_domain=args.in_domain, repeat=args.repeat
            )
        )
    finally:
        if not args.keep:
            asyncio.run(drop(args.database_url))
    print()
    print(report(outcome))
    if args.json:
        args.json.write_text(json.dumps(outcome.as_json(), indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
