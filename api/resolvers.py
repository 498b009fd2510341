"""Resolvers called straight, without Strawberry's per-call wrapping (SPEC 10, issue 7).

For every field with a resolver, Strawberry installs a wrapper that, on each call, builds the
resolver's `Info`, converts the arguments, chains the field's extensions with `functools`
closures and, for an async resolver, awaits the result in a coroutine of its own. Most of
our fields have no extensions (access is decided in services, through auth/policy.py), so
that chain is empty and the extra coroutine only costs time: several microseconds a field,
on every field of every request.

`install` replaces the wrapper with a lean one for exactly those fields: a resolver of the
plain kind (no field extensions, so no permission classes; no exception handlers that could
turn its errors into results; Strawberry's own field and resolver classes). The lean one
does what the wrapper does with an empty chain, in the same order: the same `Info`, the same
argument conversion, `self`, the parent/root and `info` parameters filled in the same way,
and the resolver's own
result, a coroutine included, which graphql-core awaits. Errors are the resolver's own and
reach graphql-core as before.

Argument conversion follows Strawberry's `convert_argument` from a plan made once per
argument: Strawberry resolves an input type's field types on every call, which cost more
than the resolver for a small filter. Leaves (scalars but GlobalID, enums) pass as they
are, lists of leaves are copied, input types made of those are built field by field with
Strawberry's implicit None for fields without a default; anything else (Maybe, GlobalID,
lists of inputs, input types with `from_input`) calls `convert_argument` itself.

Tests run the real schema with and without it (tests/test_fast_execution.py) and a schema of
odd resolvers through both (tests/test_lean_resolvers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.relay import GlobalID
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import (
    StrawberryArgument,
    _is_leaf_type,
    _is_optional_leaf_type,
    convert_argument,
)
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
# A value and the resolver's Info in, the value for the resolver out.
Converter = Callable[[Any, Any], Any]
# (GraphQL name, Python name, converter or None when the value passes as it is)
ArgumentPlan = tuple[str, str, Converter | None]


def install(schema: strawberry.Schema) -> int:
    """Give every plain resolver field of `schema` a lean resolver; returns how many."""
    converter = schema.schema_converter
    count = 0
    for graphql_type in schema._schema.type_map.values():
        if (
            not isinstance(graphql_type, GraphQLObjectType)
            or graphql_type.name.startswith("__")
            or graphql_type is schema._schema.subscription_type
        ):
            continue
        for field_def in graphql_type.fields.values():
            field = (field_def.extensions or {}).get(DEFINITION)
            if not isinstance(field, StrawberryField) or not _is_plain(field, converter):
                continue
            field_def.resolve = _lean(field, schema)
            count += 1
    return count


def _is_plain(field: StrawberryField, converter: GraphQLCoreConverter) -> bool:
    resolver = field.base_resolver
    return (
        resolver is not None
        and not field.extensions
        and not field.is_subscription
        and type(field).get_result is StrawberryField.get_result
        and type(resolver).__call__ is StrawberryResolver.__call__
        and not converter._get_field_exception_handlers(field)
        and callable(resolver.wrapped_func)
    )


def _argument_plan(argument: StrawberryArgument, schema: strawberry.Schema) -> ArgumentPlan:
    graphql_name = schema.config.name_converter.from_argument(argument)
    convert = _converter(argument.type, schema, (graphql_name,), set())
    return (graphql_name, argument.python_name, convert)


def _converter(
    type_: Any, schema: strawberry.Schema, path: tuple[str | int, ...], building: set[type]
) -> Converter | None:
    """What Strawberry's convert_argument does for a value of `type_`, worked out once:
    None where the value passes as it is. Leaves (scalars but GlobalID, enums), optional
    leaves, lists of leaves (copied, as Strawberry copies them) and input types made of
    those are planned here; anything else calls convert_argument itself."""
    registry = schema.schema_converter.scalar_registry
    config = schema.config

    def stock(value: Any, info: Any) -> Any:
        return convert_argument(value, type_, registry, config, info, path=path)

    if isinstance(type_, StrawberryMaybe | LazyType):
        return stock
    inner = type_.of_type if isinstance(type_, StrawberryOptional) else type_
    if _as_is(inner, registry):
        return None
    if isinstance(inner, StrawberryList):
        item = inner.of_type
        if not (
            _as_is(item, registry)
            or _is_optional_leaf_type(item, registry, skip_classes=(GlobalID,))
        ):
            return stock

        def copied(value: Any, info: Any) -> Any:
            return value if value is None or value is UNSET else list(value)

        return copied
    if not (has_object_definition(inner) and isinstance(inner, type)) or inner in building:
        return stock
    definition = inner.__strawberry_definition__
    if (
        not definition.is_input
        or definition.from_input is not None
        or definition.is_graphql_generic
    ):
        return stock
    building.add(inner)
    try:
        fields = []
        for field in definition.fields:
            name = config.name_converter.from_field(field)
            field_type = field.resolve_type(type_definition=definition)
            fields.append(
                (name, field.python_name, _converter(field_type, schema, (*path, name), building))
            )
    finally:
        building.discard(inner)
    # Strawberry's implicit None for every field without a default (see convert_argument).
    implicit = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is MISSING and field.default_factory is MISSING
    }
    make = inner

    def built(value: Any, info: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs = dict(implicit)
        for name, python_name, convert in fields:
            if name in value:
                item = value[name]
                kwargs[python_name] = item if convert is None else convert(item, info)
        return make(**kwargs)

    return built


def _as_is(type_: Any, registry: Any) -> bool:
    """convert_argument hands values of `type_` over unchanged: its own leaf test (GlobalID
    aside, which it decodes), and enum classes, which reach the leaf case by way of their
    definition."""
    return has_enum_definition(type_) or _is_leaf_type(type_, registry, skip_classes=(GlobalID,))


def _lean(field: StrawberryField, schema: strawberry.Schema) -> Callable[..., Any]:
    resolver = field.base_resolver
    assert resolver is not None
    function: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]
    info_class = schema.config.info_class
    arguments = tuple(_argument_plan(argument, schema) for argument in field.arguments)
    takes_self = resolver.self_parameter is not None
    source_names = tuple(
        parameter.name
        for parameter in (resolver.parent_parameter, resolver.root_parameter)
        if parameter is not None
    )
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None

    def resolve(source: Any, info: GraphQLResolveInfo, **values: Any) -> Any:
        strawberry_info = info_class(_raw_info=info, _field=field)
        kwargs: dict[str, Any] = {}
        for graphql_name, python_name, convert in arguments:
            if graphql_name in values:
                value = values[graphql_name]
                kwargs[python_name] = value if convert is None else convert(value, strawberry_info)
        for name in source_names:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = strawberry_info
        if takes_self:
            return function(source, **kwargs)
        return function(**kwargs)

    return resolve
