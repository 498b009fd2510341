"""The fast execution path (api/execution.py) answers exactly as the stock executor does.

Two ways: random selections over a small schema whose values are deliberately broken (nulls
in non-null fields and list items, values that do not coerce, exceptions and awaitables as
values, objects of the wrong type, async fields next to plain ones), run through both
executors, data and errors compared; and random selections over the real schema, sent to two
apps over the same database, one with the fast path and one without. Spies make sure the
fast paths actually run, so that the comparisons cannot pass because they never do.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, NewType

import pytest
import strawberry
from graphql import (
    DocumentNode,
    ExecutionHooks,
    ExecutionResult,
    Undefined,
    execute,
    parse,
    validate,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import execution
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


# A scalar whose coercion answers None for "none": the stock code makes that an error.
Odd = NewType("Odd", str)
ODD = strawberry.scalar(
    name="Odd", serialize=lambda value: None if value == "none" else value, parse_value=str
)


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):
    """Has an interface, so Strawberry gives it an is_type_of: a checked class."""

    name: str
    nick: str | None
    color: Color
    count: int
    shade: Color | None = None
    odd: Odd = Odd("fine")


@strawberry.type
class Owner:
    """No interface, so no is_type_of: anything with the attributes completes."""

    handle: str
    rank: int | None
    leaf: Leaf | None


@strawberry.type
class Item:
    id: strawberry.ID
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: list[Leaf]
    maybe_leaves: list[Leaf | None] | None
    owners: list[Owner]
    tags: list[str | None] | None
    colors: list[Color]

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
class Root:
    data: list[Any]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return self.data  # type: ignore[attr-defined, no-any-return]

    @strawberry.field
    def first(self) -> Item | None:
        data = self.data  # type: ignore[attr-defined]
        return data[0] if data else None


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> list[Leaf]:
        return [item.leaf for item in self.data]  # type: ignore[attr-defined]


SCHEMA = strawberry.Schema(
    query=Query, mutation=Mutation, config=StrawberryConfig(scalar_map={Odd: ODD})
)


@dataclass
class Stand:
    """Not a Leaf or an Owner at all: completing it as one must fail the stock way."""

    name: str = "stand-in"


class SubLeaf(Leaf):
    """A plain subclass: is_type_of accepts it, the plan's exact-class check does not."""


class Boom(Exception):
    """An exception as a field's value: the stock code raises it (str() would coerce)."""


class Later:
    """An awaitable value that can be awaited again (each executor awaits it once)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return self.value


class Bag:
    """An iterable that is neither a list nor a tuple: the stock code reads it."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def __iter__(self) -> Any:
        return iter(self.values)


GOOD: dict[str, Any] = {"name": "ok", "nick": None, "color": Color.RED, "count": 3, "shade": None}
FAULTS: dict[str, list[Any]] = {
    "name": [None, Undefined, Later("late")],  # null in a non-null field; awaitable
    "nick": [12, Undefined, Boom("nick failed"), Later("soon")],
    "color": ["purple", None, Later(Color.GREEN)],
    "count": ["three", 2**40, True, 3.0, None],  # no Int; out of range; coerced
    "shade": ["RED", Color.GREEN, Undefined],
    "odd": ["none", 5],
}

faults = st.dictionaries(st.sampled_from(sorted(FAULTS)), st.integers(0, 4), max_size=2).map(
    lambda chosen: {key: FAULTS[key][i % len(FAULTS[key])] for key, i in chosen.items()}
)
# Mostly well-formed leaves, so that whole lists are often plannable and completed fast.
leaf_values = st.one_of(st.just({}), st.just({}), st.just({}), faults)
leaves = st.builds(lambda values: Leaf(**{**GOOD, **values}), leaf_values)
odd_leaves = st.one_of(
    st.just(Stand()),
    st.builds(lambda values: SubLeaf(**{**GOOD, **values}), leaf_values),
    # Cast to another type: Strawberry's is_type_of says no.
    st.builds(lambda: strawberry.cast(Owner, Leaf(**GOOD))),
)
leaf_or_odd = st.one_of(leaves, leaves, leaves, leaves, odd_leaves)
owners = st.one_of(
    st.builds(
        Owner,
        handle=st.one_of(st.text(max_size=3), st.just(None)),
        rank=st.one_of(st.none(), st.integers(-3, 3), st.just("high")),
        leaf=st.one_of(st.none(), leaf_or_odd),
    ),
    st.just(Stand()),
)


def sequences(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists mostly; sometimes a tuple or another iterable."""
    many = st.lists(items, max_size=3)
    return st.one_of(many, many, many, many.map(tuple), many.map(Bag))


items = st.builds(
    lambda index, leaf, maybe, many, maybe_many, owned, tags, colors: Item(
        id=strawberry.ID(str(index)),
        leaf=leaf,
        maybe_leaf=maybe,
        leaves=many,
        maybe_leaves=maybe_many,
        owners=owned,
        tags=tags,
        colors=colors,
    ),
    st.integers(0, 99),
    leaf_or_odd,
    st.one_of(st.none(), leaf_or_odd),
    sequences(leaf_or_odd),
    st.one_of(st.none(), sequences(st.one_of(st.none(), leaf_or_odd))),
    sequences(owners),
    st.one_of(st.none(), sequences(st.one_of(st.none(), st.text(max_size=3), st.just(7)))),
    sequences(st.one_of(st.sampled_from(Color), st.just("red"), st.none())),
)

STOCK = StrawberryGraphQLCoreExecutionContext
# Parsed once per text and executed again and again, as api/operations.py does: plans are
# kept across requests by the identity of these nodes.
_documents: dict[str, DocumentNode | None] = {}


def _parsed(text: str) -> DocumentNode | None:
    """The document, or None if it does not validate (random selections may conflict)."""
    if text not in _documents:
        document = parse(text)
        _documents[text] = None if validate(SCHEMA._schema, document) else document
    return _documents[text]


async def _run(
    text: str,
    data: list[Any],
    executor_class: type[Any],
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document = _parsed(text)
    assert document is not None, text
    # Wait for what a bubbling error left to settle in the background (as `later` may be),
    # so that no coroutine is left unawaited when the loop closes.
    settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    result = execute(
        SCHEMA._schema,
        document,
        root_value=Root(data),
        variable_values=variables,
        executor_class=executor_class,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        hooks=ExecutionHooks(async_work_finished=lambda _info: settled.set_result(None)),
    )
    if isinstance(result, Awaitable):
        result = await result
    await settled
    assert isinstance(result, ExecutionResult)
    return {
        "data": result.data,
        "errors": [error.formatted for error in result.errors or []],
    }


def _compare(text: str, data: list[Any], variables: dict[str, Any] | None = None) -> Any:
    async def both() -> tuple[Any, Any]:
        return (
            await _run(text, data, STOCK, variables),
            await _run(text, data, FastExecutionContext, variables),
        )

    expected, actual = asyncio.run(both())
    assert actual == expected, (text, variables)
    # Same order of keys too: a response is JSON, where order shows.
    assert repr(actual) == repr(expected), (text, variables)
    return actual


_known = {"times": lambda: st.integers(0, 3).map(str)}
random_documents = documents(SCHEMA._schema, {"items": "", "first": ""}, _known, depth=3)

# What random selections never write: fragments (named and inline), fields selected twice
# and merged, @include/@skip from variables at different depths, a mutation.
WRITTEN = [
    """query ($on: Boolean!) { items { __typename ...ItemBits again: leaves { ...LeafBits }
       leaves { name @include(if: $on) count } owners { handle ... on Owner { rank
       leaf { ...LeafBits } } } } }
       fragment ItemBits on Item { id tags colors leaf { ...LeafBits nick } leaf { shade }
       maybeLeaf { name } }
       fragment LeafBits on Leaf { name color count __typename }""",
    """query ($on: Boolean!) { items { id ...More @include(if: $on) leaf { name } }
       first { id leaves { color } } }
       fragment More on Item { owners { handle rank } leaves { count nick } a: id }""",
    """query ($on: Boolean!) { items { leaves @skip(if: $on) { name } maybeLeaves { name }
       ... @include(if: $on) { tags } } }""",
    """{ items { ... { id } ... on Item { leaf { name } } owners { ... on Owner { handle } }
       colors } }""",
    """{ items { owners { leaf { name nick shade } rank } maybeLeaves { name shade }
       c: colors tags } }""",
    """{ items { computed later id leaves { name } } first { maybeLeaves { count } } }""",
    """{ items { id } items { leaf { name } } items { leaf { color } owners { handle } } }""",
    """mutation { touch { name color count } }""",
]


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(items, max_size=4),
    document=st.one_of(random_documents, st.sampled_from(WRITTEN)),
    on=st.booleans(),
)
def test_fast_path_matches_stock_on_broken_values(
    data: list[Item], document: str, on: bool
) -> None:
    assume(_parsed(document) is not None)
    _compare(document, data, {"on": on} if "$on" in document else None)


def _compare_fresh(
    text: str, make_data: Callable[[], list[Any]], variables: dict[str, Any] | None = None
) -> Any:
    """As _compare, with data made anew for each executor (for one-shot values)."""

    async def both() -> tuple[Any, Any]:
        return (
            await _run(text, make_data(), STOCK, variables),
            await _run(text, make_data(), FastExecutionContext, variables),
        )

    expected, actual = asyncio.run(both())
    assert actual == expected, text
    assert repr(actual) == repr(expected), text
    return actual


def _good_item(index: int) -> Item:
    return Item(
        id=strawberry.ID(str(index)),
        leaf=Leaf(**GOOD),
        maybe_leaf=None,
        leaves=[Leaf(**GOOD), Leaf(**{**GOOD, "color": Color.GREEN, "nick": "n"})],
        maybe_leaves=[None, Leaf(**GOOD)],
        owners=[Owner(handle="h", rank=None, leaf=Leaf(**GOOD))],
        tags=["a", None],
        colors=[Color.GREEN],
    )


def _leaf_with(field: str, value: Any) -> Leaf:
    return Leaf(**{**GOOD, field: value})


def _leaf_cases() -> Iterator[tuple[str, Callable[[], Any]]]:
    for field, values in FAULTS.items():
        for index, value in enumerate(values):
            yield f"{field}#{index}", partial(_leaf_with, field, value)
    yield "stand-in", Stand
    yield "subclass", lambda: SubLeaf(**GOOD)
    yield "cast", lambda: strawberry.cast(Owner, Leaf(**GOOD))
    yield "null", lambda: None
    yield "exception", lambda: Boom("no leaf")
    yield "awaitable", lambda: Later(Leaf(**GOOD))
    yield "leaf with __await__", _leaf_with_await


def _leaf_with_await() -> Leaf:
    """Looks awaitable to graphql-core (which then fails to await it): so must the plan."""
    leaf = Leaf(**GOOD)
    leaf.__await__ = lambda: iter(())  # type: ignore[attr-defined]
    return leaf


def _leaves_then(odd: Any) -> Iterator[Any]:
    yield Leaf(**GOOD)
    yield odd
    yield Leaf(**GOOD)


# Where an odd leaf goes inside the second item, and the selections that reach it.
LEAF_PLACES: list[tuple[Callable[[Item, Any], None], str]] = [
    (lambda item, odd: setattr(item, "leaves", [Leaf(**GOOD), odd]), "items { leaves { %s } }"),
    (lambda item, odd: setattr(item, "maybe_leaves", [odd]), "items { maybeLeaves { %s } }"),
    (lambda item, odd: setattr(item, "leaf", odd), "items { id leaf { %s } }"),
    (lambda item, odd: setattr(item, "maybe_leaf", odd), "items { maybeLeaf { %s } }"),
    (
        lambda item, odd: setattr(item, "owners", [Owner(handle="h", rank=1, leaf=odd)]),
        "items { owners { handle leaf { %s } } }",
    ),
    (lambda item, odd: setattr(item, "leaves", (Leaf(**GOOD), odd)), "items { leaves { %s } }"),
    (lambda item, odd: setattr(item, "leaves", _leaves_then(odd)), "items { leaves { %s } }"),
    (
        lambda item, odd: setattr(item, "leaves", [Later(Leaf(**GOOD)), odd]),
        "items { leaves { %s } }",
    ),
]
LEAF_SELECTIONS = ["name", "nick", "color", "count", "shade", "odd", "__typename", "a: name"]
LEAF_SELECTIONS.append(" ".join(LEAF_SELECTIONS))

# Odd values for the second item's own lists and fields.
ITEM_CASES: list[tuple[str, Any, str]] = [
    *(("tags", [value], "items { tags }") for value in [7, Boom("t"), Later("t"), Undefined]),
    *(
        ("colors", [Color.GREEN, value], "items { colors }")
        for value in ["red", None, Later(Color.RED), Boom("c"), Undefined]
    ),
    ("colors", Bag([Color.RED]), "items { colors }"),
    ("owners", [Stand()], "items { owners { handle } }"),
    ("owners", [Owner(handle=None, rank=1, leaf=None)], "items { owners { handle rank } }"),  # type: ignore[arg-type]
    ("owners", [Owner(handle="h", rank=2**40, leaf=None)], "items { owners { rank } }"),
    ("owners", [Owner(handle="h", rank="high", leaf=None)], "items { owners { rank } }"),  # type: ignore[arg-type]
    ("owners", Later([]), "items { owners { rank } }"),
    ("id", Undefined, "items { id leaves { name } }"),
    ("id", 7, "items { id leaves { name } }"),
]


def test_every_odd_value_in_a_list_gets_the_stock_answer() -> None:
    """Each odd value, alone among good ones, wherever a plan would complete it."""
    for case, make_odd in _leaf_cases():
        for place, selection in LEAF_PLACES:
            for fields in LEAF_SELECTIONS:

                def make(place: Any = place, make_odd: Any = make_odd) -> list[Item]:
                    data = [_good_item(1), _good_item(2), _good_item(3)]
                    place(data[1], make_odd())
                    return data

                text = "{ " + selection % fields + " }"
                _compare_fresh(text, make)
                _compare_fresh(f"mutation {{ touch {{ {fields} }} }}", make)
                assert case  # names the case in a failure's traceback
    for attribute, value, selection in ITEM_CASES:

        def make_items(attribute: str = attribute, value: Any = value) -> list[Item]:
            data = [_good_item(1), _good_item(2)]
            setattr(data[1], attribute, value)
            return data

        _compare_fresh("{ " + selection + " }", make_items)


PLAIN_LIST = """{ items { id __typename leaf { name color count } b: leaves { name count }
    maybeLeaves { name shade } owners { handle rank leaf { nick } } tags colors } }"""


class Spy(FastExecutionContext):
    """Records the parent type of every stock execute_fields call."""

    calls: list[str] = []

    def execute_fields(self, parent_type: Any, *args: Any) -> Any:
        Spy.calls.append(parent_type.name)
        return super().execute_fields(parent_type, *args)


def test_fast_path_is_taken_for_plain_fields() -> None:
    """The comparison above would pass trivially if the fast path never ran."""
    data = [_good_item(1)]
    taken: list[str] = []

    class Counting(FastExecutionContext):
        def _fast_field(self, plan: Any, *args: Any) -> Any:
            value = super()._fast_field(plan, *args)
            taken.append(plan[1])
            return value

    result = asyncio.run(_run("{ first { id leaf { name color count } } }", data, Counting))
    assert result["errors"] == []
    assert sorted(taken) == ["color", "count", "id", "leaf", "name"]


def test_plain_list_is_completed_in_one_loop() -> None:
    """No stock execute_fields below the root: every list above came from its plan."""
    data = [_good_item(1), _good_item(2), _good_item(3)]
    expected = _compare(PLAIN_LIST, data)
    Spy.calls = []
    actual = asyncio.run(_run(PLAIN_LIST, data, Spy))
    assert actual == expected
    assert actual["errors"] == []
    assert Spy.calls == ["Query"]
    first = actual["data"]["items"][0]
    assert first["leaf"] == {"name": "ok", "color": "RED", "count": 3}
    assert first["b"][1] == {"name": "ok", "count": 3}
    assert first["maybeLeaves"] == [None, {"name": "ok", "shade": None}]
    assert first["colors"] == ["GREEN"]


def test_one_unusual_item_sends_the_whole_list_the_stock_way() -> None:
    data = [_good_item(1), _good_item(2), _good_item(3)]
    data[1].maybe_leaves = [Leaf(**GOOD), Leaf(**{**GOOD, "name": None})]
    Spy.calls = []
    actual = asyncio.run(_run(PLAIN_LIST, data, Spy))
    assert actual == _compare(PLAIN_LIST, data)
    # The items list fell back, and then each item's own lists were planned again.
    assert Spy.calls.count("Item") == 3
    assert Spy.calls.count("Leaf") == 2 + 3  # the broken maybeLeaves, and each item's leaf
    [error] = actual["errors"]
    assert error["path"] == ["items", 1, "maybeLeaves", 1, "name"]
    assert error["locations"] == [{"line": 2, "column": 19}]
    assert actual["data"]["items"][1]["maybeLeaves"] == [{"name": "ok", "shade": None}, None]


def test_plans_are_kept_across_requests_and_follow_the_variables() -> None:
    text = WRITTEN[1]
    data = [_good_item(1), _good_item(2)]
    with_more = _compare(text, data, {"on": True})
    without = _compare(text, data, {"on": False})
    assert "owners" in with_more["data"]["items"][0]
    assert "owners" not in without["data"]["items"][0]
    assert _compare(text, data, {"on": True}) == with_more


def test_plans_follow_the_variables_below_a_list() -> None:
    """A plan is keyed by the item's own fields; what lies below may not vary."""
    texts = [
        "query ($on: Boolean!) { items { leaf { name @include(if: $on) count } } }",
        "query ($on: Boolean!) { items { leaf { ... @include(if: $on) { name } count } } }",
        """query ($on: Boolean!) { items { owners { leaf { ...Name @include(if: $on) count } }
           id } }
           fragment Name on Leaf { name }""",
    ]
    data = [_good_item(1)]
    for text in texts:
        for on in [True, False, True, False]:
            result = _compare(text, data, {"on": on})
            item = result["data"]["items"][0]
            leaf = item["owners"][0]["leaf"] if "owners" in item else item["leaf"]
            assert ("name" in leaf) is on


def test_plan_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execution, "PLAN_CACHE_SIZE", 2)
    monkeypatch.setattr(execution, "_object_plans", {})
    monkeypatch.setattr(execution, "_field_plans", {})
    for text in ["{ items { id } }", "{ items { tags } }", "{ items { colors } }"]:
        _compare(text, [_good_item(1)])
        assert 0 < len(execution._object_plans) <= 2
        assert 0 < len(execution._field_plans) <= 2


def test_field_plans_are_made_once_per_document(monkeypatch: pytest.MonkeyPatch) -> None:
    planned: list[str] = []
    plan_field = execution._plan_field

    def counting(parent_type: Any, details: Any) -> Any:
        planned.append(details[0].node.name.value)
        return plan_field(parent_type, details)

    monkeypatch.setattr(execution, "_plan_field", counting)
    text = (
        "query ($on: Boolean!) { first { id leaf { name } } "
        "... @include(if: $on) { items { id } } }"
    )
    data = [_good_item(1)]
    first = _compare(text, data, {"on": True})
    assert planned
    planned.clear()
    assert _compare(text, data, {"on": True}) == first
    assert planned == []  # the same nodes: the plans made by the first request
    assert "items" not in _compare(text, data, {"on": False})["data"]
    assert planned == ["first"]  # another set of root nodes: planned anew


def test_lists_at_the_mutation_root_go_the_stock_way(monkeypatch: pytest.MonkeyPatch) -> None:
    planned: list[Any] = []
    complete_list = execution._complete_list

    def spy(shape: Any, values: Any, is_awaitable: Any) -> Any:
        planned.append(values)
        return complete_list(shape, values, is_awaitable)

    monkeypatch.setattr(execution, "_complete_list", spy)
    data = [_good_item(1)]
    _compare("mutation { touch { name color } }", data)
    assert planned == []
    _compare("{ items { leaf { name } } }", data)
    assert planned == [data]


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


@pytest.mark.asyncio
async def test_dashboard_members_are_completed_from_a_plan(
    populated: tuple[World, GraphQLClient, GraphQLClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dashboard's list of members takes the planned path in the real app."""
    _world, fast, _stock = populated
    completed: list[Any] = []
    complete_list = execution._complete_list

    def spy(shape: Any, values: Any, is_awaitable: Any) -> Any:
        result = complete_list(shape, values, is_awaitable)
        completed.append(result)
        return result

    monkeypatch.setattr(execution, "_complete_list", spy)
    body = (await fast.post(DASHBOARD[0])).json()
    assert "errors" not in body, body
    members = body["data"]["team"]["members"]["edges"]
    assert len(members) == 3
    assert members in completed
