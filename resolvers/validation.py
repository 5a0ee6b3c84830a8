"""Validation of a request's document: the size limits first, then graphql-core's rules off the
event loop, with a bounded cost and a cache.

The limits (resolvers/document_limits.py) take one linear pass and refuse a document that
would expand into too much work. What passes is validated by graphql-core in a worker thread,
so a document that is expensive to validate delays its own answer, not every other request on
the event loop. graphql-core caps the work of its most expensive rule (comparing fields that
share a response name: quadratic in their number) at a budget worth about two seconds of CPU;
ours is a small fraction of that, far above what any of our clients' documents spend.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, ValidationContext, parse
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.customer_allowlist import CustomerFieldAllowlist
from resolvers.document_limits import DocumentLimits, document_refusals
from schema import errors

# Units of graphql-core's overlapping-fields budget (about 3.6 us each): at most ~7 ms of CPU.
# The frontend examples and GraphiQL's introspection query spend at most 45.
OVERLAP_BUDGET = 2_000
WORKERS = 1


class BudgetedOverlappingFields(OverlappingFieldsCanBeMergedRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = OVERLAP_BUDGET


def _with_budget(rules: Sequence[type[ASTValidationRule]]) -> tuple[type[ASTValidationRule], ...]:
    return tuple(BudgetedOverlappingFields if rule is OverlappingFieldsCanBeMergedRule else rule for rule in rules)


def _explain_abort(error: GraphQLError) -> GraphQLError:
    # graphql-core's own message for running out of budget says nothing about why.
    if isinstance(error, ValidationAbortedError) and error.message == "Validation aborted.":
        return errors.too_complex(
            "the document is too complex to validate: too many fields with the same name to compare, or "
            "fragments nested too deeply; use fewer repeated fields",
        )
    return error


class DocumentValidation:
    """One per schema, shared by its requests: the limits, the validation results of recent
    documents by their text, and the worker threads."""

    def __init__(self, limits: DocumentLimits, cache_size: int = 256) -> None:
        self.limits = limits
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, tuple[type[ASTValidationRule], ...]], list[GraphQLError]] = OrderedDict()
        self._parsed: OrderedDict[tuple[str, tuple[tuple[str, Any], ...]], DocumentNode] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="graphql-validation")
            return self._executor

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    async def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        query: str | None,
        rules: Sequence[type[ASTValidationRule]],
    ) -> list[GraphQLError]:
        """The validation errors of `document` (empty when it is valid)."""
        key = (query, tuple(rules)) if query is not None else None
        if key is not None and (cached := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return cached
        errors = await asyncio.get_running_loop().run_in_executor(
            self._workers(), self._validate, schema, document, _with_budget(rules)
        )
        if key is not None:
            self._cache[key] = errors
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return errors

    def _validate(
        self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        """The limits' one pass, then graphql-core's rules (in the worker thread)."""
        refused = document_refusals(document, self.limits)
        if refused:
            return refused
        return [_explain_abort(error) for error in validate_document(schema, document, rules)]

    async def parse(self, query: str, options: dict[str, Any]) -> DocumentNode | None:
        """The parsed document, from the cache or parsed in the worker thread; None when it does
        not parse (the caller's own parse then reports the syntax error)."""
        key = (query, tuple(sorted(options.items())))
        if (cached := self._parsed.get(key)) is not None:
            self._parsed.move_to_end(key)
            return cached
        try:
            document = await asyncio.get_running_loop().run_in_executor(
                self._workers(), partial(parse, query, **options)
            )
        except GraphQLError:
            return None
        self._parsed[key] = document
        if len(self._parsed) > self.cache_size:
            self._parsed.popitem(last=False)
        return document


class ParseDocument(SchemaExtension):
    """Parses off the event loop, with a cache, in place of Strawberry's own parse (and of its
    ParserCache, which parses on the loop): a document of thousands of tokens costs its own
    request some milliseconds, not every other request."""

    def __init__(self, validation: DocumentValidation) -> None:
        self.validation = validation

    async def on_parse(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query:
            ctx.graphql_document = await self.validation.parse(ctx.query, dict(ctx.parse_options))
        yield


class ValidateDocument(SchemaExtension):
    """Validates in place of Strawberry's own step (which then has nothing left to do)."""

    def __init__(self, validation: DocumentValidation) -> None:
        self.validation = validation

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            rules = tuple(ctx.validation_rules)
            # A customer session's documents also pass the allowlist; the rules are part of the
            # cache key, so an agent's verdict on a document is never served to a customer.
            if getattr(ctx.context, "customer", None) is not None:
                rules += (CustomerFieldAllowlist,)
            ctx.pre_execution_errors = await self.validation.validate(
                ctx.schema._schema, ctx.graphql_document, ctx.query, rules
            )
        yield
