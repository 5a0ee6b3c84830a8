"""The schema under test and the operations sent to it: generated ones (hypothesis-graphql,
with our scalar strategies) and the frontends' own documents."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from app.settings import Settings
from tests.fuzz import values
from tests.fuzz.world import World
from tests.support import EXAMPLES

# (Customer sessions: every agent operation is refused them, so one role of the two carries the
# generated operations; test_generated_customer_operations sends both the ones they may send.)
ROLES = ("admin", "supervisor", "agent", "anonymous", "bad-token", "customer")
CUSTOMER_ROLES = ("customer", "other_customer")


@cache
def schema() -> graphql.GraphQLSchema:
    from resolvers.schema import build_schema

    return build_schema(Settings())._schema  # type: ignore[attr-defined,no-any-return]


@cache
def customer_schema() -> graphql.GraphQLSchema:
    """The schema cut down to what a customer session may select (resolvers/customer_allowlist.py):
    operations generated from it get past the allowlist and reach the row scoping beneath."""
    from resolvers.customer_allowlist import customer_may_select

    document = graphql.parse(graphql.print_schema(schema()))
    kept = []
    for definition in document.definitions:
        if isinstance(definition, graphql.ObjectTypeDefinitionNode | graphql.InterfaceTypeDefinitionNode):
            name = definition.name.value
            fields = tuple(f for f in definition.fields or () if customer_may_select(name, f.name.value))
            if not fields:
                continue  # nothing of it may be selected, so nothing refers to it any more
            definition = replace(definition, fields=fields)
        kept.append(definition)
    return graphql.build_ast_schema(replace(document, definitions=tuple(kept)))


def mutation_fields(*, without: tuple[str, ...] = ()) -> list[str]:
    mutation = schema().mutation_type
    assert mutation is not None
    # login has its own test: generated logins would otherwise mostly lock the address out.
    return [name for name in mutation.fields if name not in ("login", *without)]


def _field(name: str, *subfields: str) -> graphql.FieldNode:
    selection = graphql.SelectionSetNode(selections=tuple(_field(f) for f in subfields)) if subfields else None
    return graphql.FieldNode(name=graphql.NameNode(value=name), selection_set=selection)


def with_user_errors(document: graphql.DocumentNode) -> str:
    """Prints a generated mutation with `userErrors { field message code }` selected in every
    payload, so the oracle reads the messages the business rules wrote."""
    mutation = schema().mutation_type
    assert mutation is not None

    def widen(root: graphql.SelectionNode) -> graphql.SelectionNode:
        if not isinstance(root, graphql.FieldNode) or root.selection_set is None:
            return root
        payload = graphql.get_named_type(mutation.fields[root.name.value].type)
        if not isinstance(payload, graphql.GraphQLObjectType) or "userErrors" not in payload.fields:
            return root
        selections = (*root.selection_set.selections, _field("userErrors", "field", "message", "code"))
        return replace(root, selection_set=replace(root.selection_set, selections=selections))

    definitions = [
        replace(d, selection_set=replace(d.selection_set, selections=tuple(map(widen, d.selection_set.selections))))
        if isinstance(d, graphql.OperationDefinitionNode)
        else d
        for d in document.definitions
    ]
    return graphql.print_ast(replace(document, definitions=tuple(definitions)))


def generated_queries(
    world: World, mode: Mode = Mode.POSITIVE, of: graphql.GraphQLSchema | None = None
) -> st.SearchStrategy[str]:
    return queries(of or schema(), custom_scalars=values.scalar_literals(lambda: world.pool), mode=mode)


def generated_mutations(
    world: World, fields: list[str] | None = None, mode: Mode = Mode.POSITIVE, of: graphql.GraphQLSchema | None = None
) -> st.SearchStrategy[str]:
    return mutations(
        of or schema(),
        fields=fields or mutation_fields(),
        custom_scalars=values.scalar_literals(lambda: world.pool),
        print_ast=with_user_errors,
        mode=mode,
    )


def one_field_mutations(world: World, fields: list[str]) -> st.SearchStrategy[str]:
    """Mutations of one root field each (hypothesis-graphql may otherwise select several)."""
    return st.sampled_from(fields).flatmap(lambda name: generated_mutations(world, [name]))


@cache
def example_documents() -> list[tuple[str, graphql.OperationDefinitionNode]]:
    """Every query and mutation a frontend sends (frontend_examples/): the documents a server
    sees over and over, and the ones it compiles into plans once answered."""
    found = []
    for path in sorted(EXAMPLES.rglob("*.graphql")):
        document = path.read_text()
        for definition in graphql.parse(document).definitions:
            if isinstance(definition, graphql.OperationDefinitionNode) and definition.operation.value != "subscription":
                found.append((document, definition))
    return found


def declared_variables(
    operation: graphql.OperationDefinitionNode,
) -> dict[str, tuple[graphql.GraphQLInputType, bool]]:
    """Each variable of the operation: its type, and whether it must be given."""
    return {
        d.variable.name.value: (
            graphql.type_from_ast(schema(), d.type),  # type: ignore[misc]
            isinstance(d.type, graphql.NonNullTypeNode) and d.default_value is None,
        )
        for d in operation.variable_definitions or ()
    }
