"""Compiled execution for known query documents.

graphql-core resolves a response field by field: a 50-ticket console page is ~2,000 resolver calls,
each with its own bookkeeping, and that costs more than the SQL behind it. A document the ordinary
executor has answered once without errors is compiled here into a plan: per selected field, the
resolver Strawberry built (or a plain attribute read), its arguments and a leaf serialiser, all
resolved once. Executing a plan walks the selection level by level, calling each field's resolver
for every parent at once, so DataLoaders batch exactly as before and there is no per-field machinery.

Correctness comes first, so the plan only ever takes the easy road:
- queries only, root fields from an allow-list of pure reads (no side effects, nothing tracked);
- object types only (no interfaces or unions), no directives;
- the first execution of a document goes through the ordinary executor, with every limit
  (depth, aliases, tokens, cost) applied; only a document that answered without errors is compiled;
- at run time anything unusual — a variable that does not coerce, a NUL character, a resolver
  that raises, a null in a non-null field — abandons the plan and the ordinary executor answers
  the request from the start, with its errors exactly as always.
The same resolvers and loaders run on both paths, so the answers are the same (a test compares them
on every document in frontend_examples/).

One step further for the ticket list: each field of `tickets { edges { node { ... } } }` with an
SQL form (its declaration, app/reads/declarations.py) is written as JSON by the page's own
statement (app/reads/node_json.py). A node whose fields all have one is sent as PostgreSQL wrote
it; the fields that have none are resolved in Python for the whole page and put in their places,
so the planner falls back per field, not per document (tests/api/test_planned_differential.py
compares both paths on generated selections).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    is_leaf_type,
    is_object_type,
    parse,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import VariableNode
from graphql.pyutils import is_awaitable
from prometheus_client import Counter
from sqlalchemy import ColumnElement
from strawberry.types import Info
from strawberry.types.arguments import convert_arguments

from app.reads.declarations import WRAP, Computed, Loaded
from app.reads.node_json import JsonField, Unsupported, node_json
from resolvers.extensions import contains_nul
from resolvers.query import tickets_page
from resolvers.query_cost import operation_cost
from schema.fields import declaration_of, record_type_of

# Root query fields that only read: running one of them and then, if the plan gives up, running the
# ordinary executor as well changes nothing. (Article search is not here: it records the search.)
PURE_ROOT_FIELDS = frozenset(
    {
        "me",
        "ticket",
        "ticketByNumber",
        "tickets",
        "customer",
        "customers",
        "agents",
        "groups",
        "wallboard",
        "slaPolicies",
        "businessCalendars",
        "routingRules",
        "apiTokens",
    }
)

# Strawberry marks resolvers that only read an attribute (fields without a resolver function).
_DEFAULT_RESOLVER_MARK = "_is_default"

COMPILED = Counter(
    "helpdesk_graphql_compiled_total",
    "GraphQL requests for compiled documents, by outcome (served, or fell back to the ordinary executor)",
    ["outcome"],
)


class Abandon(Exception):
    """The plan cannot answer this request; the ordinary executor will."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """The batch form of a Loaded field (app/reads/declarations.py): for a whole level of parents,
    one DataLoader `load_many` instead of a resolver call, a coroutine and a loader future per
    parent. The loader, key and wrapper are the declaration's own, so the answers are the same."""

    loader: str  # the attribute of the request's loaders
    key: Callable[[Any], Any]  # parent -> loader key; None: the field is null
    wrap: Callable[[Any], Any]  # loaded record -> the field's Strawberry object

    @classmethod
    def of(cls, declared: Loaded, wrap: Callable[[Any], Any]) -> Lookup:
        record_key = attrgetter(declared.key)
        return cls(declared.loader, lambda parent: record_key(parent.record), wrap)

    async def resolve(self, context: Any, parents: list[Any]) -> list[Any]:
        keys = [self.key(p) for p in parents]
        wanted = [k for k in keys if k is not None]
        records = await getattr(context.loaders, self.loader).load_many(wanted) if wanted else []
        found = iter(records)
        wrap = self.wrap
        out: list[Any] = []
        for k in keys:
            record = None if k is None else next(found)
            out.append(wrap(record) if record is not None else None)
        return out


@dataclass(slots=True)
class FieldPlan:
    key: str
    name: str
    definition: GraphQLField | None  # None for __typename
    node: FieldNode
    type: GraphQLOutputType | None
    attribute: str | None  # a plain attribute read, when the field has no resolver function
    resolve: Callable[..., Any] | None
    lookup: Lookup | None  # the batch form of a Loaded field
    static_arguments: dict[str, Any] | None  # None: they depend on the request's variables
    children: list[FieldPlan] = field(default_factory=list)
    typename: str | None = None
    json_nodes: ColumnElement[Any] | None = None  # Query.tickets whose nodes PostgreSQL writes
    passthrough: bool = False  # a node written by PostgreSQL: sent as it is
    # A node PostgreSQL writes but for these fields, which have no SQL form: Python resolves them.
    python_fields: list[FieldPlan] | None = None
    json_with_records: bool = False  # Query.tickets: each node's record comes with its JSON


@dataclass(slots=True)
class Plan:
    schema: GraphQLSchema
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    root_type: GraphQLObjectType
    fields: list[FieldPlan]
    # The cost limit (resolvers/query_cost.py) depends on the page sizes a request's variables
    # ask for; None when even the largest pages stay under it.
    within_cost: Callable[[dict[str, Any] | None], bool] | None = None


class NotCompilable(Exception):
    pass


def compile_document(schema: GraphQLSchema, query: str, operation_name: str | None) -> Plan | None:
    """The plan for one operation of a (valid) document, or None when it has to stay ordinary."""
    try:
        document = parse(query, no_location=True)
        operation = _operation(document, operation_name)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if operation.directives or any(v.directives for v in operation.variable_definitions or ()):
            raise NotCompilable
        root_type = schema.query_type
        if root_type is None:
            raise NotCompilable
        fields = _compile_selection(schema, root_type, [operation.selection_set], fragments)
        if any(f.name not in PURE_ROOT_FIELDS for f in fields):
            raise NotCompilable
        for f in fields:
            if f.name == "tickets":
                _write_nodes_in_sql(f)
        return Plan(schema, document, operation, fragments, root_type, fields)
    except NotCompilable:
        return None


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        raise NotCompilable
    return operations[0]


def _collect(
    object_type: GraphQLObjectType,
    selection_sets: Sequence[SelectionSetNode],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> OrderedDict[str, list[FieldNode]]:
    """Fields by response key, in the order the executor would produce them (fragments inlined)."""
    grouped: OrderedDict[str, list[FieldNode]] = OrderedDict()

    def visit(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompilable  # @skip/@include depend on variables
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if selection.type_condition and selection.type_condition.name.value != object_type.name:
                    raise NotCompilable
                visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None or fragment.type_condition.name.value != object_type.name:
                    raise NotCompilable
                visit(fragment.selection_set)

    for selection_set in selection_sets:
        visit(selection_set)
    return grouped


def _compile_selection(
    schema: GraphQLSchema,
    object_type: GraphQLObjectType,
    selection_sets: Sequence[SelectionSetNode],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> list[FieldPlan]:
    plans: list[FieldPlan] = []
    for key, nodes in _collect(object_type, selection_sets, fragments).items():
        node = nodes[0]
        name = node.name.value
        if name == "__typename":
            plans.append(FieldPlan(key, name, None, node, None, None, None, None, {}, typename=object_type.name))
            continue
        if name.startswith("__"):
            raise NotCompilable  # introspection stays with the ordinary executor
        definition = object_type.fields.get(name)
        if definition is None:
            raise NotCompilable
        named = _named_type(definition.type)
        resolve = definition.resolve
        attribute = None
        if resolve is None or getattr(resolve, _DEFAULT_RESOLVER_MARK, False):
            strawberry_field = (definition.extensions or {}).get("strawberry-definition")
            attribute = getattr(strawberry_field, "python_name", None) or name
            resolve = None
        uses_variables = any(_has_variable(argument.value) for n in nodes for argument in n.arguments or ())
        static = None if uses_variables else get_argument_values(definition, node)
        lookup = _lookup(definition)
        plan = FieldPlan(key, name, definition, node, definition.type, attribute, resolve, lookup, static)
        if is_object_type(named):
            assert isinstance(named, GraphQLObjectType)
            plan.children = _compile_selection(
                schema, named, [n.selection_set for n in nodes if n.selection_set], fragments
            )
        elif not is_leaf_type(named):
            raise NotCompilable  # interfaces and unions need the executor's type resolution
        plans.append(plan)
    return plans


def _lookup(definition: GraphQLField) -> Lookup | None:
    strawberry_field = (definition.extensions or {}).get("strawberry-definition")
    declared = declaration_of(strawberry_field) if strawberry_field is not None else None
    if not isinstance(declared, Loaded) or definition.args:
        return None
    assert strawberry_field is not None  # it declared something
    return Lookup.of(declared, strawberry_field.metadata[WRAP])


# Leaf scalars whose JSON app.reads.node_json writes as the executor would.
_SQL_SCALARS = frozenset({"String", "Int", "Boolean", "DateTime", "JSON"})


def _write_nodes_in_sql(tickets: FieldPlan) -> None:
    """Let PostgreSQL write the nodes of this Query.tickets: every field with an SQL form, the
    others (if any) resolved in Python for the page's tickets and put in their places."""
    edges = [c for c in tickets.children if c.name == "edges"]
    nodes = [c for c in edges[0].children if c.name == "node"] if len(edges) == 1 else []
    if len(nodes) != 1 or nodes[0].type is None:
        return
    node = nodes[0]
    node_type = _named_type(node.type)
    written: list[JsonField] = []
    python: list[FieldPlan] = []
    for child in node.children:
        try:
            written.append(_json_field(child, node_type))
        except Unsupported:
            python.append(child)
    if not written:
        return
    try:
        tickets.json_nodes = node_json("tickets", written)
    except Unsupported:
        return
    if python:
        node.python_fields = python
        tickets.json_with_records = True
    else:
        node.passthrough = True


def _json_fields(plans: list[FieldPlan], object_type: GraphQLObjectType) -> tuple[JsonField, ...]:
    return tuple(_json_field(f, object_type) for f in plans)


def _json_field(f: FieldPlan, parent_type: GraphQLObjectType) -> JsonField:
    """How app.reads.node_json writes this field, from its declaration; Unsupported when it has
    no SQL form."""
    if f.type is None:
        return JsonField(f.key, f.name, "typename", type_name=parent_type.name)
    if f.static_arguments is None or f.definition is None or f.definition.args:
        raise Unsupported(f.name)
    record = record_type_of(_origin(parent_type))
    declared = declaration_of(f.definition.extensions["strawberry-definition"])
    named = _named_type(f.type)
    if isinstance(declared, Computed) or (isinstance(declared, Loaded) and declared.sql is None):
        raise Unsupported(f.name)
    if isinstance(declared, Loaded):
        if declared.sql == "row":
            target = record_type_of(_origin(named))
            if target is None:
                raise Unsupported(f.name)
            children = _json_fields(f.children, named)
            return JsonField(f.key, f.name, "row", column=declared.key, table=target.table, children=children)
        return JsonField(f.key, f.name, "form", form=declared.sql, children=_json_fields(f.children, named))
    if f.attribute is None:
        raise Unsupported(f.name)  # a resolver that declares nothing
    if is_object_type(named):
        if record is not None:
            raise Unsupported(f.name)  # a record's columns are leaves
        return JsonField(f.key, f.name, "object", children=_json_fields(f.children, named))
    column = declared.name if declared is not None else f.attribute
    if record is None:
        return JsonField(f.key, f.name, "value")  # a named form's own vocabulary
    if isinstance(named, GraphQLEnumType):
        if any(str(value.value) != name for name, value in named.values.items()):
            raise Unsupported(named.name)
        return JsonField(f.key, f.name, "value", column=column)
    if named.name == "ID":
        if column != "id" or not record.node:
            raise Unsupported(f.name)
        return JsonField(f.key, f.name, "global_id", column=column, type_name=parent_type.name)
    if named.name not in _SQL_SCALARS:
        raise Unsupported(named.name)
    return JsonField(f.key, f.name, "datetime" if named.name == "DateTime" else "value", column=column)


def _origin(object_type: Any) -> Any:
    definition = (getattr(object_type, "extensions", None) or {}).get("strawberry-definition")
    return getattr(definition, "origin", None)


def _named_type(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _has_variable(value: Any) -> bool:
    if isinstance(value, VariableNode):
        return True
    for attribute in ("values", "fields"):
        for item in getattr(value, attribute, None) or ():
            if _has_variable(getattr(item, "value", item)):
                return True
    return False


async def execute_plan(plan: Plan, context: Any, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The `data` of the response, or Abandon."""
    if variables and contains_nul(variables):
        raise Abandon
    if plan.within_cost is not None and not plan.within_cost(variables):
        raise Abandon
    coerced = get_variable_values(plan.schema, plan.operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        raise Abandon
    run = _Run(plan, context, coerced)
    try:
        return (await run.objects(plan.fields, [None], plan.root_type))[0]
    except Abandon:
        raise
    except Exception as exc:  # a resolver error: the ordinary executor reports it properly
        raise Abandon from exc


class _Run:
    __slots__ = ("context", "plan", "variables")

    def __init__(self, plan: Plan, context: Any, variables: Any) -> None:
        self.plan = plan
        self.context = context
        self.variables = variables

    async def objects(
        self, fields: list[FieldPlan], parents: list[Any], parent_type: GraphQLObjectType
    ) -> list[dict[str, Any]]:
        """Complete the selection for every parent at once."""
        resolved: list[Any] = [self.resolve(f, parents, parent_type) for f in fields]
        await _settle(resolved)
        completions: list[Any] = [
            values if f.type is None else self.complete(f, f.type, values)
            for f, values in zip(fields, resolved, strict=True)
        ]
        await _settle(completions)
        out: list[dict[str, Any]] = [{} for _ in parents]
        for f, values in zip(fields, completions, strict=True):
            key = f.key
            for row, value in zip(out, values, strict=True):
                row[key] = value
        return out

    def resolve(
        self, f: FieldPlan, parents: list[Any], parent_type: GraphQLObjectType
    ) -> list[Any] | Awaitable[list[Any]]:
        if f.typename is not None:
            return [f.typename] * len(parents)
        if f.attribute is not None:
            attribute = f.attribute
            return [getattr(p, attribute) for p in parents]
        if f.lookup is not None:
            return f.lookup.resolve(self.context, parents)
        if f.json_nodes is not None:
            return self._tickets_with_json_nodes(f, f.json_nodes, parent_type)
        assert f.resolve is not None and f.definition is not None
        arguments = f.static_arguments
        if arguments is None:
            arguments = get_argument_values(f.definition, f.node, self.variables)
        info = self.info(f, parent_type)
        results = [f.resolve(p, info, **arguments) for p in parents]
        if any(is_awaitable(r) for r in results):
            return self._gather(results)
        return results

    async def _tickets_with_json_nodes(
        self, f: FieldPlan, node_json: ColumnElement[Any], parent_type: GraphQLObjectType
    ) -> list[Any]:
        """Query.tickets as its resolver answers it, but with nodes PostgreSQL wrote."""
        assert f.definition is not None
        arguments = f.static_arguments
        if arguments is None:
            arguments = get_argument_values(f.definition, f.node, self.variables)
        strawberry_field = f.definition.extensions["strawberry-definition"]
        strawberry_schema = self.plan.schema._strawberry_schema  # type: ignore[attr-defined]
        kwargs = convert_arguments(
            arguments,
            strawberry_field.arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )
        info: Info[Any, Any] = Info(_raw_info=self.info(f, parent_type), _field=strawberry_field)
        return [await tickets_page(info, **kwargs, node_json=node_json, with_records=f.json_with_records)]

    @staticmethod
    async def _gather(results: list[Any]) -> list[Any]:
        return list(await asyncio.gather(*(r if is_awaitable(r) else _ready(r) for r in results)))

    def info(self, f: FieldPlan, parent_type: GraphQLObjectType) -> GraphQLResolveInfo:
        # Our resolvers read only info.context; the rest is filled for Strawberry's wrapper.
        assert f.type is not None
        return GraphQLResolveInfo(
            f.name,
            [f.node],
            f.type,
            parent_type,
            None,  # type: ignore[arg-type]
            self.plan.schema,
            self.plan.fragments,
            None,
            self.plan.operation,
            self.variables,
            self.context,
            is_awaitable,
            None,
            None,  # type: ignore[arg-type]
        )

    def complete(self, f: FieldPlan, type_: GraphQLOutputType, values: list[Any]) -> list[Any] | Awaitable[list[Any]]:
        if isinstance(type_, GraphQLNonNull):
            if any(v is None for v in values):
                raise Abandon  # the executor turns this into an error and nulls the parent
            return self.complete(f, type_.of_type, values)
        if isinstance(type_, GraphQLList):
            return self._complete_lists(f, type_.of_type, values)
        if is_leaf_type(type_):
            serialize = type_.serialize
            return [None if v is None else serialize(v) for v in values]
        if f.passthrough:
            return values
        assert isinstance(type_, GraphQLObjectType)
        if f.python_fields is not None:
            return self._complete_written(f, f.python_fields, type_, values)
        return self._complete_objects(f, type_, values)

    async def _complete_written(
        self, f: FieldPlan, python_fields: list[FieldPlan], type_: GraphQLObjectType, values: list[Any]
    ) -> list[Any]:
        """Nodes PostgreSQL wrote all but `python_fields` of: those resolved for the page's objects
        at once, and each field put back in its place in the selection's order."""
        written = [orjson.loads(text) for text, _ in values]
        resolved = await self.objects(python_fields, [obj for _, obj in values], type_)
        from_python = {c.key for c in python_fields}
        keys = [(c.key, c.key in from_python) for c in f.children]
        return [
            {key: (r if python else w)[key] for key, python in keys} for w, r in zip(written, resolved, strict=True)
        ]

    async def _complete_lists(self, f: FieldPlan, item_type: GraphQLOutputType, values: list[Any]) -> list[Any]:
        flat: list[Any] = []
        bounds: list[tuple[int, int] | None] = []
        for value in values:
            if value is None:
                bounds.append(None)
                continue
            start = len(flat)
            flat.extend(value)
            bounds.append((start, len(flat)))
        completed = self.complete(f, item_type, flat)
        if inspect.isawaitable(completed):
            completed = await completed
        return [None if b is None else completed[b[0] : b[1]] for b in bounds]

    async def _complete_objects(self, f: FieldPlan, type_: GraphQLObjectType, values: list[Any]) -> list[Any]:
        present = [i for i, v in enumerate(values) if v is not None]
        rows = await self.objects(f.children, [values[i] for i in present], type_)
        out: list[Any] = [None] * len(values)
        for i, row in zip(present, rows, strict=True):
            out[i] = row
        return out


def _cost_check(
    plan: Plan, operation_name: str | None, max_cost: int, max_page_size: int
) -> Callable[[dict[str, Any] | None], bool] | None:
    largest = {v.variable.name.value: max_page_size for v in plan.operation.variable_definitions or ()}
    if operation_cost(plan.schema, plan.document, operation_name, largest, max_page_size) <= max_cost:
        return None

    def within(variables: dict[str, Any] | None) -> bool:
        return operation_cost(plan.schema, plan.document, operation_name, variables, max_page_size) <= max_cost

    return within


async def _settle(items: list[Any]) -> None:
    """Replace the awaitables in `items` by their results, awaited concurrently."""
    pending = [i for i, item in enumerate(items) if inspect.isawaitable(item)]
    if pending:
        done = await asyncio.gather(*(items[i] for i in pending))
        for i, value in zip(pending, done, strict=True):
            items[i] = value


async def _ready(value: Any) -> Any:
    return value


class CompiledDocuments:
    """Plans by (query text, operation name), learnt from ordinary executions; bounded LRU."""

    def __init__(self, schema: GraphQLSchema, capacity: int = 256) -> None:
        self._schema = schema
        self._capacity = capacity
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def lookup(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def knows(self, query: str, operation_name: str | None) -> bool:
        return (query, operation_name) in self._plans

    def learn(self, query: str, operation_name: str | None, max_cost: int, max_page_size: int) -> Plan | None:
        """Called after the ordinary executor answered this document without errors."""
        key = (query, operation_name)
        if key not in self._plans:
            plan = compile_document(self._schema, query, operation_name)
            if plan is not None:
                plan.within_cost = _cost_check(plan, operation_name, max_cost, max_page_size)
            self._plans[key] = plan
            while len(self._plans) > self._capacity:
                self._plans.popitem(last=False)
        return self._plans[key]


__all__ = ["Abandon", "CompiledDocuments", "Plan", "compile_document", "execute_plan"]
