"""Operations that take every argument of one root field as a variable, and JSON values for
those variables: mostly of the declared type, sometimes anything at all (wrong types, huge or
negative numbers, deep nesting). Variables go through a different path than literals
(coercion of JSON values), so they are fuzzed on their own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import graphql
from hypothesis import strategies as st

from tests.fuzz import values

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    values.INT,
    st.sampled_from([2**31, -(2**31) - 1, 2**53 + 1, 10**30, -(10**30), 1.5, -0.0, 1e308]),
    st.floats(allow_nan=False, allow_infinity=False),
    values.TEXT,
)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(values.TEXT, inner, max_size=4)),
    max_leaves=10,
)


def operation(schema: graphql.GraphQLSchema, kind: str, name: str) -> str:
    """`query|mutation ($a: T, ...) { name(a: $a, ...) { __typename [userErrors {...}] } }`."""
    root = schema.query_type if kind == "query" else schema.mutation_type
    assert root is not None
    field = root.fields[name]
    declared = ", ".join(f"${arg}: {t}" for arg, t in ((a, v.type) for a, v in field.args.items()))
    passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    result = graphql.get_named_type(field.type)
    selection = ""
    if isinstance(result, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        extra = " userErrors { field message code }" if "userErrors" in result.fields else ""
        selection = "{ __typename" + extra + " }"
    head = f"{kind} ({declared})" if declared else kind
    call = f"{name}({passed})" if passed else name
    return f"{head} {{ {call} {selection} }}"


def typed(type_: graphql.GraphQLInputType, pool: Callable[[], Sequence[str]], depth: int = 0) -> st.SearchStrategy:
    """A JSON value for `type_`: of the type most of the time, anything now and then."""
    if depth >= 3:
        return _of_type(type_, pool, depth)
    return values.weighted((6, _of_type(type_, pool, depth)), (1, ANY_JSON))


def _of_type(type_: graphql.GraphQLInputType, pool: Callable[[], Sequence[str]], depth: int) -> st.SearchStrategy:
    if isinstance(type_, graphql.GraphQLNonNull):
        return _of_type(type_.of_type, pool, depth)
    if isinstance(type_, graphql.GraphQLList):
        item = typed(type_.of_type, pool, depth + 1)
        # A single value stands for a list of one.
        return values.weighted((4, st.lists(item, max_size=4)), (1, item))
    if isinstance(type_, graphql.GraphQLEnumType):
        return values.weighted((6, st.sampled_from(list(type_.values))), (1, values.TEXT))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        required = {
            n: typed(f.type, pool, depth + 1) for n, f in type_.fields.items() if graphql.is_required_input_field(f)
        }
        optional = {n: typed(f.type, pool, depth + 1) for n, f in type_.fields.items() if n not in required}
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(type_, graphql.GraphQLScalarType)
    return {
        "String": values.TEXT,
        "Int": values.INT,
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "Boolean": st.booleans(),
        "ID": st.one_of(values.ids(pool), values.INT),
        "DateTime": values.datetimes(),
        "JSON": ANY_JSON,
        "Upload": st.one_of(st.none(), values.TEXT),
    }[type_.name]


def arguments(
    schema: graphql.GraphQLSchema, kind: str, name: str, pool: Callable[[], Sequence[str]]
) -> st.SearchStrategy[dict[str, Any]]:
    root = schema.query_type if kind == "query" else schema.mutation_type
    assert root is not None
    args = root.fields[name].args
    return values_for({a: (v.type, graphql.is_required_argument(v)) for a, v in args.items()}, pool)


def values_for(
    declared: dict[str, tuple[graphql.GraphQLInputType, bool]], pool: Callable[[], Sequence[str]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Values for named inputs given as (type, required): the required ones always, the others
    sometimes; now and then any of them is left out (a required one then fails coercion)."""
    required = {n: typed(t, pool) for n, (t, needed) in declared.items() if needed}
    optional = {n: typed(t, pool) for n, (t, needed) in declared.items() if not needed}
    complete = st.fixed_dictionaries(required, optional=optional)
    return values.weighted((6, complete), (1, st.fixed_dictionaries({}, optional={**required, **optional})))
