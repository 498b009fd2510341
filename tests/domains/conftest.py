"""Domain tests run against real DNS servers on loopback. The app under test asks them through
settings alone: `world` here is the suite's world with its app and settings pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from core.clock import FrozenClock
from core.settings import Settings
from tests.support.dns import LoopbackDNS, SilentDNS, Zone
from tests.support.world import World


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LoopbackDNS]:
    server = LoopbackDNS().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def silent_dns() -> Iterator[SilentDNS]:
    server = SilentDNS()
    yield server
    server.close()


def _app(settings: Settings, engine: AsyncEngine, clock: FrozenClock) -> Starlette:
    return create_app(
        settings, engine=engine, clock=clock, run_worker=False, apply_migrations=False
    )


@pytest.fixture(scope="session")
def dns_settings(settings: Settings, dns_server: LoopbackDNS) -> Settings:
    return settings.model_copy(
        update={
            "dns_resolver_address": "127.0.0.1",
            "dns_resolver_port": dns_server.port,
            "dns_timeout_seconds": 2.0,
        }
    )


@pytest.fixture(scope="session")
def dns_app(dns_settings: Settings, engine: AsyncEngine, clock: FrozenClock) -> Starlette:
    return _app(dns_settings, engine, clock)


@pytest.fixture(scope="session")
def silent_app(
    settings: Settings, silent_dns: SilentDNS, engine: AsyncEngine, clock: FrozenClock
) -> tuple[Starlette, Settings]:
    silent = settings.model_copy(
        update={
            "dns_resolver_address": "127.0.0.1",
            "dns_resolver_port": silent_dns.port,
            "dns_timeout_seconds": 0.3,
        }
    )
    return _app(silent, engine, clock), silent


@pytest.fixture
async def world(world: World, dns_app: Starlette, dns_settings: Settings) -> AsyncIterator[World]:
    """The suite's world (clean database, mailbox, clock) whose app and worker ask the
    loopback DNS server."""
    world.app = dns_app
    world.settings = dns_settings
    yield world


@pytest.fixture
def dns(world: World, dns_server: LoopbackDNS) -> Iterator[Zone]:
    """The loopback server's zone, empty at the start of each test."""
    dns_server.zone.clear()
    yield dns_server.zone
    dns_server.zone.clear()


@pytest.fixture
def unanswered_world(world: World, silent_app: tuple[Starlette, Settings]) -> World:
    """The world, but its DNS server never answers."""
    world.app, world.settings = silent_app
    return world
