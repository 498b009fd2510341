"""Expected errors keep their message and gain a stable code; unexpected ones are logged with
the request id and replaced by a generic message (never a stack trace)."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import DomainError

log = structlog.get_logger("orgward.graphql")


class MaskUnexpectedErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._process(error) for error in result.errors]

    def _process(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error  # parse and validation errors are the client's to read
        # A resolver failed: whatever the request wrote before that must not be committed.
        context = self.execution_context.context
        if context is not None and hasattr(context, "failed"):
            context.failed = True
        if isinstance(original, DomainError):
            extensions = {"code": original.code.value}
            if original.field:
                extensions["field"] = original.field
            return GraphQLError(
                original.message, error.nodes, path=error.path, extensions=extensions
            )
        request_id = getattr(context, "request_id", None)
        log.error(
            "graphql.unexpected_error", request_id=request_id, path=error.path, exc_info=original
        )
        return GraphQLError(
            f"Internal server error (request id {request_id}).",
            error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
