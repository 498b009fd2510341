"""The fast execution path (api/execution.py) answers exactly as the stock executor does.

Two ways: random selections over a small schema whose values are deliberately broken (nulls
in non-null fields, values that do not coerce, objects of the wrong type, async fields next to
plain ones), run through both executors; and random selections over the real schema, sent to
two apps over the same database, one with the fast path and one without.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.execution import FastExecutionContext
from api.schema import create_schema
from models import Role
from tests.support.client import GraphQLClient
from tests.support.selections import documents, normalized
from tests.support.world import World

# --- a small schema with broken values -----------------------------------------------------


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Leaf:
    name: str
    nick: str | None
    color: Color
    count: int


@strawberry.type
class Item:
    id: strawberry.ID
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: list[Leaf]
    tags: list[str | None] | None

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return f"later-{self.id}"

    @strawberry.field
    def computed(self, times: int = 1) -> str:
        return "x" * times

    @strawberry.field
    def failing(self) -> str | None:
        raise ValueError("resolver failed")


@dataclass
class Stand:
    """Not the Leaf type at all: completing it as a Leaf must fail the stock way."""

    name: str = "stand-in"


GOOD = {"name": "ok", "nick": None, "color": Color.RED, "count": 3}
FAULTS: dict[str, Any] = {
    "name": None,  # null in a non-null field
    "count": "three",  # does not coerce to Int
    "color": "purple",  # not a Color
    "nick": 12,  # coerces to String "12"
}

leaves = st.builds(
    lambda faults: Leaf(**{**GOOD, **faults}),
    st.dictionaries(st.sampled_from(sorted(FAULTS)), st.none()).map(
        lambda keys: {key: FAULTS[key] for key in keys}
    ),
)
leaf_or_stand = st.one_of(leaves, leaves, st.just(Stand()))
items = st.builds(
    lambda index, leaf, maybe, many, tags: Item(
        id=strawberry.ID(str(index)), leaf=leaf, maybe_leaf=maybe, leaves=many, tags=tags
    ),
    st.integers(0, 99),
    leaf_or_stand,
    st.one_of(st.none(), leaf_or_stand),
    st.lists(leaf_or_stand, max_size=3),
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=3)),
)


def _schemas(data: list[Item]) -> tuple[strawberry.Schema, strawberry.Schema]:
    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return data

        @strawberry.field
        def first(self) -> Item | None:
            return data[0] if data else None

    stock = strawberry.Schema(query=Query)
    fast = strawberry.Schema(query=Query, execution_context_class=FastExecutionContext)
    return stock, fast


def _plain(result: Any) -> dict[str, Any]:
    return {
        "data": result.data,
        "errors": [error.formatted for error in result.errors or []],
    }


_probe_stock, _ = _schemas([])
_known = {"times": lambda: st.integers(0, 3).map(str)}
synthetic_documents = documents(_probe_stock._schema, {"items": "", "first": ""}, _known, depth=3)


@settings(max_examples=150, deadline=None)
@given(data=st.lists(items, max_size=4), document=synthetic_documents)
def test_fast_path_matches_stock_on_broken_values(data: list[Item], document: str) -> None:
    stock, fast = _schemas(data)

    async def both() -> tuple[Any, Any]:
        return await stock.execute(document), await fast.execute(document)

    expected, actual = asyncio.run(both())
    assert _plain(actual) == _plain(expected), document


def test_fast_path_is_taken_for_plain_fields() -> None:
    """The comparison above would pass trivially if the fast path never ran."""
    data = [Item(id=strawberry.ID("1"), leaf=Leaf(**GOOD), maybe_leaf=None, leaves=[], tags=None)]
    _, fast = _schemas(data)
    taken: list[str] = []

    class Counting(FastExecutionContext):
        def _fast_field(self, plan: Any, *args: Any) -> Any:
            value = super()._fast_field(plan, *args)
            taken.append(plan[1])
            return value

    counting = strawberry.Schema(query=fast.query, execution_context_class=Counting)  # type: ignore[arg-type]
    result = asyncio.run(counting.execute("{ items { id leaf { name color count } } }"))
    assert result.errors is None
    assert sorted(taken) == ["color", "count", "id", "leaf", "name"]


# --- the real schema, over HTTP ------------------------------------------------------------


@pytest.fixture
async def populated(world: World) -> tuple[World, GraphQLClient, GraphQLClient]:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob", email="bob@example.net")
    carol = await world.sign_up("carol")
    team = await world.make_team(alice, "Acme", slug="acme")
    await world.add_member(team, bob, Role.ADMIN)
    await world.add_member(team, carol)
    other = await world.make_team(bob, "Other", slug="other")
    await world.add_member(other, carol, Role.BILLING)
    stock_app = create_app(
        world.settings.model_copy(update={"fast_execution": False}),
        engine=world.engine,
        clock=world.clock,
        run_worker=False,
        apply_migrations=False,
    )
    stock = GraphQLClient(stock_app)
    world.clients.append(stock)
    stock.http.cookies = alice.client.http.cookies
    return world, alice.client, stock


REAL_ARGUMENTS = {
    "first": lambda: st.sampled_from(["1", "2", "50"]),
    "slug": lambda: st.sampled_from(['"acme"', '"other"', '"nope"']),
    "username": lambda: st.sampled_from(['"bob"', '"carol"', '"nobody"']),
}


# The benchmark's dashboard queries, whose deep paths random selections reach only rarely.
DASHBOARD = [
    """{ team(slug: "acme") { members(first: 50) { totalCount edges { cursor node { id role
       user { id username displayName email } } } pageInfo { hasNextPage endCursor } }
       domains { name status } } }""",
    """{ viewer { teams(first: 20) { edges { node { name slug viewerRole
       members(first: 10) { edges { node { role user { username email } } } } } } } } }""",
    """{ team(slug: "acme") { auditEvents(first: 20) { edges { node { id action createdAt } }
       pageInfo { hasNextPage } } contacts { role user { username } } } }""",
    """{ viewer { id username email sessions { id current } } other: team(slug: "other") {
       name members(first: 2) { edges { node { role user { username email } } } } } }""",
]


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
async def test_fast_path_matches_stock_on_the_real_schema(
    populated: tuple[World, GraphQLClient, GraphQLClient],
) -> None:
    world, fast, stock = populated
    schema = create_schema(world.settings)._schema
    queries = documents(
        schema,
        {"viewer": "", "team": '(slug: "acme")', "user": '(username: "bob")'},
        REAL_ARGUMENTS,
        depth=7,
    )
    samples: list[str] = []

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(document=queries)
    def collect(document: str) -> None:
        samples.append(document)

    collect()
    for document in [*DASHBOARD, *samples]:
        expected = normalized((await stock.post(document)).json())
        actual = normalized((await fast.post(document)).json())
        if document in DASHBOARD:
            assert "errors" not in expected, expected
        assert actual == expected, document
