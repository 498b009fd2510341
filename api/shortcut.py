"""Queries answered without building an executor (SPEC 10, issue 7).

The query every dashboard page sends first, "who am I" (`{ viewer { id username … } }`), cost
more in graphql-core's executor than in the rest of its request: building the executor
(operation, fragments, variables, incremental state), collecting the root fields, an info and
a path for each, all for one synchronous resolver and a few plain attributes. For an operation
whose whole answer can be planned, the plan is made once per document and operation (kept with
the prepared document, api/operations.py); a request then only calls the root resolvers and
completes their values from the plan.

An operation is planned when it is a query with no variables and no directives anywhere,
and each root field takes no arguments and has a value that FastExecutionContext can complete
from a plan (plain attributes, leaves, lists of those; api/execution.py). A request:
- calls each root resolver in order, as graphql-core does (the same kind of info, built the
  same way, with the request's context);
- completes each value from its plan. Anything the plan does not cover (a null in a non-null
  position, an awaitable, a value of another class, an attribute that raises) is completed by
  a stock executor, built at that moment, exactly as graphql-core's `execute_field` completes
  a resolved value: the same errors, the same gathering of awaitables;
- locates and collects a resolver's error, or lets it null the whole answer for a non-null
  field, as graphql-core's `handle_field_error` does.
Results and errors equal the stock executor's (tests/test_shortcut.py). Nothing here decides
access: the resolvers do, through auth/policy.py, before values reach the plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationType,
    located_error,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields
from graphql.execution.executor import CollectedErrors
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.definition import GraphQLNonNull, GraphQLResolveInfoHelpers
from strawberry.execution.is_awaitable import optimized_is_awaitable

from api.execution import (
    STRING,
    FastExecutionContext,
    Shape,
    _complete_value,
    _has_directives,
    _Unusual,
    gather_fields,
)


def _track(values: Sequence[Any]) -> None:
    """info.async_helpers.track, as the executor does it: awaitables settle in the background."""
    awaitables = [value for value in values if optimized_is_awaitable(value)]
    if awaitables:
        future = asyncio.gather(*awaitables, return_exceptions=True)
        _settling.add(future)
        future.add_done_callback(_settling.discard)


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


_settling: set[asyncio.Future[Any]] = set()
# The executor's helpers hold the executor; these hold nothing of a request.
HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=_track)


@dataclass(frozen=True, slots=True)
class _RootField:
    response_name: str
    field_def: GraphQLField
    details: list[FieldDetails]
    path: Path
    # The info graphql-core (Strawberry's executor) builds for the field, but for the request.
    info: Any
    shape: Shape

    @property
    def non_null(self) -> bool:
        return isinstance(self.field_def.type, GraphQLNonNull)


class Shortcut:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        executor_class: type[FastExecutionContext],
        root_type: GraphQLObjectType,
        fields: tuple[_RootField, ...],
    ) -> None:
        self.schema = schema
        self.document = document
        self.operation_name = operation_name
        self.executor_class = executor_class
        self.root_type = root_type
        self.fields = fields

    @classmethod
    def plan(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        executor_class: type[Any],
    ) -> Shortcut | None:
        """The shortcut for a validated document's operation, or None when it has none."""
        if not issubclass(executor_class, FastExecutionContext):
            return None
        executor = executor_class.build(
            schema,
            document,
            None,
            None,
            {},
            operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        )
        if not isinstance(executor, FastExecutionContext) or not executor._fast_lists:
            return None
        operation = executor.operation
        root_type = schema.query_type
        if (
            operation.operation is not OperationType.QUERY
            or root_type is None
            or operation.variable_definitions
            or operation.directives
            or _has_directives(operation.selection_set, executor.fragments, set())
        ):
            return None
        grouped_field_set, new_defer_usages, _forbidden = collect_fields(
            schema, executor.fragments, executor.variable_values, root_type, operation
        )
        if new_defer_usages:
            return None
        fields = []
        for response_name, details in grouped_field_set.items():
            node = details[0].node
            field_def = root_type.fields.get(node.name.value)
            if (
                field_def is None  # __typename and the introspection fields among them
                or field_def.args
                or field_def.resolve is None
                or any(
                    detail.node.arguments or detail.fragment_variable_values for detail in details
                )
            ):
                return None
            shape = executor._shape(field_def.type, details)
            if shape is None:
                return None
            path = Path(None, response_name, root_type.name)
            info = executor.build_resolve_info(
                field_def, [detail.node for detail in details], root_type, path
            )._replace(async_helpers=HELPERS)
            fields.append(_RootField(response_name, field_def, details, path, info, shape))
        return cls(schema, document, operation_name, executor_class, root_type, tuple(fields))

    async def run(self, context: Any, root_value: Any = None) -> ExecutionResult:
        errors = CollectedErrors()
        stock: FastExecutionContext | None = None
        data: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for field in self.fields:
                template = field.info
                # Fresh containers, as the executor gives each request: nothing a resolver
                # might do to them can reach another request.
                info = template._replace(
                    field_nodes=list(template.field_nodes),
                    fragments=dict(template.fragments),
                    context=context,
                    root_value=root_value,
                    variable_values={},
                )
                try:
                    value = field.field_def.resolve(root_value, info)  # type: ignore[misc]
                except Exception as raw_error:
                    error = located_error(raw_error, info.field_nodes, field.path.as_list())
                    if field.non_null:
                        raise error from None
                    errors.add(error, field.path)
                    data[field.response_name] = None
                    continue
                try:
                    data[field.response_name] = _complete(field.shape, value)
                    continue
                except Exception:  # noqa: S110 - not covered: the stock way, below
                    pass
                if stock is None:
                    stock = self._stock(context, root_value, errors)
                completed = _complete_stock(stock, self.root_type, field, value)
                data[field.response_name] = completed
                if stock.is_awaitable(completed):
                    pending.append(field.response_name)
        except GraphQLError as error:
            # A non-null root field failed: no data. What other fields started still settles.
            if stock is not None and pending:
                stock.settle_in_background([data[name] for name in pending])
            errors.add(error, None)
            return self._response(stock, errors, None)
        if pending:
            try:
                await gather_fields(data, pending)
            except GraphQLError as error:
                errors.add(error, None)
                return self._response(stock, errors, None)
        return self._response(stock, errors, data)

    def _stock(self, context: Any, root_value: Any, errors: CollectedErrors) -> Any:
        stock = self.executor_class.build(
            self.schema,
            self.document,
            root_value,
            context,
            {},
            self.operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        )
        assert isinstance(stock, FastExecutionContext)  # it was built the same way to plan
        stock.collected_errors = errors
        return stock

    @staticmethod
    def _response(
        stock: FastExecutionContext | None, errors: CollectedErrors, data: dict[str, Any] | None
    ) -> ExecutionResult:
        if stock is not None:
            result = stock.build_response(data)
            assert isinstance(result, ExecutionResult)  # no @defer or @stream in a plan
            return result
        return ExecutionResult(data, errors.errors or None)


def _complete(shape: Shape, value: Any) -> Any:
    kind, nullable, how = shape
    if value is None:
        if nullable:
            return None
        raise _Unusual
    if kind == STRING and type(value) is str:
        return value
    return _complete_value(kind, how, value, optimized_is_awaitable)


def _complete_stock(
    stock: FastExecutionContext, root_type: GraphQLObjectType, field: _RootField, value: Any
) -> Any:
    """What graphql-core's execute_field does with a resolved value."""
    return_type: GraphQLOutputType = field.field_def.type
    details, path = field.details, field.path
    info = stock.build_resolve_info(field.field_def, field.info.field_nodes, root_type, path)
    try:
        if stock.is_awaitable(value):
            return stock.complete_awaitable_value(return_type, details, info, path, value, None)
        completed = stock.complete_value(return_type, details, info, path, value, None)
        if stock.is_awaitable(completed):
            return stock._await_object(completed, return_type, details, path)
    except Exception as raw_error:
        stock.handle_field_error(raw_error, return_type, details, path)
        return None
    return completed
