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
argument conversion (arguments of the built-in scalar types need none: Strawberry hands
them over as they are; everything else goes through Strawberry's own `convert_argument`),
`self`, the parent/root and `info` parameters filled in the same way, and the resolver's own
result, a coroutine included, which graphql-core awaits. Errors are the resolver's own and
reach graphql-core as before.

Tests run the real schema with and without it (tests/test_fast_execution.py) and a schema of
odd resolvers through both (tests/test_lean_resolvers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import StrawberryArgument, convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
# Types whose argument values Strawberry passes on unchanged (convert_argument's leaf case).
_AS_IS = frozenset({str, int, float, bool, strawberry.ID})

# (GraphQL name, Python name, converter or None when the value passes as it is)
ArgumentPlan = tuple[str, str, Callable[[Any, Any], Any] | None]


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
    config = schema.config
    converter = schema.schema_converter
    graphql_name = config.name_converter.from_argument(argument)
    type_ = argument.type
    inner = type_.of_type if isinstance(type_, StrawberryOptional) else type_
    if not isinstance(type_, StrawberryMaybe) and inner in _AS_IS:
        return (graphql_name, argument.python_name, None)
    scalar_registry = converter.scalar_registry
    path = (graphql_name,)

    def convert(value: Any, info: Any) -> Any:
        return convert_argument(value, type_, scalar_registry, config, info, path=path)

    return (graphql_name, argument.python_name, convert)


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
