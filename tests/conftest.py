"""Test fixtures: a real database (SQLite, or PostgreSQL when ORGWARD_TEST_DATABASE_URL is set),
migrations applied once, a clean database per test, a real SMTP server, a frozen clock."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from api.app import create_app
from core import migrate
from core.clock import FrozenClock
from core.db import create_engine
from core.settings import Settings
from tests.support.mailbox import Mailbox, SmtpSink
from tests.support.world import World

POSTGRES_URL = os.environ.get("ORGWARD_TEST_DATABASE_URL", "").strip()


def pytest_report_header() -> str:
    return f"orgward database: {'postgresql' if POSTGRES_URL else 'sqlite'}"


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    sink = SmtpSink()
    port = sink.start()
    yield sink.mailbox, port
    sink.stop()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A database of this test run's own, created here and dropped at the end."""
    if not POSTGRES_URL:
        with tempfile.TemporaryDirectory(prefix="orgward-test-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'orgward.db'}"
        return
    url = make_url(POSTGRES_URL)
    name = f"orgward_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def settings(database_url: str, smtp: tuple[Mailbox, int]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        public_base_url="http://127.0.0.1:8000",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_timeout_seconds=5,
        minimum_age={"default": 13, "DE": 16},
        # Cheap hashing keeps the suite fast; production defaults are tested in test_passwords.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def app(settings: Settings, engine: AsyncEngine, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return create_app(
        settings, engine=engine, clock=clock, run_worker=False, apply_migrations=False
    )


async def _clean(engine: AsyncEngine) -> None:
    tables = [table.name for table in reversed(models.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
async def world(
    app,
    engine: AsyncEngine,
    clock: FrozenClock,
    settings: Settings,  # type: ignore[no-untyped-def]
    smtp: tuple[Mailbox, int],
) -> AsyncIterator[World]:
    await _clean(engine)
    clock.set(FrozenClock().now())
    mailbox = smtp[0]
    mailbox.clear()
    world = World(app=app, engine=engine, clock=clock, settings=settings, mailbox=mailbox)
    yield world
    for client in world.clients:
        await client.aclose()
