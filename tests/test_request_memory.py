"""A request's objects go when it ends, not when the cycle collector next runs (issue 7).

graphql-core's executor refers to itself, and the request's DataLoaders referred to their
Loaders: two reference cycles that held the request context, its connection, its actor and
every row a page had loaded until the collector ran, which it then did every few requests at
a cost of a tenth of a large page. This test runs real requests with the collector saving
what it finds, and looks for the request's own objects among it. (A request whose resolvers
raised still leaves a cycle, through the exception's traceback: rare, and left to the
collector.)
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from api.context import RequestContext
from api.execution import FastExecutionContext
from api.loaders import Loaders
from models import Role
from services.teams import MemberView
from services.users import UserView
from tests.support.world import World

DASHBOARD = """
query ($slug: String!) {
  team(slug: $slug) {
    members(first: 50) { edges { node { role joinedAt user { id username email } } } }
    domains { name status }
  }
  viewer { id teams(first: 5) { edges { node { name } } } }
}"""

REQUEST_TYPES = (RequestContext, FastExecutionContext, Loaders, MemberView, UserView)


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable from here on, kept for inspection."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_a_dashboard_request_leaves_nothing_for_the_cycle_collector(
    world: World, saved_garbage: list[object]
) -> None:
    olga = await world.sign_up("olga")
    team = await world.make_team(olga, name="Acme")
    for _ in range(5):
        await world.add_member(team, await world.sign_up(verified=False), Role.MEMBER)
    await olga(DASHBOARD, slug=team.slug)
    gc.collect()
    saved_garbage.clear()

    for _ in range(3):
        data = await olga(DASHBOARD, slug=team.slug)
    gc.collect()

    assert len(data["team"]["members"]["edges"]) == 6
    left = [type(thing).__name__ for thing in saved_garbage if isinstance(thing, REQUEST_TYPES)]
    assert left == []
