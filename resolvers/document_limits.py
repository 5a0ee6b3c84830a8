"""Size limits on a GraphQL document, measured in one pass before any rule expands a fragment.

Fragments may spread each other: twenty fragments that each spread the next one twice are
771 bytes and expand to 2^20 copies of the last. Every rule that follows spreads (the depth
and alias limits, graphql-core's own rules) walks each copy, so such a document took seconds
of CPU on the event loop before it was refused. Here each fragment is measured once and its
figures are reused wherever it is spread, so the work is linear in the document's text; a
document too large once expanded is refused before anything expands it.

The same pass gives the depth and alias figures, counted as Strawberry's QueryDepthLimiter and
MaxAliasesLimiter count them (and refused with their messages), without their expansion.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from schema import errors as graphql_errors

TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class DocumentLimits:
    max_expanded_fields: int
    max_fragment_spreads: int
    max_selection_nesting: int
    max_depth: int
    max_aliases: int


@dataclass(frozen=True)
class Figures:
    """What a selection set amounts to with every fragment spread in it expanded."""

    fields: int = 0
    spreads: int = 0
    aliases: int = 0
    # Nested fields with a selection set, as QueryDepthLimiter counts them: inline fragments and
    # spreads add nothing, and an introspection field (`__schema`) ends the count.
    depth: int = 0
    # Nested selection sets of any kind: fields, inline fragments and fragment spreads. Every
    # walk of the document (validation, cost, execution) recurses this deep.
    nesting: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.fields + other.fields,
            self.spreads + other.spreads,
            self.aliases + other.aliases,
            max(self.depth, other.depth),
            max(self.nesting, other.nesting),
        )


NOTHING = Figures()


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """The fragments a selection set spreads directly (at any nesting, without following them)."""
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif selection.selection_set is not None:  # type: ignore[attr-defined]
                stack.append(selection.selection_set)  # type: ignore[attr-defined]


class _Measure:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments.setdefault(definition.name.value, definition)
        self.figures: dict[str, Figures] = {}
        self._measure_fragments()

    def _measure_fragments(self) -> None:
        """Each fragment once, after the fragments it spreads (a walk without recursion, so a
        long chain of fragments cannot exhaust the stack). A spread that closes a cycle counts
        nothing here; validation reports the cycle."""
        on_path: set[str] = set()
        for root in self.fragments:
            if root in self.figures:
                continue
            path = [(root, _spread_names(self.fragments[root].selection_set))]
            on_path.add(root)
            while path:
                name, spreads = path[-1]
                for spread in spreads:
                    if spread in self.fragments and spread not in self.figures and spread not in on_path:
                        path.append((spread, _spread_names(self.fragments[spread].selection_set)))
                        on_path.add(spread)
                        break
                else:
                    path.pop()
                    on_path.discard(name)
                    self.figures[name] = self.selection_set(self.fragments[name].selection_set)

    def selection_set(self, selection_set: SelectionSetNode) -> Figures:
        # Recursion within one definition only: the parser caps its nesting (200 levels).
        total = NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.figures.get(selection.name.value, NOTHING)
                total += replace(inner, spreads=1 + inner.spreads)
        return replace(total, nesting=1 + total.nesting)

    def _field(self, node: FieldNode) -> Figures:
        alias = 1 if node.alias is not None else 0
        if node.selection_set is None:
            return Figures(fields=1, aliases=alias)
        inner = self.selection_set(node.selection_set)
        depth = 0 if node.name.value.startswith("__") else 1 + inner.depth
        return replace(inner, fields=1 + inner.fields, aliases=alias + inner.aliases, depth=depth)


def _definition_name(definition: OperationDefinitionNode | FragmentDefinitionNode) -> str:
    if isinstance(definition, FragmentDefinitionNode):
        return f"fragment '{definition.name.value}'"
    return f"operation '{definition.name.value}'" if definition.name else "the operation"


def _too_complex(message: str, limit: int, node: OperationDefinitionNode | FragmentDefinitionNode) -> GraphQLError:
    return graphql_errors.too_complex(message, node, limit=limit)


def _size_refusal(
    definition: OperationDefinitionNode | FragmentDefinitionNode, figures: Figures, limits: DocumentLimits
) -> GraphQLError | None:
    what = _definition_name(definition)
    if figures.spreads > limits.max_fragment_spreads:
        return _too_complex(
            f"the document is too complex: {what} spreads fragments {figures.spreads} times once they are "
            f"expanded, the limit is {limits.max_fragment_spreads}",
            limits.max_fragment_spreads,
            definition,
        )
    if figures.fields > limits.max_expanded_fields:
        return _too_complex(
            f"the document is too complex: {what} selects {figures.fields} fields once its fragments are "
            f"expanded, the limit is {limits.max_expanded_fields}",
            limits.max_expanded_fields,
            definition,
        )
    if figures.nesting > limits.max_selection_nesting:
        return _too_complex(
            f"the document is too complex: {what} nests selections {figures.nesting} levels deep (fields, "
            f"inline fragments and fragment spreads), the limit is {limits.max_selection_nesting}",
            limits.max_selection_nesting,
            definition,
        )
    return None


def document_refusals(document: DocumentNode, limits: DocumentLimits) -> list[GraphQLError]:
    """Why the document is refused before validation (empty when it is within the limits).

    First its size with fragments expanded (QUERY_TOO_COMPLEX): every operation and fragment is
    checked, since validation walks them all, whichever operation the request runs. Then the
    depth of each operation and the aliases of all of them, as the Strawberry limiters this
    replaces reported them."""
    measure = _Measure(document)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    figures: list[tuple[OperationDefinitionNode | FragmentDefinitionNode, Figures]] = [
        (operation, measure.selection_set(operation.selection_set)) for operation in operations
    ]
    figures += [(fragment, measure.figures[name]) for name, fragment in measure.fragments.items()]
    for definition, figure in figures:
        if (refusal := _size_refusal(definition, figure, limits)) is not None:
            return [refusal]
    errors = [
        graphql_errors.invalid_document(
            f"'{operation.name.value if operation.name else 'anonymous'}' exceeds maximum operation depth "
            f"of {limits.max_depth}",
            operation,
        )
        for operation, figure in figures[: len(operations)]
        if figure.depth > limits.max_depth
    ]
    aliases = sum(figure.aliases for _, figure in figures[: len(operations)])
    if aliases > limits.max_aliases:
        errors.append(graphql_errors.invalid_document(f"{aliases} aliases found. Allowed: {limits.max_aliases}"))
    return errors
