"""Validation rules and limits, built once at import so the validation cache keeps hitting."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    ValidationRule,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator


class OneMutationPerRequest(ValidationRule):
    """A mutation operation selects exactly one field, so one request is one atomic change:
    when it returns an error, rolling back the request undoes nothing else."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation is OperationType.MUTATION and len(node.selection_set.selections) != 1:
            self.report_error(
                GraphQLError("A mutation request must select exactly one mutation field.", node)
            )


def validation_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    return [depth_validator(max_depth, None), alias_validator(max_aliases), OneMutationPerRequest]
