"""Expected errors keep their message and gain a stable code; unexpected ones are logged with
the request id and replaced by a generic message (never a stack trace)."""

from __future__ import annotations

from typing import Any

import structlog
from graphql import GraphQLError

from core.errors import DomainError

log = structlog.get_logger("orgward.graphql")


def mask_errors(
    errors: list[GraphQLError], context: Any, request_id: str | None
) -> list[GraphQLError]:
    return [_masked(error, context, request_id) for error in errors]


def _masked(error: GraphQLError, context: Any, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error  # parse, validation and variable errors are the client's to read
    # A resolver failed: whatever the request wrote before that must not be committed.
    if context is not None and hasattr(context, "failed"):
        context.failed = True
    if isinstance(original, DomainError):
        extensions = {"code": original.code.value}
        if original.field:
            extensions["field"] = original.field
        return GraphQLError(original.message, error.nodes, path=error.path, extensions=extensions)
    log.error("graphql.unexpected_error", request_id=request_id, path=error.path, exc_info=original)
    return GraphQLError(
        f"Internal server error (request id {request_id}).",
        error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )
