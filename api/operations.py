"""GraphQL operations, prepared once per query text and run straight on graphql-core.

A dashboard sends the same few query texts all day. Each text is parsed (with the token cap),
validated (standard rules, our limits, no introspection in production) and its operations
typed once, then kept in a bounded cache; a request only looks its text up and executes.
Strawberry still builds the schema and runs every resolver (permissions included); only its
per-request extension pipeline is left out, which cost more than executing a small query
(SPEC 10, issue 7). Unexpected resolver errors are masked here, as api/masking.py describes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.pyutils import is_awaitable
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import Schema

from api.limits import validation_rules
from api.masking import mask_errors
from api.shortcut import Shortcut
from core.settings import Settings

CACHE_SIZE = 512
# Query texts longer than this are prepared for each request and never cached, so a client
# sending ever-new huge documents cannot make the cache hold much.
CACHE_MAX_QUERY_LENGTH = 20_000


class OperationRefused(Exception):
    """The request names no runnable operation, or one its HTTP method may not run."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Prepared:
    """A query text after parsing and validation: a document, or the errors to answer with."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    # The operation types by name (None for an anonymous operation).
    operations: dict[str | None, OperationType]
    # Each operation's shortcut (api/shortcut.py), or None, once it was first asked for.
    shortcuts: dict[str | None, Shortcut | None] = field(default_factory=dict)

    def operation_type(self, name: str | None) -> OperationType | None:
        """The type of the operation to run; None when the name picks none (or not one)."""
        if name is None:
            if len(self.operations) != 1:
                return None
            return next(iter(self.operations.values()))
        return self.operations.get(name)


class Operations:
    def __init__(self, schema: Schema, settings: Settings) -> None:
        self.schema: GraphQLSchema = schema._schema
        # FastExecutionContext or Strawberry's own, as create_schema chose.
        self.executor_class = schema.execution_context_class
        self.max_tokens = settings.max_query_tokens
        rules = [
            *specified_rules,
            *validation_rules(
                settings.max_query_depth, settings.max_query_aliases, settings.max_query_nodes
            ),
        ]
        if settings.is_production:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(rules)
        self._cache: OrderedDict[str, Prepared] = OrderedDict()

    def prepare(self, query: str) -> Prepared:
        cached = self._cache.get(query)
        if cached is not None:
            self._cache.move_to_end(query)
            return cached
        prepared = self._prepare(query)
        if len(query) <= CACHE_MAX_QUERY_LENGTH:
            self._cache[query] = prepared
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return Prepared(None, (error,), {})
        operations = {
            (node.name.value if node.name else None): node.operation
            for node in document.definitions
            if isinstance(node, OperationDefinitionNode)
        }
        errors = validate(self.schema, document, self.rules)
        return Prepared(document, tuple(errors), operations)

    def _shortcut(self, prepared: Prepared, operation_name: str | None) -> Shortcut | None:
        """The operation's shortcut, planned on first use; only for operations the document
        has (a client naming ever-new operations must not grow the entry)."""
        shortcuts = prepared.shortcuts
        if operation_name in shortcuts:
            return shortcuts[operation_name]
        if prepared.document is None or prepared.operation_type(operation_name) is None:
            return None
        shortcut = Shortcut.plan(
            self.schema, prepared.document, operation_name, self.executor_class
        )
        shortcuts[operation_name] = shortcut
        return shortcut

    async def run(
        self,
        query: str | None,
        *,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Any,
        allowed: frozenset[OperationType],
        request_id: str | None,
    ) -> ExecutionResult:
        """Raises OperationRefused for what HTTP refuses (400/405) before anything runs."""
        if not query:
            raise OperationRefused(400, "No GraphQL query found in the request")
        prepared = self.prepare(query)
        if prepared.document is None:
            return ExecutionResult(None, list(prepared.errors))
        kind = prepared.operation_type(operation_name)
        if kind is not None:
            if kind not in allowed:
                if kind is OperationType.MUTATION and OperationType.QUERY in allowed:
                    raise OperationRefused(405, "mutations are not allowed when using GET")
                raise OperationRefused(400, f"{kind.value} operations are not allowed here")
        elif not prepared.operations and not prepared.errors:
            raise OperationRefused(400, "Can't get GraphQL operation type")
        # An unknown or ambiguous operation name runs nothing: graphql-core answers it with
        # its own GraphQL error below.
        if prepared.errors:
            return ExecutionResult(None, list(prepared.errors))
        # Planned only for documents the cache keeps (a plan costs more than one execution).
        shortcut = (
            self._shortcut(prepared, operation_name)
            if len(query) <= CACHE_MAX_QUERY_LENGTH
            else None
        )
        result: Any
        if shortcut is not None:
            result = await shortcut.run(context)
        else:
            result = execute(
                self.schema,
                prepared.document,
                variable_values=variables,
                operation_name=operation_name,
                context_value=context,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                executor_class=self.executor_class,
            )
            if is_awaitable(result):
                result = await result
        assert isinstance(result, ExecutionResult)
        if result.errors:
            result.errors = mask_errors(result.errors, context, request_id)
        return result
