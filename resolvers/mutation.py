"""Root Mutation: authenticate, parse, call one service, shape the payload."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import TypeVar

import strawberry
from strawberry.types.unset import UnsetType

from app.domain import enums
from app.services import agents as agent_service
from app.services import auth as auth_service
from app.services import customers as customer_service
from app.services import tickets as ticket_service
from resolvers.access import Info, principal_of
from resolvers.payloads import (
    Outcome,
    customer_payload,
    decode_id,
    decode_ids,
    decode_optional_id,
    prime_intake,
    reports_user_errors,
    ticket_payload,
)
from resolvers.uploads import incoming
from schema import ids
from schema.enums import AgentPresence
from schema.inputs import (
    CreateAgentInput,
    CreateCustomerInput,
    CreateGroupInput,
    CreateTicketInput,
    CustomerRef,
    UpdateAgentInput,
    UpdateCustomerInput,
    UpdateTicketInput,
)
from schema.payloads import (
    AgentPayload,
    ApiTokenPayload,
    CustomerPayload,
    DeletePayload,
    GroupPayload,
    LoginPayload,
    TicketPayload,
)
from schema.people import Agent, Group
from schema.tokens import ApiToken

C = TypeVar("C")


def _given(value: object, unset: object) -> object:
    """Strawberry's UNSET (field absent) becomes the service's UNSET (leave unchanged)."""
    return unset if isinstance(value, UnsetType) else value


def _changes(changes: type[C], input: object, unset: object, **decoded: object) -> C:
    """The service's changes from an update input: each field of `changes` read from the input
    attribute of the same name, absent ones as the service's UNSET; `decoded` gives the values
    that need more than copying (ids)."""
    values = {f.name: _given(getattr(input, f.name), unset) for f in fields(changes)}  # type: ignore[arg-type]
    return changes(**{**values, **decoded})


def _customer_ref(ref: CustomerRef) -> customer_service.CustomerRef:
    return customer_service.CustomerRef(
        id=decode_optional_id(ref.id, "Customer", ["input", "customer", "id"]),
        email=ref.email,
        phone=ref.phone,
        name=ref.name,
    )


def new_ticket(input: CreateTicketInput) -> ticket_service.NewTicket:
    return ticket_service.NewTicket(
        subject=input.subject,
        description=input.description,
        channel=enums.Channel(input.channel),
        customer=_customer_ref(input.customer),
        priority=enums.TicketPriority(input.priority) if input.priority else None,
        category=input.category,
        tags=input.tags,
        custom_fields=input.custom_fields,  # type: ignore[arg-type]
        external_ref=input.external_ref,
        language=input.language,
        attachments=incoming(input.attachments),
    )


@strawberry.type
class Mutation:
    # ------------------------------------------------------------ sessions and presence

    @strawberry.mutation
    @reports_user_errors(LoginPayload)
    async def login(self, info: Info, email: str, password: str) -> LoginPayload:
        result = await auth_service.login(info.context.rt, email, password, info.context.client_address)
        return LoginPayload(token=result.token, agent=Agent.of(result.agent))

    @strawberry.mutation
    @reports_user_errors(AgentPayload)
    async def set_presence(self, info: Info, presence: AgentPresence) -> AgentPayload:
        principal = principal_of(info)
        agent = await agent_service.set_presence(info.context.rt, principal, enums.AgentPresence(presence))
        return AgentPayload(agent=Agent.of(agent))

    # ------------------------------------------------------------ customers

    @strawberry.mutation
    @reports_user_errors(CustomerPayload)
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerPayload:
        principal = principal_of(info)
        data = customer_service.CustomerInput(
            name=input.name,
            email=input.email,
            phone=input.phone,
            company=input.company,
            tier=input.tier or enums.CustomerTier.STANDARD,
            language=input.language,
            tags=input.tags,
            external_refs=input.external_refs,
        )
        record = await customer_service.create_customer(info.context.rt, principal, data)
        return customer_payload(info, record)

    @strawberry.mutation
    @reports_user_errors(CustomerPayload)
    async def update_customer(self, info: Info, id: strawberry.ID, input: UpdateCustomerInput) -> CustomerPayload:
        principal = principal_of(info)
        data = _changes(customer_service.CustomerInput, input, customer_service.UNSET)
        pk = decode_id(id, "Customer", ["id"])
        record = await customer_service.update_customer(info.context.rt, principal, pk, data)
        return customer_payload(info, record)

    # ------------------------------------------------------------ tickets

    @strawberry.mutation(description="Retrying with the same idempotencyKey returns the ticket created the first time.")
    @reports_user_errors(TicketPayload)
    async def create_ticket(
        self, info: Info, input: CreateTicketInput, idempotency_key: str | None = None
    ) -> TicketPayload:
        principal = principal_of(info)
        data = new_ticket(input)
        done = await ticket_service.create_ticket_detailed(info.context.rt, principal, data, idempotency_key)
        if done.admitted is None:
            return await ticket_payload(info, done.ticket, Outcome.REPLAYED)
        prime_intake(info, done.admitted)
        return await ticket_payload(info, done.ticket, Outcome.CREATED)

    @strawberry.mutation
    @reports_user_errors(TicketPayload)
    async def update_ticket(
        self, info: Info, id: strawberry.ID, input: UpdateTicketInput, expected_version: int | None = None
    ) -> TicketPayload:
        principal = principal_of(info)
        changes = _changes(ticket_service.TicketChanges, input, ticket_service.UNSET)
        pk = decode_id(id, "Ticket", ["id"])
        record = await ticket_service.update_ticket(info.context.rt, principal, pk, changes, expected_version)
        return await ticket_payload(info, record)

    # ------------------------------------------------------------ administration

    @strawberry.mutation
    @reports_user_errors(AgentPayload)
    async def create_agent(self, info: Info, input: CreateAgentInput) -> AgentPayload:
        principal = principal_of(info)
        data = agent_service.NewAgent(
            name=input.name,
            email=input.email,
            password=input.password,
            role=enums.AgentRole(input.role),
            skills=input.skills,
            languages=input.languages,
            capacity=input.capacity,
            group_ids=decode_ids(
                [str(g) for g in input.group_ids] if input.group_ids is not None else None,
                "Group",
                ["input", "groupIds"],
            ),
        )
        return AgentPayload(agent=Agent.of(await agent_service.create_agent(info.context.rt, principal, data)))

    @strawberry.mutation
    @reports_user_errors(AgentPayload)
    async def update_agent(self, info: Info, id: strawberry.ID, input: UpdateAgentInput) -> AgentPayload:
        principal = principal_of(info)
        unset = agent_service.UNSET
        group_ids = _given(input.group_ids, unset)
        if group_ids is not unset and group_ids is not None:
            group_ids = decode_ids(group_ids, "Group", ["input", "groupIds"])  # type: ignore[arg-type]
        changes = _changes(agent_service.AgentChanges, input, unset, group_ids=group_ids)
        pk = decode_id(id, "Agent", ["id"])
        return AgentPayload(agent=Agent.of(await agent_service.update_agent(info.context.rt, principal, pk, changes)))

    @strawberry.mutation
    @reports_user_errors(GroupPayload)
    async def create_group(self, info: Info, input: CreateGroupInput) -> GroupPayload:
        principal = principal_of(info)
        data = agent_service.NewGroup(
            name=input.name,
            description=input.description,
            assignment_strategy=enums.AssignmentStrategy(input.assignment_strategy),
            escalation_group_id=decode_optional_id(input.escalation_group_id, "Group", ["input", "escalationGroupId"]),
        )
        return GroupPayload(group=Group.of(await agent_service.create_group(info.context.rt, principal, data)))

    @strawberry.mutation(description="For the caller, or, for admins, for agentId.")
    @reports_user_errors(ApiTokenPayload)
    async def create_api_token(
        self, info: Info, name: str, agent_id: strawberry.ID | None = None, expires_at: datetime | None = None
    ) -> ApiTokenPayload:
        principal = principal_of(info)
        owner = decode_optional_id(agent_id, "Agent", ["agentId"])
        created = await auth_service.create_api_token(info.context.rt, principal, name, owner, expires_at)
        return ApiTokenPayload(token=created.secret, api_token=ApiToken.of(created.token))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "ApiToken", ["id"])
        await auth_service.revoke_api_token(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("ApiToken", pk))
