"""A cap on how many objects one query may ask for (SPEC 10: complexity limit).

Each list field multiplies what is below it by its page size (`first`, or its default; a page
size given as a variable counts as the largest page, since validation runs once per query text
and is cached). The estimate is the number of objects the response could hold at most.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

from services.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

PAGE_LISTS = frozenset({"edges", "nodes"})
# Plain lists (a team's domains, contacts, a viewer's sessions) are short by nature: count each
# as a default page.
PLAIN_LIST_SIZE = DEFAULT_PAGE_SIZE


def create_rule(max_nodes: int) -> type[ValidationRule]:
    class QueryComplexity(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            nodes = _cost(self.context, root, node.selection_set, 1, frozenset())
            if nodes > max_nodes:
                self.report_error(
                    GraphQLError(
                        f"This query could return up to {nodes} objects; the limit is {max_nodes}. "
                        "Ask for smaller pages or fewer nested lists.",
                        node,
                    )
                )

    return QueryComplexity


def _cost(
    context: Any, parent: Any, selections: SelectionSetNode, multiplier: int, seen: frozenset[str]
) -> int:
    total = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            fields = getattr(parent, "fields", {})
            definition = fields.get(selection.name.value)
            if definition is None or selection.selection_set is None:
                continue
            count = multiplier * _page_size(selection, definition)
            total += count
            total += _cost(
                context, get_named_type(definition.type), selection.selection_set, count, seen
            )
        elif isinstance(selection, InlineFragmentNode):
            target = parent
            if selection.type_condition is not None:
                target = context.schema.get_type(selection.type_condition.name.value) or parent
            total += _cost(context, target, selection.selection_set, multiplier, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = context.get_fragment(selection.name.value)
            if fragment is not None:
                target = context.schema.get_type(fragment.type_condition.name.value) or parent
                total += _cost(
                    context,
                    target,
                    fragment.selection_set,
                    multiplier,
                    seen | {selection.name.value},
                )
    return total


def _page_size(node: FieldNode, definition: Any) -> int:
    argument = definition.args.get("first")
    if argument is None:
        if not is_list_type(get_nullable_type(definition.type)) or node.name.value in PAGE_LISTS:
            return 1  # an object, or a connection's edges (already counted by its page size)
        return PLAIN_LIST_SIZE
    for given in node.arguments or ():
        if given.name.value == "first":
            if isinstance(given.value, IntValueNode):
                return max(0, int(given.value.value))
            if isinstance(given.value, VariableNode):
                return MAX_PAGE_SIZE
    default = argument.default_value
    return default if isinstance(default, int) else MAX_PAGE_SIZE


__all__ = ["create_rule"]
