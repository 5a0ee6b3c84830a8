"""The customer allowlist names only real fields: each (type, field) is in the schema the server
serves, or in the contract while its work is pending (tests/contract_pending.txt), so a rename
can never leave a customer with a stale entry nobody checks."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, build_schema

from app.settings import Settings
from resolvers.customer_allowlist import CUSTOMER_FIELDS, customer_may_select
from resolvers.schema import build_schema as build_helpdesk_schema

ROOT = Path(__file__).resolve().parents[2]


def _fields(schema: GraphQLSchema) -> set[tuple[str, str]]:
    return {
        (name, field)
        for name, graphql_type in schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType)
        for field in graphql_type.fields
    }


def test_every_allowed_field_exists() -> None:
    served = _fields(build_helpdesk_schema(Settings(database_url="postgresql://unused"))._schema)
    contract = _fields(build_schema((ROOT / "schema" / "contract.graphql").read_text()))
    pending = (ROOT / "tests" / "contract_pending.txt").read_text()
    for type_name, field in sorted(CUSTOMER_FIELDS - served):
        # Not served yet: it must be the contract's, and its type or field listed as pending.
        assert (type_name, field) in contract, f"{type_name}.{field} is neither served nor in the contract"
        assert f"{type_name}.{field}" in pending or f"{type_name} was removed" in pending, f"{type_name}.{field}"


def test_the_helpdesks_own_work_is_never_allowed() -> None:
    refused = [
        ("Ticket", "history"),
        ("Ticket", "sla"),
        ("Ticket", "tags"),
        ("Ticket", "sentiment"),
        ("Ticket", "group"),
        ("Ticket", "mailbox"),
        ("Ticket", "collaborators"),
        ("Ticket", "collaboratingGroups"),
        ("Ticket", "parent"),
        ("Ticket", "subTickets"),
        ("Ticket", "links"),
        ("Agent", "email"),
        ("Comment", "emailDelivery"),
        ("Query", "tickets"),
        ("Query", "me"),
        ("Mutation", "login"),
        ("Mutation", "addComment"),
        ("Subscription", "assignmentEvents"),
    ]
    assert [pair for pair in refused if customer_may_select(*pair)] == []
    # Introspection stays open: the schema is public.
    assert customer_may_select("Query", "__schema") and customer_may_select("__Type", "fields")
