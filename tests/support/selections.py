"""Random GraphQL selections over a schema, for comparing two executors (Hypothesis)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)
from hypothesis import strategies as st

# Values for the arguments a selection may pass; an argument not named here is left out, and
# a field with a required argument not named here is never selected.
Arguments = Mapping[str, Callable[[], st.SearchStrategy[str]]]


def _argument_text(field: GraphQLField, known: Arguments) -> st.SearchStrategy[str] | None:
    parts: list[st.SearchStrategy[str]] = []
    for name, argument in field.args.items():
        required = is_non_null_type(argument.type) and argument.default_value is Undefined
        if name in known:
            chosen = known[name]().map(lambda value, name=name: f"{name}: {value}")
            parts.append(chosen if required else st.one_of(st.just(""), chosen))
        elif required:
            return None
    if not parts:
        return st.just("")
    return st.tuples(*parts).map(
        lambda values: "(" + ", ".join(v for v in values if v) + ")" if any(values) else ""
    )


def selection(
    schema: GraphQLSchema,
    type_: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
    known: Arguments,
    depth: int,
) -> st.SearchStrategy[str]:
    """A selection set on `type_`: some of its fields, sometimes aliased or repeated."""
    if isinstance(type_, GraphQLUnionType):
        branches = [
            selection(schema, member, known, depth).map(
                lambda body, name=member.name: f"... on {name} {body}"
            )
            for member in type_.types
        ]
        return st.lists(st.one_of(*branches), min_size=1, max_size=2).map(
            lambda items: "{ __typename " + " ".join(items) + " }"
        )
    choices: list[st.SearchStrategy[str]] = [st.just("__typename")]
    for name, field in type_.fields.items():
        arguments = _argument_text(field, known)
        if arguments is None:
            continue
        named = get_named_type(field.type)
        if is_leaf_type(named):
            choices.append(arguments.map(lambda args, name=name: name + args))
        elif depth > 0:
            assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
            sub = selection(schema, named, known, depth - 1)
            choices.append(
                st.tuples(arguments, sub).map(lambda pair, name=name: f"{name}{pair[0]} {pair[1]}")
            )
    aliased = st.tuples(st.sampled_from(["a", "b"]), st.one_of(*choices)).map(
        lambda pair: (
            f"{pair[0]}{zlib.crc32(pair[1].encode())}: {pair[1]}"
            if not pair[1].startswith("__")
            else pair[1]
        )
    )
    # Narrower deeper down, so deep paths stay likely and documents stay small.
    width = 4 if depth >= 3 else 2
    return st.lists(st.one_of(st.one_of(*choices), aliased), min_size=1, max_size=width).map(
        lambda fields: "{ " + " ".join(fields) + " }"
    )


def documents(
    schema: GraphQLSchema, roots: Mapping[str, str], known: Arguments, depth: int = 4
) -> st.SearchStrategy[str]:
    """A query document selecting from some of `roots` (root field → its argument text)."""
    query = schema.query_type
    assert query is not None
    parts = []
    for name, arguments in roots.items():
        named = get_named_type(query.fields[name].type)
        assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
        parts.append(
            selection(schema, named, known, depth).map(
                lambda body, name=name, arguments=arguments: f"{name}{arguments} {body}"
            )
        )
    return st.lists(st.one_of(*parts), min_size=1, max_size=3, unique=True).map(
        lambda items: "query { " + " ".join(items) + " }"
    )


def normalized(body: dict[str, Any]) -> dict[str, Any]:
    """A response with request ids (which differ per request) blanked out of error messages."""
    errors = body.get("errors")
    if not errors:
        return body
    cleaned = []
    for error in errors:
        error = dict(error)
        extensions = dict(error.get("extensions") or {})
        extensions.pop("requestId", None)
        error["extensions"] = extensions
        error["message"] = " ".join(
            word for word in str(error.get("message", "")).split() if len(word) != 32
        )
        cleaned.append(error)
    return {**body, "errors": cleaned}
