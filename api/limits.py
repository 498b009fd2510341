"""Validation rules and limits, built once at import so the validation cache keeps hitting."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from api import complexity


class OneMutationPerRequest(ValidationRule):
    """A mutation operation selects exactly one field, so one request is one atomic change:
    when it returns an error, rolling back the request undoes nothing else."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        # Fragments (inline or named) at the root count too: they are how two mutations
        # would otherwise slip into one request.
        if _root_fields(node.selection_set, self.context, frozenset()) != 1:
            self.report_error(
                GraphQLError("A mutation request must select exactly one mutation field.", node)
            )


def _root_fields(selections: SelectionSetNode, context: Any, seen: frozenset[str]) -> int:
    count = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            count += not selection.name.value.startswith("__")
        elif isinstance(selection, InlineFragmentNode):
            count += _root_fields(selection.selection_set, context, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = context.get_fragment(selection.name.value)
            if fragment is not None:
                count += _root_fields(
                    fragment.selection_set, context, seen | {selection.name.value}
                )
    return count


def validation_rules(
    max_depth: int, max_aliases: int, max_nodes: int
) -> list[type[ASTValidationRule]]:
    return [
        depth_validator(max_depth, None),
        alias_validator(max_aliases),
        complexity.create_rule(max_nodes),
        OneMutationPerRequest,
    ]
