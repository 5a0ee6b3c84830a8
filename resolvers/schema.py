"""Builds the Strawberry schema with its limits."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types

from app.settings import Settings
from resolvers.extensions import LoadersPerOperation, MaskUnexpectedErrors, RejectNulCharacters
from resolvers.knowledge import KnowledgeMutation, KnowledgeQuery
from resolvers.mutation import Mutation
from resolvers.query import Query
from resolvers.reports import ReportQuery
from resolvers.routing import RoutingMutation, RoutingQuery
from resolvers.sla import SlaMutation, SlaQuery
from resolvers.subscription import RealtimeQuery, Subscription
from resolvers.ticket_work import TicketWorkMutation


class HelpdeskSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Expected errors (bad input, UNAUTHENTICATED) are not worth a traceback in the log;
        # unexpected ones are logged by MaskUnexpectedErrors with the request id.
        return None


def build_schema(settings: Settings) -> strawberry.Schema:
    return HelpdeskSchema(
        query=merge_types("Query", (Query, RoutingQuery, RealtimeQuery, SlaQuery, KnowledgeQuery, ReportQuery)),
        subscription=Subscription,
        mutation=merge_types(
            "Mutation", (Mutation, TicketWorkMutation, RoutingMutation, SlaMutation, KnowledgeMutation)
        ),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            RejectNulCharacters,
            LoadersPerOperation,
            MaskUnexpectedErrors,
        ],
    )
