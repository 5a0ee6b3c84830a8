"""Builds the Strawberry schema with its limits."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from contextlib import aclosing
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, StreamResult
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.settings import Settings
from resolvers.automations import AutomationMutation, AutomationQuery
from resolvers.customer_data import CustomerDataMutation, CustomerDataQuery
from resolvers.customer_sign_in import CustomerSignInMutation, CustomerSignInQuery
from resolvers.document_limits import DocumentLimits
from resolvers.email import EmailMutation, EmailQuery
from resolvers.event_results import EVENT_RESULTS
from resolvers.extensions import LoadersPerOperation, MaskUnexpectedErrors, RejectNulCharacters, mask_unexpected
from resolvers.knowledge import KnowledgeMutation, KnowledgeQuery
from resolvers.macros import MacroMutation, MacroQuery
from resolvers.mutation import Mutation
from resolvers.notifications import NotificationMutation, NotificationQuery
from resolvers.query import Query
from resolvers.query_cost import QueryCostLimiter
from resolvers.reports import ReportQuery
from resolvers.routing import RoutingMutation, RoutingQuery
from resolvers.sla import SlaMutation, SlaQuery
from resolvers.subscription import RealtimeQuery, Subscription
from resolvers.surveys import SurveyMutation
from resolvers.ticket_fields import TicketFieldMutation, TicketFieldQuery
from resolvers.ticket_work import TicketWorkMutation
from resolvers.validation import DocumentValidation, ParseDocument, ValidateDocument
from resolvers.web_form import WebFormMutation
from resolvers.webhooks import WebhookMutation, WebhookQuery
from schema.common import SCALARS


class PerEventMemoExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core 3.3 gives each subscription event a shallow copy of the subscription's
    executor, sharing its memo of collected subfields. The memo's keys are per-event lists,
    kept alive with their values, so it grew with every event for the subscription's whole
    life (a leak the soak found). Each event gets a memo of its own.

    An event's selection is resolved once per distinct (document, variables, caller, event)
    across the process's subscribers (resolvers/event_results.py)."""

    _shared_as: Hashable | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._shared_as = EVENT_RESULTS.key(  # type: ignore[attr-defined]
            self.operation, self.variable_values.coerced, self.context_value, payload
        )
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._shared_as
        if key is None:
            return super().execute_operation(serially)
        resolve = super().execute_operation
        return EVENT_RESULTS.shared(key, lambda: resolve(serially))


class HelpdeskSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Expected errors (bad input, UNAUTHENTICATED) are not worth a traceback in the log;
        # unexpected ones are logged by MaskUnexpectedErrors with the request id.
        return None

    def __init__(self, *args: Any, validation: DocumentValidation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validation = validation

    def close(self) -> None:
        """Stops the validation worker threads (the app's lifespan calls it on shutdown)."""
        self.validation.close()

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
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )
        _mask(result, context_value)
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        results = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        return _masked_stream(results, context_value)


def _mask(result: object, context: Any) -> None:
    """An exception raised by an extension's hook (a limit, the NUL check, validation) leaves the
    operation before MaskUnexpectedErrors sees the result: Strawberry then answers with the
    exception's own message. It is masked here like any other."""
    if isinstance(result, ExecutionResult) and result.errors:
        request_id = getattr(context, "request_id", None)
        result.errors = [mask_unexpected(error, request_id) for error in result.errors]


async def _masked_stream(results: StreamResult, context: Any) -> StreamResult:
    async with aclosing(results):
        async for result in results:
            _mask(result, context)
            yield result


def build_schema(settings: Settings) -> HelpdeskSchema:
    """The schema; `close()` it when the app stops."""
    validation = DocumentValidation(
        DocumentLimits(
            max_expanded_fields=settings.max_expanded_fields,
            max_fragment_spreads=settings.max_fragment_spreads,
            max_selection_nesting=settings.max_selection_nesting,
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
        )
    )
    return HelpdeskSchema(
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=PerEventMemoExecutor,
        query=merge_types(
            "Query",
            (
                Query,
                RoutingQuery,
                RealtimeQuery,
                SlaQuery,
                KnowledgeQuery,
                ReportQuery,
                EmailQuery,
                AutomationQuery,
                MacroQuery,
                NotificationQuery,
                WebhookQuery,
                CustomerDataQuery,
                TicketFieldQuery,
                CustomerSignInQuery,
            ),
        ),
        subscription=Subscription,
        mutation=merge_types(
            "Mutation",
            (
                Mutation,
                TicketWorkMutation,
                RoutingMutation,
                SlaMutation,
                KnowledgeMutation,
                EmailMutation,
                AutomationMutation,
                MacroMutation,
                NotificationMutation,
                WebhookMutation,
                CustomerSignInMutation,
                CustomerDataMutation,
                TicketFieldMutation,
                WebFormMutation,
                SurveyMutation,
            ),
        ),
        validation=validation,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParseDocument(validation),
            # The size limits, depth and aliases, then graphql-core's rules (off the event loop).
            lambda: ValidateDocument(validation),
            lambda: QueryCostLimiter(max_cost=settings.max_query_cost, max_page_size=settings.max_page_size),
            RejectNulCharacters,
            LoadersPerOperation,
            MaskUnexpectedErrors,
        ],
    )
