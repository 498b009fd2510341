from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.world import World


@pytest.fixture(autouse=True)
async def _close_bearers(world: World) -> AsyncIterator[None]:
    # Token ids start over with each test's clean database: no lease may carry over.
    world.app.state.orgward.token_leases.clear()
    yield
    for client in getattr(world, "_bearers", []):
        await client.aclose()
