"""What a field's selection asks for, so a page reads only the columns it shows (issue 7).

A list resolver that knows nothing below it asks for `joinedAt` selects a membership's
timestamps anyway, and decoding a timestamp costs the driver more than most columns. The
answer here is deliberately generous: every field name anywhere below the field counts,
through fragments and whatever @skip/@include would say, so a name that might be shown is
never left out; only names that appear nowhere below are.

Documents are cached per query text (api/operations.py), so the same field nodes come back
request after request; the names below them are worked out once per node and kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from api.context import Info

# By the ids of the field's nodes; the value keeps the nodes alive, so ids are not reused.
_names_below: dict[tuple[int, ...], tuple[list[FieldNode], frozenset[str]]] = {}
CACHE_SIZE = 2000


def asks_for_any(info: Info, names: Iterable[str]) -> bool:
    """Whether any of `names` (GraphQL field names) may be selected below this field."""
    raw = info._raw_info
    nodes = raw.field_nodes
    key = tuple(id(node) for node in nodes)
    cached = _names_below.get(key)
    if cached is None or any(a is not b for a, b in zip(cached[0], nodes, strict=True)):
        if len(_names_below) >= CACHE_SIZE:
            _names_below.clear()
        cached = _names_below[key] = (list(nodes), _collect(nodes, raw.fragments))
    return not cached[1].isdisjoint(names)


def _collect(
    nodes: list[FieldNode], fragments: dict[str, FragmentDefinitionNode]
) -> frozenset[str]:
    names: set[str] = set()
    spread: set[str] = set()
    pending: list[SelectionSetNode] = [node.selection_set for node in nodes if node.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
                if selection.selection_set:
                    pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in spread:
                    spread.add(name)
                    pending.append(fragment.selection_set)
    return frozenset(names)
