"""A faster way through the fields that need no resolver (SPEC 10, issue 7).

graphql-core resolves every field the same way: it builds a resolve-info object and a path,
calls the resolver, then completes the value. For the plain attributes that make up most of
a dashboard page (a member's role, a user's name, an edge's node) that machinery costs far
more than the attribute itself. `FastExecutionContext` reads such fields straight off the
source object and falls back to the stock code whenever anything is unusual, so results and
errors stay exactly those of the stock executor:

- only fields Strawberry marks as basic (no resolver, no permission classes or field
  extensions, no exception handlers, the default `getattr` resolver), with no arguments and
  no directives, and only when no schema extension wraps resolvers (no middleware);
- leaves (scalars and enums) are coerced exactly as graphql-core does; a null (or Undefined)
  in a non-null position, a failed coercion or an awaitable goes the stock way and gets the
  stock error;
- objects (non-abstract) are completed through the stock sub-selection code, so their
  own fields are handled by this same rule.

Lists go further. When every field selected on a list's items follows the rule above, and
so do the fields selected below them (plain objects, leaves, lists of those; `__typename`),
the list is completed from a plan in one loop: no paths, no resolve infos, no per-field
calls into the executor. Plans depend only on the document's nodes and the schema, so they
are built once and kept across requests (documents are cached per query text, see
api/operations.py). A plan is used only for a real list or tuple, and the first unusual
value in it (a null in a non-null position, an Exception or awaitable, a value that does not
coerce or is not of the planned class, a missing attribute) drops the planned result and
completes that whole list the stock way, errors and their paths included. Reading these
attributes has no side effects, so reading some twice changes nothing. Lists right under the
mutation root always go the stock way, and so do all lists when the executor was given an
awaitable check other than graphql-core's or Strawberry's.

Nothing here decides access: resolvers and services already did, before the values reached
these attributes. Tests compare this context against the stock one over the whole schema
(tests/test_fast_execution.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    SelectionSetNode,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails
from graphql.pyutils import Path, gather_with_cancel
from graphql.pyutils import is_awaitable as default_is_awaitable
from graphql.type.scalars import serialize_id, serialize_string
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF

# How a planned field is read: the attribute name, whether null is allowed, the leaf type to
# coerce to or the object type to complete, and the field's declared type.
LEAF = 0
OBJECT = 1
Plan = tuple[int, str, bool, Any, Any]

# Planned lists. A shape says how to complete one value: (kind, nullable, how), where `how`
# is what the kind needs: a leaf's coerce function; for an enum (enum class, its members'
# names by id, coerce function); an object's ObjectPlan; a list's item shape. An object plan
# is (the exact class its values must have, or None when its type has no is_type_of; its
# fields as (response name, attribute, kind, nullable, how)); `__typename` has the type's
# name as `how`.
LIST = 2
TYPENAME = 3
STRING = 4  # a String or ID leaf: a str is its own output (graphql-core's serialize_string/id)
ENUM = 5
Shape = tuple[int, bool, Any]
PlannedField = tuple[str, str, int, bool, Any]
ObjectPlan = tuple[type | None, tuple[PlannedField, ...]]

# Object plans by (item type, the grouped field set's nodes), across requests. The value
# keeps the type and nodes alive, so their ids are not reused while the entry exists.
_object_plans: dict[tuple[int, tuple[tuple[int, ...], ...]], tuple[Any, Any, Any]] = {}
# Field plans (execute_fields) by (parent type, the grouped field set's nodes), likewise.
_field_plans: dict[tuple[int, tuple[tuple[int, ...], ...]], tuple[Any, Any, Any]] = {}
PLAN_CACHE_SIZE = 1000

# Values of these exact types are never awaitable and never exceptions.
_PLAIN_TYPES = frozenset({str, int, float, bool})

# The awaitable checks the plans know: graphql-core's and Strawberry's faster copy. Both say
# a value is awaitable if it is a coroutine, a generator-based coroutine, or has `__await__`;
# for a value of a class the plan checked exactly (a Strawberry type or an enum, neither of
# which can be a coroutine or a generator), that is just `hasattr(value, "__await__")`.
_KNOWN_AWAITABLE_CHECKS = (default_is_awaitable, optimized_is_awaitable)


class _Unusual(Exception):
    """A value the plan does not cover: the whole list goes the stock way."""


def _basic_definition(field_def: GraphQLField | None) -> StrawberryField | None:
    """The Strawberry field behind `field_def` if reading it is a plain getattr."""
    if field_def is None or field_def.args:
        return None
    resolve = field_def.resolve
    # Strawberry's resolver for a basic field: it only reads `python_name` off the source.
    if resolve is None or getattr(resolve, "__name__", "") != "_get_basic_result":
        return None
    definition = (field_def.extensions or {}).get(DEFINITION)
    if (
        not isinstance(definition, StrawberryField)
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
    ):
        return None
    return definition


def _plan_field(parent_type: GraphQLObjectType, details: list[FieldDetails]) -> Plan | None:
    node = details[0].node
    if node.arguments or any(d.node.directives for d in details):
        return None
    field_def = parent_type.fields.get(node.name.value)
    definition = _basic_definition(field_def)
    if field_def is None or definition is None:
        return None
    return_type = field_def.type
    nullable = not isinstance(return_type, GraphQLNonNull)
    named = return_type if nullable else return_type.of_type
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return (LEAF, definition.python_name, nullable, named, return_type)
    if isinstance(named, GraphQLObjectType):
        return (OBJECT, definition.python_name, nullable, named, return_type)
    return None  # lists and abstract types take the stock path


def _exact_class(object_type: GraphQLObjectType) -> tuple[bool, type | None]:
    """(plannable, the class a value must have exactly) for completing `object_type`.

    Without is_type_of the stock code checks nothing. Strawberry's generated is_type_of (for
    types with interfaces) answers True for an instance of the type's own class that was not
    `strawberry.cast` to another type; checking just that is far cheaper than calling it.
    An is_type_of of the application's own is not second-guessed: no plan.
    """
    is_type_of = object_type.is_type_of
    if is_type_of is None:
        return True, None
    definition = (object_type.extensions or {}).get(DEFINITION)
    if (
        definition is None
        or definition.is_type_of is not None
        or getattr(is_type_of, "__module__", None) != "strawberry.schema.schema_converter"
        or getattr(is_type_of, "__name__", None) != "is_type_of"
    ):
        return False, None
    origin = definition.origin
    if not isinstance(origin, type) or issubclass(origin, BaseException):
        return False, None
    return True, origin


def _has_directives(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDetails],
    seen: set[str],
) -> bool:
    """Whether anything below depends on variables or deferral when fields are collected."""
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if selection.directives:
            return True
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen:
                continue
            seen.add(name)
            fragment = fragments.get(name)
            if (
                selection.arguments
                or fragment is None
                or fragment.variable_signatures
                or fragment.definition.directives
            ):
                return True
            below = fragment.definition.selection_set
        else:
            below = selection.selection_set  # type: ignore[attr-defined]
        if _has_directives(below, fragments, seen):
            return True
    return False


def _complete_fields(
    fields: tuple[PlannedField, ...], source: Any, is_awaitable: Callable[[Any], bool]
) -> dict[str, Any]:
    completed: dict[str, Any] = {}
    for response_name, attribute, kind, nullable, how in fields:
        if kind == TYPENAME:
            completed[response_name] = how
            continue
        value = getattr(source, attribute)
        if value is None:
            if not nullable:
                raise _Unusual
            completed[response_name] = None
        elif kind == STRING and type(value) is str:
            completed[response_name] = value
        else:
            completed[response_name] = _complete_value(kind, how, value, is_awaitable)
    return completed


def _complete_value(kind: int, how: Any, value: Any, is_awaitable: Callable[[Any], bool]) -> Any:
    """A value that is not None, completed as the stock code would, or _Unusual raised."""
    if kind == OBJECT:
        exact, fields = how
        if exact is not None:
            if (
                type(value) is not exact
                or getattr(value, TYPE_CAST_ATTRIBUTE, None) is not None
                or hasattr(value, "__await__")
            ):
                raise _Unusual
        elif value is Undefined or isinstance(value, Exception) or is_awaitable(value):
            raise _Unusual
        return _complete_fields(fields, value, is_awaitable)
    if kind == ENUM:
        enum_class, names, coerce = how
        if type(value) is enum_class and not hasattr(value, "__await__"):
            name = names.get(id(value))
            if name is not None:
                return name
    else:
        coerce = how
    if type(value) not in _PLAIN_TYPES and (
        value is Undefined or isinstance(value, Exception) or is_awaitable(value)
    ):
        raise _Unusual
    if kind == LIST:
        return _complete_list(how, value, is_awaitable)
    coerced = coerce(value)
    if coerced is None or coerced is Undefined:
        raise _Unusual
    return coerced


def _complete_list(shape: Shape, values: Any, is_awaitable: Callable[[Any], bool]) -> list[Any]:
    if type(values) is not list and type(values) is not tuple:
        raise _Unusual  # other iterables may be one-shot: only the stock way reads them
    kind, nullable, how = shape
    completed: list[Any] = []
    append = completed.append
    for value in values:
        if value is None:
            if not nullable:
                raise _Unusual
            append(None)
        elif kind == STRING and type(value) is str:
            append(value)
        else:
            append(_complete_value(kind, how, value, is_awaitable))
    return completed


def _enum_names(enum_type: GraphQLEnumType) -> tuple[type, dict[int, str], Any] | None:
    """For a Strawberry enum: each member's output name, from the type's own coercion."""
    enum_class = getattr(enum_type, "wrapped_cls", None)
    if (
        not isinstance(enum_class, type)
        or not issubclass(enum_class, Enum)
        or issubclass(enum_class, BaseException)
    ):
        return None
    coerce = enum_type.coerce_output_value
    names: dict[int, str] = {}
    for member in enum_class:
        try:
            name = coerce(member)
        except Exception:  # noqa: S112 - left to the coercion at completion time
            continue
        if isinstance(name, str):
            names[id(member)] = name
    return enum_class, names, coerce


async def gather_fields(results: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The named fields' awaitables awaited in place, as graphql-core's execute_fields gathers
    a selection's awaitable fields."""
    if len(names) == 1:
        results[names[0]] = await results[names[0]]
        return results
    values = await gather_with_cancel(*(results[name] for name in names))
    results.update(zip(names, values, strict=True))
    return results


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware: Any = self.middleware_manager
        self._fast = not (middleware and middleware.middlewares)
        # List plans assume one of the awaitable checks they know (see above).
        self._fast_lists = self._fast and self.is_awaitable in _KNOWN_AWAITABLE_CHECKS
        # Per execution: a list's items share one grouped field set, so each is planned once.
        self._plans: dict[int, tuple[Any, list[Plan | None]]] = {}
        # Per execution: the shape of each list field's items, by its field details list.
        self._shapes: dict[int, tuple[Any, Any, Shape | None]] = {}

    def run_async_work_finished_hook(self) -> None:
        """graphql-core runs this once all of an operation's work is done, just before it
        builds the response. The executor refers to itself through its resolve-info helpers
        (bound methods), a cycle that kept the request's context, connection and actor alive
        until the cycle collector ran; dropping the helpers then lets them go at once. Infos
        still holding the helpers keep working."""
        super().run_async_work_finished_hook()
        if not self.background_futures and self.async_work_finished_hook_task is None:
            self.async_helpers = None  # type: ignore[assignment]

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
        return gather_fields(results, awaitable_fields)

    def _plans_for(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[Plan | None]:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        # Across requests, by the type and the selected nodes: a plan depends on nothing else.
        nodes = [[detail.node for detail in details] for details in grouped_field_set.values()]
        key = (id(parent_type), tuple(tuple(map(id, group)) for group in nodes))
        kept = _field_plans.get(key)
        if kept is not None:
            plans = kept[2]
        else:
            plans = [_plan_field(parent_type, details) for details in grouped_field_set.values()]
            if len(_field_plans) >= PLAN_CACHE_SIZE:
                _field_plans.clear()
            # The type and nodes stay alive with the entry, so their ids are not reused.
            _field_plans[key] = (parent_type, nodes, plans)
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
        if value is None or value is Undefined:
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

    # --- whole lists -------------------------------------------------------------------

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: list[FieldDetails],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if (
            self._fast_lists
            and (type(result) is list or type(result) is tuple)
            and info.parent_type is not self.schema.mutation_type
        ):
            shape = self._list_shape(return_type, field_details_list)
            if shape is not None:
                try:
                    return _complete_list(shape, result, self.is_awaitable)
                except Exception:  # noqa: S110 - anything unusual: the stock way, below
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _list_shape(
        self, return_type: GraphQLList[Any], field_details_list: list[FieldDetails]
    ) -> Shape | None:
        cached = self._shapes.get(id(field_details_list))
        if cached is not None and cached[0] is field_details_list and cached[1] is return_type:
            return cached[2]
        shape: Shape | None = None
        # A directive on the list field may be @stream; the stock code decides about it.
        if not any(details.node.directives for details in field_details_list):
            try:
                shape = self._shape(return_type.of_type, field_details_list, top=True)
            except Exception:  # noqa: S110 - e.g. nested too deeply: no plan
                shape = None
        # Keep the details list alive with its shape, so its id cannot be reused meanwhile.
        self._shapes[id(field_details_list)] = (field_details_list, return_type, shape)
        return shape

    def _shape(self, type_: Any, details: list[FieldDetails], top: bool = False) -> Shape | None:
        nullable = not isinstance(type_, GraphQLNonNull)
        named = type_ if nullable else type_.of_type
        if isinstance(named, GraphQLScalarType):
            coerce = named.coerce_output_value
            kind = STRING if coerce is serialize_string or coerce is serialize_id else LEAF
            return (kind, nullable, coerce)
        if isinstance(named, GraphQLEnumType):
            names = _enum_names(named)
            if names is None:
                return (LEAF, nullable, named.coerce_output_value)
            return (ENUM, nullable, names)
        if isinstance(named, GraphQLObjectType):
            plan = (
                self._cached_object_plan(named, details)
                if top
                else self._object_plan(named, details)
            )
            return None if plan is None else (OBJECT, nullable, plan)
        if isinstance(named, GraphQLList) and not top:
            items = named.of_type
            if isinstance(items, GraphQLNonNull):
                items = items.of_type
            if isinstance(items, GraphQLList):
                return None  # lists of lists: the stock way
            item_shape = self._shape(named.of_type, details)
            return None if item_shape is None else (LIST, nullable, item_shape)
        return None  # abstract types, and lists of lists

    def _cached_object_plan(
        self, object_type: GraphQLObjectType, details: list[FieldDetails]
    ) -> ObjectPlan | None:
        """The plan for a list's items, built once per selection across requests.

        The item selection depends on variables only through @skip/@include on the way to
        these fields, so the key is the nodes that were selected; anything deeper must be
        free of directives (see _object_plan).
        """
        grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(
            object_type, details
        )
        if new_defer_usages:
            return None
        nodes: list[FieldNode] = []
        key_parts: list[tuple[int, ...]] = []
        for field_details in grouped_field_set.values():
            ids: list[int] = []
            for detail in field_details:
                if detail.defer_usage is not None or detail.fragment_variable_values is not None:
                    return None
                nodes.append(detail.node)
                ids.append(id(detail.node))
            key_parts.append(tuple(ids))
        key = (id(object_type), tuple(key_parts))
        cached = _object_plans.get(key)
        if cached is not None:
            return cached[2]
        plan = self._plan_object(object_type, grouped_field_set)
        if len(_object_plans) >= PLAN_CACHE_SIZE:
            _object_plans.clear()
        _object_plans[key] = (object_type, nodes, plan)
        return plan

    def _object_plan(
        self, object_type: GraphQLObjectType, details: list[FieldDetails]
    ) -> ObjectPlan | None:
        # Below a list's items nothing may depend on variables, so the plan that the list's
        # cache key names stays right whatever the variables of a later request.
        seen: set[str] = set()
        if any(_has_directives(d.node.selection_set, self.fragments, seen) for d in details):
            return None
        grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(
            object_type, details
        )
        if new_defer_usages:
            return None
        return self._plan_object(object_type, grouped_field_set)

    def _plan_object(
        self, object_type: GraphQLObjectType, grouped_field_set: dict[str, list[FieldDetails]]
    ) -> ObjectPlan | None:
        plannable, exact = _exact_class(object_type)
        if not plannable:
            return None
        fields: list[PlannedField] = []
        for response_name, details in grouped_field_set.items():
            if any(
                d.node.directives or d.defer_usage is not None or d.fragment_variable_values
                for d in details
            ):
                return None
            node = details[0].node
            if node.arguments:
                return None
            if node.name.value == "__typename":
                fields.append((response_name, "", TYPENAME, False, object_type.name))
                continue
            field_def = object_type.fields.get(node.name.value)
            definition = _basic_definition(field_def)
            if field_def is None or definition is None:
                return None
            shape = self._shape(field_def.type, details)
            if shape is None:
                return None
            kind, nullable, how = shape
            fields.append((response_name, definition.python_name, kind, nullable, how))
        return (exact, tuple(fields))
