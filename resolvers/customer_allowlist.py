"""What a customer session may select: one allowlist of (type, field) pairs, enforced by a
validation rule before anything runs.

A customer signed in by link is a stranger to the helpdesk's workings. Rather than teach every
agent field to refuse them, a document from a customer session may select only the fields
listed here; any other field anywhere in it (an agent operation, a ticket's history, SLA, tags,
collaborators, an agent's email) refuses the whole document with FORBIDDEN. Row scoping (their
own tickets, PUBLIC comments) is applied beneath, by the loaders and services.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule, get_named_type

CUSTOMER_FIELDS: frozenset[tuple[str, str]] = frozenset(
    (type_name, field)
    for type_name, fields in {
        # Root operations a customer may run.
        "Query": (
            "currentCustomer node ticket knowledgeArticle knowledgeArticles searchArticles suggestArticles ticketFields"
        ),
        "Mutation": (
            "requestCustomerSignIn customerSignIn addCustomerReply reopenTicket rateTicket rateArticle "
            "submitWebForm submitSatisfactionSurvey"
        ),
        "Subscription": "ticketEvents",
        # Their own tickets, as the customer sees them (no tags, sentiment, group, SLA, history,
        # collaborators, mailbox, parent, sub-tickets or links: the helpdesk's own work).
        "Ticket": (
            "id number subject description status priority channel category customFields externalRef language "
            "version createdAt updatedAt firstRespondedAt resolvedAt closedAt customer assignee comments "
            "attachments satisfaction suggestedArticles"
        ),
        "TicketConnection": "edges pageInfo totalCount",
        "TicketEdge": "cursor node",
        # PUBLIC comments only (scoped beneath); not the mail plumbing.
        "Comment": "id body visibility createdAt authorAgent authorCustomer attachments",
        "CommentConnection": "edges pageInfo totalCount",
        "CommentEdge": "cursor node",
        "Attachment": "id filename contentType size sha256 createdAt url",
        "SatisfactionRating": "score speed professionalism attitude comment ratedAt",
        # Who answers them: a name, never an email.
        "Agent": "id name",
        # Their own profile and tickets.
        "Customer": "id name email phone company language createdAt tickets",
        # ticketEvents: STATUS_CHANGED and PUBLIC COMMENTED of their own ticket.
        "TicketEvent": "id cursor type data occurredAt ticket actorAgent actorCustomer",
        # Published articles (what anonymous readers get).
        "KnowledgeArticle": (
            "id title body category tags language status viewCount helpfulCount notHelpfulCount createdAt "
            "updatedAt publishedAt author"
        ),
        "KnowledgeArticleConnection": "edges pageInfo totalCount",
        "KnowledgeArticleEdge": "cursor node",
        "ArticleMatch": "article score snippet",
        # The defined fields they may fill in (visibleToCustomer ones only, scoped beneath): what a
        # form needs to show them, not when the helpdesk requires them later (requiredForStatus).
        "TicketFieldDefinition": "id key label type options pattern requiredOnCreate categories position",
        # Payloads of the mutations above.
        "RequestSignInPayload": "accepted userErrors",
        "CustomerSignInPayload": "token customer userErrors",
        "CommentPayload": "comment ticket userErrors",
        "TicketPayload": "ticket userErrors",
        "ArticlePayload": "article userErrors",
        "WebFormPayload": "ticketNumber userErrors",
        "SurveyPayload": "rating userErrors",
        "UserError": "field message code",
        "PageInfo": "hasNextPage hasPreviousPage startCursor endCursor",
        "Node": "id",
    }.items()
    for field in fields.split()
)


def customer_may_select(type_name: str, field: str) -> bool:
    """Introspection (the schema is public) and __typename anywhere; otherwise the allowlist."""
    return field.startswith("__") or type_name.startswith("__") or (type_name, field) in CUSTOMER_FIELDS


class CustomerFieldAllowlist(ValidationRule):
    """Refuses, with FORBIDDEN, every selected field a customer session may not read."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        parent = self.context.get_parent_type()
        if parent is None:
            return  # an unknown field: graphql-core's own rules report it
        type_name = get_named_type(parent).name
        if not customer_may_select(type_name, node.name.value):
            self.report_error(
                GraphQLError(
                    f"a customer session may not read {type_name}.{node.name.value}",
                    node,
                    extensions={"code": "FORBIDDEN"},
                )
            )
