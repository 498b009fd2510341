"""Lean resolvers (api/resolvers.py) answer exactly as Strawberry's own wrappers do.

A schema of resolvers of every shape the lean path takes (methods with `self`, `root` and
`parent` parameters, `info` under another name, async ones, arguments of the built-in scalars,
lists, enums, input types, defaults, IDs) and of shapes it must leave alone (permission
classes, field extensions), built twice: once as Strawberry builds it and once with lean
resolvers installed. The same operations run through both; data and errors must be equal.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission

from api import resolvers


@strawberry.enum
class Shade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


@strawberry.input
class Window:
    start: int = 0
    names: list[str] | None = None
    shade: Shade | None = None

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError("start must not be negative")


@strawberry.input
class Nested:
    window: Window
    label: str | None = strawberry.UNSET


@strawberry.input
class Tree:
    label: str
    children: list[Tree] | None = None  # a list of inputs: Strawberry's own conversion
    parent: Tree | None = None  # refers to itself
    tags: list[str | None] = strawberry.field(default_factory=list)
    shades: list[Shade] | None = None
    note: str | None  # no default: Strawberry passes None when it is left out


class Never(BasePermission):
    message = "not allowed"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


class Boom(Exception):
    pass


@strawberry.type
class Thing:
    name: str

    @strawberry.field
    def shout(self, times: int = 1, sep: str = "!") -> str:
        return sep.join([self.name] * times)

    @strawberry.field
    def from_root(self, root: Any) -> str:
        return f"{root.name}:{type(root).__name__}"

    @strawberry.field
    def from_parent(self, parent: strawberry.Parent[Any]) -> str:
        return parent.name

    @strawberry.field
    async def later(self, where: strawberry.Info, delay: float = 0.0) -> str:
        await asyncio.sleep(delay)
        return f"{self.name}@{where.path.key}"

    @strawberry.field
    def fails(self) -> str | None:
        raise Boom(f"{self.name} failed")

    @strawberry.field
    async def fails_later(self) -> str:
        raise Boom(f"{self.name} failed later")

    @strawberry.field(permission_classes=[Never])
    def guarded(self) -> str | None:
        return "secret"

    @strawberry.field(extensions=[Upper()])
    def extended(self) -> str:
        return self.name


@strawberry.type
class Query:
    @strawberry.field
    def things(self, names: list[str] = ["a", "b"]) -> list[Thing]:  # noqa: B006 - the point
        names.append("mutated")  # a resolver that changes its default must not leak it
        return [Thing(name=name) for name in names]

    @strawberry.field
    def echo(
        self,
        text: str,
        number: int | None = None,
        ratio: float = 0.5,
        flag: bool = False,
        key: strawberry.ID | None = None,
    ) -> str:
        return repr((text, number, ratio, flag, key))

    @strawberry.field
    def window(self, window: Window, nested: Nested | None = None) -> str:
        return repr((window, nested))

    @strawberry.field
    def shades(self, shade: Shade, more: list[Shade] | None = None) -> list[Shade]:
        return [shade, *(more or [])]

    @strawberry.field
    def no_self() -> str:  # type: ignore[misc]
        return "static"

    @strawberry.field
    def info_only(self, info: strawberry.Info) -> str:
        return f"{info.field_name} {info.return_type} {sorted(info.variable_values)}"

    @strawberry.field
    def tree(self, tree: Tree, trees: list[Tree] | None = None) -> str:
        return repr((tree, trees))

    @strawberry.field
    def node_id(self, id: strawberry.relay.GlobalID) -> str:  # noqa: A002 - as clients name it
        return repr(id)

    @strawberry.field
    def maybe(self, value: strawberry.Maybe[str | None] = None) -> str:
        return repr(value)

    @strawberry.field
    async def slow_window(self, window: Window) -> int:
        await asyncio.sleep(0)
        return window.start


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    stock = strawberry.Schema(query=Query)
    lean = strawberry.Schema(query=Query)
    installed = resolvers.install(lean)
    assert installed >= 12, installed
    return stock, lean


OPERATIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("{ things { name shout fromRoot fromParent later fails guarded extended } }", None),
    ('{ things(names: ["x"]) { shout(times: 3, sep: "-") later(delay: 0.001) } }', None),
    ("{ a: things { name } b: things { name } }", None),
    ("{ things { failsLater } }", None),
    ('{ echo(text: "hi") }', None),
    ('{ echo(text: "hi", number: 4, ratio: 2, flag: true, key: "k1") }', None),
    ('query ($n: Int) { echo(text: "v", number: $n) }', {"n": None}),
    ('query ($n: Int) { echo(text: "v", number: $n) }', {}),
    ("{ window(window: {}) }", None),
    ('{ window(window: {start: 2, names: ["p", "q"], shade: DARK}) }', None),
    ("{ window(window: {start: -1}) }", None),
    ('{ window(window: {start: 1}, nested: {window: {shade: LIGHT}, label: "l"}) }', None),
    ("{ window(window: {start: 1}, nested: {window: {start: -5}}) }", None),
    ("query ($w: Window!) { window(window: $w) slowWindow(window: $w) }", {"w": {"start": 3}}),
    ("query ($w: Window!) { slowWindow(window: $w) }", {"w": {"start": -3}}),
    ("{ shades(shade: LIGHT) }", None),
    ("{ shades(shade: DARK, more: [LIGHT, DARK]) }", None),
    ("{ noSelf infoOnly }", None),
    ('{ tree(tree: {label: "a"}) }', None),
    (
        '{ tree(tree: {label: "a", tags: ["x", null], shades: [DARK], parent: {label: "p", '
        'parent: {label: "g"}}, children: [{label: "c", tags: [null]}]}, trees: [{label: "t"}]) }',
        None,
    ),
    ("query ($t: Tree!) { tree(tree: $t) }", {"t": {"label": "v", "children": None}}),
    ('{ nodeId(id: "VGhpbmc6MQ==") }', None),
    ('{ nodeId(id: "not a global id") }', None),
    ('{ maybe a: maybe(value: null) b: maybe(value: "x") }', None),
]


async def _run(schema: strawberry.Schema, query: str, variables: Any) -> dict[str, Any]:
    result = await schema.execute(query, variable_values=variables)
    return {
        "data": result.data,
        "errors": [error.formatted for error in result.errors or []],
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(("query", "variables"), OPERATIONS)
async def test_lean_resolvers_answer_as_strawberry_does(
    query: str, variables: dict[str, Any] | None
) -> None:
    stock, lean = _schemas()
    # Twice each: a default changed by the first run must not show in the second.
    for _ in range(2):
        expected = await _run(stock, query, variables)
        actual = await _run(lean, query, variables)
        assert actual == expected
        assert repr(actual) == repr(expected)


def test_arguments_are_converted_from_plans() -> None:
    """Leaves pass as they are, lists of leaves are copied and input types are built from
    plans; only what the plans do not cover calls Strawberry's convert_argument."""
    _stock, lean = _schemas()
    field = lean._schema.query_type.fields["tree"].extensions[resolvers.DEFINITION]  # type: ignore[union-attr]
    plans = {
        name: convert
        for name, _python, convert in (
            resolvers._argument_plan(argument, lean) for argument in field.arguments
        )
    }
    assert plans["tree"] is not None and plans["tree"].__name__ == "built"
    assert plans["trees"] is not None and plans["trees"].__name__ == "stock"
    echo = lean._schema.query_type.fields["echo"].extensions[resolvers.DEFINITION]  # type: ignore[union-attr]
    assert all(resolvers._argument_plan(a, lean)[2] is None for a in echo.arguments)


def test_fields_with_permissions_or_extensions_keep_strawberrys_resolver() -> None:
    stock, lean = _schemas()
    fields = lean._schema.type_map["Thing"].fields  # type: ignore[union-attr]
    stock_fields = stock._schema.type_map["Thing"].fields  # type: ignore[union-attr]
    for name in ("guarded", "extended"):
        assert fields[name].resolve.__qualname__ == stock_fields[name].resolve.__qualname__
    for name in ("shout", "fromRoot", "later"):
        assert fields[name].resolve.__module__ == "api.resolvers"
    # Plain attributes keep Strawberry's basic resolver (the fast path knows it).
    assert fields["name"].resolve.__name__ == "_get_basic_result"


def test_the_app_schema_uses_lean_resolvers_only_with_the_fast_path() -> None:
    from api.schema import create_schema
    from core.settings import Settings

    settings = Settings(_env_file=None, secret_key="k" * 40)  # type: ignore[call-arg]
    fast = create_schema(settings)._schema.query_type
    stock = create_schema(settings.model_copy(update={"fast_execution": False}))._schema.query_type
    assert fast is not None and stock is not None
    assert fast.fields["viewer"].resolve.__module__ == "api.resolvers"
    assert stock.fields["viewer"].resolve.__module__ != "api.resolvers"
