"""A faster way through the fields that need no resolver (SPEC 10, issue 7).

graphql-core resolves every field the same way: it builds a resolve-info object and a path,
calls the resolver, then completes the value. For the plain attributes that make up most of
a dashboard page (a member's role, a user's name, an edge's node) that machinery costs far
more than the attribute itself. `FastExecutionContext` reads such fields straight off the
source object and falls back to the stock code, for that one field, whenever anything is
unusual, so results and errors stay exactly those of the stock executor:

- only fields Strawberry marks as basic (no resolver, no permission classes or field
  extensions, no exception handlers), with no arguments and no directives, and only when no
  schema extension wraps resolvers (no middleware);
- leaves (scalars and enums) are coerced exactly as graphql-core does; a null in a non-null
  position, a failed coercion or an awaitable goes the stock way and gets the stock error;
- objects (non-abstract) are completed through the stock sub-selection code, so their
  own fields are handled by this same rule.

Nothing here decides access: resolvers and services already did, before the values reached
these attributes. Tests compare this context against the stock one over the whole schema
(tests/test_fast_execution.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF

# How a planned field is read: the attribute name, whether null is allowed, the leaf type to
# coerce to or the object type to complete, and the field's declared type.
LEAF = 0
OBJECT = 1
Plan = tuple[int, str, bool, Any, Any]


def _plan_field(parent_type: GraphQLObjectType, details: list[FieldDetails]) -> Plan | None:
    node = details[0].node
    if node.arguments or any(d.node.directives for d in details):
        return None
    field_def = parent_type.fields.get(node.name.value)
    if field_def is None or field_def.args:
        return None
    resolve = field_def.resolve
    # Strawberry's resolver for a basic field: it only reads `python_name` off the source.
    if resolve is None or getattr(resolve, "__name__", "") != "_get_basic_result":
        return None
    definition = (field_def.extensions or {}).get(DEFINITION)
    if definition is None or not definition.is_basic_field:
        return None
    return_type = field_def.type
    nullable = not isinstance(return_type, GraphQLNonNull)
    named = return_type if nullable else return_type.of_type
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return (LEAF, definition.python_name, nullable, named, return_type)
    if isinstance(named, GraphQLObjectType):
        return (OBJECT, definition.python_name, nullable, named, return_type)
    return None  # lists and abstract types take the stock path


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware: Any = self.middleware_manager
        self._fast = not (middleware and middleware.middlewares)
        # Per execution: a list's items share one grouped field set, so each is planned once.
        self._plans: dict[int, tuple[Any, list[Plan | None]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if not self._fast or parent_type is self.schema.mutation_type:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plans = self._plans_for(parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for (response_name, details), plan in zip(
                grouped_field_set.items(), plans, strict=True
            ):
                result: Any = Undefined
                if plan is not None:
                    result = self._fast_field(
                        plan, parent_type, source_value, details, path, response_name
                    )
                if result is Undefined:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        details,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gather(results, awaitable_fields)

    def _plans_for(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[Plan | None]:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        plans = [_plan_field(parent_type, details) for details in grouped_field_set.values()]
        # Keep the field set alive with its plan, so its id cannot be reused meanwhile.
        self._plans[id(grouped_field_set)] = (grouped_field_set, plans)
        return plans

    def _fast_field(
        self,
        plan: Plan,
        parent_type: GraphQLObjectType,
        source: Any,
        details: list[FieldDetails],
        path: Path | None,
        response_name: str,
    ) -> Any:
        """The field's completed value, or Undefined to let the stock code handle it."""
        kind, name, nullable, named, return_type = plan
        try:
            value = getattr(source, name)
        except Exception:
            return Undefined
        if value is None:
            return None if nullable else Undefined
        if isinstance(value, Exception) or self.is_awaitable(value):
            return Undefined
        if kind == LEAF:
            try:
                coerced = named.coerce_output_value(value)
            except Exception:
                return Undefined
            return Undefined if coerced is Undefined or coerced is None else coerced
        is_type_of = named.is_type_of
        if is_type_of is not None:
            try:
                matches = is_type_of(value, None)
            except Exception:
                return Undefined
            if matches is not True:
                return Undefined
        field_path = Path(path, response_name, parent_type.name)
        try:
            completed = self.collect_and_execute_subfields(named, details, field_path, value, None)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, field_path)
            return None
        if self.is_awaitable(completed):
            return self._await_object(completed, return_type, details, field_path)
        return completed

    async def _await_object(
        self,
        completed: Awaitable[Any],
        return_type: Any,
        details: list[FieldDetails],
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    async def _gather(self, results: dict[str, Any], names: list[str]) -> dict[str, Any]:
        # As the stock executor gathers a selection's awaitable fields.
        if len(names) == 1:
            results[names[0]] = await results[names[0]]
            return results
        values = await gather_with_cancel(*(results[name] for name in names))
        results.update(zip(names, values, strict=True))
        return results
