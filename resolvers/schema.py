"""Builds the Strawberry schema with its limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.settings import Settings
from resolvers.extensions import LoadersPerOperation, MaskUnexpectedErrors, RejectNulCharacters
from resolvers.knowledge import KnowledgeMutation, KnowledgeQuery
from resolvers.mutation import Mutation
from resolvers.query import Query
from resolvers.query_cost import QueryCostLimiter
from resolvers.reports import ReportQuery
from resolvers.routing import RoutingMutation, RoutingQuery
from resolvers.sla import SlaMutation, SlaQuery
from resolvers.subscription import RealtimeQuery, Subscription
from resolvers.ticket_work import TicketWorkMutation
from schema.common import SCALARS


class PerEventMemoExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core 3.3 gives each subscription event a shallow copy of the subscription's
    executor, sharing its memo of collected subfields. The memo's keys are per-event lists,
    kept alive with their values, so it grew with every event for the subscription's whole
    life (a leak the soak found). Each event gets a memo of its own."""

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


class HelpdeskSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Expected errors (bad input, UNAUTHENTICATED) are not worth a traceback in the log;
        # unexpected ones are logged by MaskUnexpectedErrors with the request id.
        return None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # Only the HTTP endpoint executes; a subscription there has no stream to deliver on
        # (they are served over the websocket), so it is refused as a bad request.
        allowed = set(allowed_operation_types or (OperationType.QUERY, OperationType.MUTATION))
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )


def build_schema(settings: Settings) -> strawberry.Schema:
    return HelpdeskSchema(
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=PerEventMemoExecutor,
        query=merge_types("Query", (Query, RoutingQuery, RealtimeQuery, SlaQuery, KnowledgeQuery, ReportQuery)),
        subscription=Subscription,
        mutation=merge_types(
            "Mutation", (Mutation, TicketWorkMutation, RoutingMutation, SlaMutation, KnowledgeMutation)
        ),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: QueryCostLimiter(max_cost=settings.max_query_cost, max_page_size=settings.max_page_size),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            RejectNulCharacters,
            LoadersPerOperation,
            MaskUnexpectedErrors,
        ],
    )
