"""A static cost limit: an operation whose worst case is too expensive is refused before it runs.

The cost is computed from the validated document, before any resolver runs: every field costs
1, and a field with a `first` (or `last`) argument (a connection or a paged list) multiplies the
cost of what is selected under it by that page size: the literal, else the variable's value,
else the argument's default in the schema, capped at the largest page size the API serves.
Fragments and inline fragments count where they are spread. A ticket list of 100 that asks
for 100 comments each is 100 x 100 comment nodes, whatever the data holds today.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from strawberry.extensions import SchemaExtension

from schema import errors

PAGE_ARGUMENTS = ("first", "last")
# What a resolver serves when `first` is given as null (schema.common.page_size).
NULL_PAGE_SIZE = 20


class _Cost:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.max_page_size = max_page_size
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        # Values the request gave, else the defaults the operation declares.
        self.variables: dict[str, Any] = {
            d.variable.name.value: _literal_int(d.default_value)
            for d in operation.variable_definitions or ()
            if d.default_value is not None
        }
        self.variables.update(variables)
        # A fragment costs the same wherever it is spread: computed once, so fragments that
        # spread each other many times cannot make the computation itself expensive.
        self._fragment_costs: dict[str, int] = {}

    def selection_set(self, selections: SelectionSetNode | None, parent: GraphQLNamedType | None) -> int:
        if selections is None:
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        if name not in self._fragment_costs:
            self._fragment_costs[name] = 0  # validation forbids cycles; this only guards the recursion
            definition = self.fragments.get(name)
            if definition is not None:
                target = self.schema.get_type(definition.type_condition.name.value)
                self._fragment_costs[name] = self.selection_set(definition.selection_set, target)
        return self._fragment_costs[name]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        definition = self._definition(parent, node.name.value)
        child = get_named_type(definition.type) if definition is not None else None
        children = self.selection_set(node.selection_set, child)
        return 1 + self._page_size(node, definition) * children

    def _definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is not None and parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
        return fields.get(name)

    def _page_size(self, node: FieldNode, definition: GraphQLField | None) -> int:
        if definition is None:
            return 1
        paged = [name for name in PAGE_ARGUMENTS if name in definition.args]
        if not paged:
            return 1
        given = {a.name.value: a.value for a in node.arguments or ()}
        sizes = []
        for name in paged:
            if name in given:
                value = given[name]
                if isinstance(value, VariableNode):
                    raw = self.variables.get(value.name.value, definition.args[name].default_value)
                    size = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
                else:
                    size = _literal_int(value)
            else:
                default = definition.args[name].default_value
                size = default if isinstance(default, int) and not isinstance(default, bool) else None
            sizes.append(NULL_PAGE_SIZE if size is None else size)
        return max(0, min(max(sizes), self.max_page_size))


def _literal_int(value: Any) -> int | None:
    if isinstance(value, IntValueNode):
        return int(value.value)
    if value is None or isinstance(value, NullValueNode):
        return None
    return None


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    max_page_size: int,
) -> int:
    """The static cost of the operation the request runs (0 when there is no such operation)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    cost = _Cost(schema, document, operation, variables or {}, max_page_size)
    return cost.selection_set(operation.selection_set, root)


class QueryCostLimiter(SchemaExtension):
    """Refuses an operation whose static cost is over `max_cost` with a GraphQL error
    QUERY_TOO_COMPLEX naming the cost and the limit, before any resolver runs."""

    def __init__(self, *, max_cost: int, max_page_size: int) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            cost = operation_cost(
                ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables, self.max_page_size
            )
            if cost > self.max_cost:
                raise errors.too_complex(
                    f"the query is too complex: it costs {cost}, the limit is {self.max_cost} "
                    "(each field counts 1, multiplied by the `first` of every list above it); ask for smaller pages",
                    cost=cost,
                    limit=self.max_cost,
                )
        yield
