"""Queries answered without an executor (api/shortcut.py) answer as the stock executor does.

Three ways in: random selections over the fast path's test schema, whose values are broken in
every way the plans know (tests/test_fast_execution.py); a schema of root resolvers that
fail, return null for non-null fields, return awaitables or values of another class, side by
side; and the real app, where "who am I" must be answered without building an executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse, validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strawberry.execution.is_awaitable import optimized_is_awaitable

from api.execution import FastExecutionContext
from api.shortcut import Shortcut
from tests.support.world import World
from tests.test_fast_execution import (
    SCHEMA,
    STOCK,
    WRITTEN,
    Item,
    Root,
    _parsed,
    items,
    random_documents,
)


async def _settled() -> None:
    """Let what a bubbling error left in the background finish (as the stock run waits)."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others)


async def _stock(schema: strawberry.Schema, text: str, root: Any, context: Any) -> Any:
    result = execute(
        schema._schema,
        parse(text),
        root_value=root,
        context_value=context,
        executor_class=STOCK,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
    )
    if isinstance(result, Awaitable):
        result = await result
    await _settled()
    return _formatted(result)


async def _shortcut(schema: strawberry.Schema, text: str, root: Any, context: Any) -> Any:
    shortcut = Shortcut.plan(schema._schema, parse(text), None, FastExecutionContext)
    assert shortcut is not None, text
    result = await shortcut.run(context, root)
    await _settled()
    return _formatted(result)


def _formatted(result: Any) -> dict[str, Any]:
    assert isinstance(result, ExecutionResult)
    return {"data": result.data, "errors": [error.formatted for error in result.errors or []]}


def _compare(schema: strawberry.Schema, text: str, root: Any = None, context: Any = None) -> Any:
    async def both() -> tuple[Any, Any]:
        return (
            await _stock(schema, text, root, context),
            await _shortcut(schema, text, root, context),
        )

    expected, actual = asyncio.run(both())
    assert actual == expected, text
    assert repr(actual) == repr(expected), text  # key order shows in JSON
    return actual


# --- random selections over broken values --------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(items, max_size=4),
    document=st.one_of(random_documents, st.sampled_from(WRITTEN)),
)
def test_shortcut_matches_stock_on_broken_values(data: list[Item], document: str) -> None:
    assume(_parsed(document) is not None)
    # Only what the shortcut takes: no variables, directives, async or argument fields.
    assume(Shortcut.plan(SCHEMA._schema, parse(document), None, FastExecutionContext))
    _compare(SCHEMA, document, Root(data))


def test_random_selections_are_often_planned() -> None:
    """The property above is not vacuous: plain selections over the test schema plan."""
    for text in (
        "{ items { id leaf { name count } owners { handle } tags } first { id } }",
        "{ first { leaves { name color } maybeLeaves { nick } } }",
        WRITTEN[3],
        WRITTEN[4],
        WRITTEN[6],
    ):
        assert Shortcut.plan(SCHEMA._schema, parse(text), None, FastExecutionContext), text


# --- root resolvers of every odd kind ------------------------------------------------------


@strawberry.type
class Thing:
    name: str
    size: int | None


class Other:
    """Not a Thing: no `size`."""

    name = "other"


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    if isinstance(value, Exception):
        raise value
    return value


@strawberry.type
class Query:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="a", size=1)

    @strawberry.field
    def maybe_thing(self) -> Thing | None:
        return None

    @strawberry.field
    def broken(self) -> Thing | None:
        raise ValueError("broken")

    @strawberry.field
    def broken_required(self) -> Thing:
        raise ValueError("required and broken")

    @strawberry.field
    def null_required(self) -> Thing:
        return None  # type: ignore[return-value]

    @strawberry.field
    def other(self) -> Thing | None:
        return Other()  # type: ignore[return-value]

    @strawberry.field
    def awaitable(self) -> Thing | None:
        return _later(Thing(name="later", size=None))  # type: ignore[return-value]

    @strawberry.field
    def awaitable_fails(self) -> Thing:
        return _later(ValueError("failed later"))  # type: ignore[return-value]

    @strawberry.field
    async def async_thing(self) -> Thing:
        await asyncio.sleep(0)
        return Thing(name="async", size=2)

    @strawberry.field
    def names(self) -> list[str]:
        return ["a", "b"]

    @strawberry.field
    def bad_names(self) -> list[str] | None:
        return ["a", None]  # type: ignore[list-item]

    @strawberry.field
    def whose(self, info: strawberry.Info) -> str:
        return str(info.context["name"])

    @strawberry.field
    def tracks(self, info: strawberry.Info) -> str:
        info._raw_info.async_helpers.track([_later("tracked")])
        return "tracking"

    @strawberry.field
    def count(self, times: int = 1) -> int:
        return times


ODD = strawberry.Schema(query=Query)

ODD_DOCUMENTS = [
    "{ thing { name size } maybeThing { name } }",
    "{ broken { name } thing { size } }",
    "{ thing { name } brokenRequired { name } maybeThing { size } }",
    "{ awaitable { name } brokenRequired { name } }",
    "{ nullRequired { name } thing { name } }",
    "{ other { name size } thing { name } }",
    "{ other { name } }",
    "{ awaitable { name size } asyncThing { name } a: awaitable { size } }",
    "{ awaitableFails { name } awaitable { name } }",
    "{ asyncThing { size } broken { name } }",
    "{ names badNames whose tracks }",
    "{ x: thing { n: name } ...More } fragment More on Query { thing { size } other { name } }",
]


@pytest.mark.parametrize("text", ODD_DOCUMENTS)
def test_odd_root_resolvers_answer_as_stock(text: str) -> None:
    assert not validate(ODD._schema, parse(text)), text
    _compare(ODD, text, context={"name": "ada"})


@pytest.mark.parametrize(
    "text",
    [
        "query ($n: Int) { count(times: $n) }",  # variables
        "{ count }",  # an argument with a default
        "{ count(times: 2) }",
        "{ thing @include(if: true) { name } }",  # directives
        "{ thing { ... @skip(if: false) { name } } }",
        "{ __typename thing { name } }",
        "{ thing { __typename name } __schema { queryType { name } } }",
    ],
)
def test_what_the_shortcut_leaves_to_the_executor(text: str) -> None:
    assert not validate(ODD._schema, parse(text)), text
    assert Shortcut.plan(ODD._schema, parse(text), None, FastExecutionContext) is None


def test_mutations_and_the_stock_executor_have_no_shortcut() -> None:
    document = parse("mutation { touch { name } }")
    assert Shortcut.plan(SCHEMA._schema, document, None, FastExecutionContext) is None
    query = parse("{ first { id } }")
    assert Shortcut.plan(SCHEMA._schema, query, None, STOCK) is None
    assert Shortcut.plan(SCHEMA._schema, query, "Unknown", FastExecutionContext) is None


# --- the app -------------------------------------------------------------------------------


async def test_who_am_i_is_answered_without_an_executor(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await world.sign_up("ada")
    built: list[object] = []
    init = FastExecutionContext.__init__

    def counted(self: FastExecutionContext, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(FastExecutionContext, "__init__", counted)
    who = "{ viewer { id username displayName email } }"
    await ada(who)  # planned on first use
    built.clear()

    data = await ada(who)
    anonymous = await world.client().raw(who)

    assert data["viewer"]["username"] == "ada"
    assert data["viewer"]["email"] == ada.email
    assert anonymous == {"data": {"viewer": None}}
    assert built == []
    # One with an argument still goes through the executor.
    await ada("{ viewer { id teams(first: 1) { edges { node { name } } } } }")
    assert built
