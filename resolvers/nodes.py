"""`Query.node`: how each type of object is found by its global id, and who may see it. Each
finder applies the one rule of its kind from app.auth.policy (or the ticket visibility the
loaders apply); an object the caller may not see is None, exactly like a missing one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.auth.policy import Action, allows, may_read_attachment, may_read_comment
from app.domain.principal import CustomerPrincipal, Principal, Viewer
from app.reads.routing import routing_rule
from app.services import auth as auth_service
from app.services import notifications, ticket_fields, webhooks
from resolvers.access import Info
from resolvers.automations import automation_node
from resolvers.macros import macro_node
from resolvers.sla import sla_node
from schema.common import Node
from schema.email import load_mailbox
from schema.knowledge import load_article
from schema.notifications import Notification
from schema.people import load_agent, load_customer, load_group
from schema.routing import RoutingRule
from schema.ticket_fields import TicketFieldDefinition
from schema.tickets import Attachment, Comment, TicketEvent, load_ticket
from schema.tokens import ApiToken
from schema.webhooks import Webhook, WebhookDelivery

Finder = Callable[[Info, Principal, int], Awaitable[Node | None]]


async def _comment(info: Info, principal: Viewer, pk: int) -> Node | None:
    loaders = info.context.loaders
    comment = await loaders.comment.load(pk)
    if comment is None or await loaders.ticket.load(comment.ticket_id) is None:
        return None
    return Comment.of(comment) if may_read_comment(principal, comment.visibility) else None


async def _attachment(info: Info, principal: Viewer, pk: int) -> Node | None:
    loaders = info.context.loaders
    attachment = await loaders.attachment.load(pk)
    if attachment is None or await loaders.ticket.load(attachment.ticket_id) is None:
        return None
    note = await loaders.comment.load(attachment.comment_id) if attachment.comment_id is not None else None
    if attachment.comment_id is not None and note is None:
        return None
    return Attachment.of(attachment) if may_read_attachment(principal, note.visibility if note else None) else None


async def _event(info: Info, principal: Principal, pk: int) -> Node | None:
    loaders = info.context.loaders
    event = await loaders.event.load(pk)
    if event is None or await loaders.ticket.load(event.ticket_id) is None:
        return None
    return TicketEvent.of(event)


async def _notification(info: Info, principal: Principal, pk: int) -> Node | None:
    # Only the caller's own: another agent's looks exactly like a missing one.
    found = await notifications.my_notifications_by_ids(info.context.rt, principal, [pk])
    return Notification.of(found[pk]) if pk in found else None


async def _routing_rule(info: Info, principal: Principal, pk: int) -> Node | None:
    if not allows(principal, Action.MANAGE_ROUTING):
        return None
    rule = await routing_rule(info.context.rt, pk)
    return RoutingRule.of(rule) if rule else None


async def _api_token(info: Info, principal: Principal, pk: int) -> Node | None:
    found = await auth_service.api_tokens_by_ids(info.context.rt, principal, [pk])
    return ApiToken.of(found[pk]) if pk in found else None


async def _mailbox(info: Info, principal: Principal, pk: int) -> Node | None:
    if not allows(principal, Action.MANAGE_MAILBOXES):
        return None
    return await load_mailbox(info, pk)


async def _webhook(info: Info, principal: Principal, pk: int) -> Node | None:
    if not allows(principal, Action.MANAGE_WEBHOOKS):
        return None
    found = await webhooks.webhooks_for(info.context.rt, [pk])
    return Webhook.of(found[pk]) if pk in found else None


async def _webhook_delivery(info: Info, principal: Principal, pk: int) -> Node | None:
    if not allows(principal, Action.MANAGE_WEBHOOKS):
        return None
    record = await webhooks.delivery(info.context.rt, pk)
    return WebhookDelivery.of(record) if record else None


async def _ticket_field(info: Info, principal: Principal, pk: int) -> Node | None:
    if not allows(principal, Action.READ_TICKET_FIELDS):
        return None
    found = await ticket_fields.definition_by_id(info.context.rt, pk)
    return TicketFieldDefinition.of(found) if found else None


def _sla(type_name: str) -> Finder:
    async def find(info: Info, principal: Principal, pk: int) -> Node | None:
        return await sla_node(info, principal, type_name, pk)

    return find


FINDERS: dict[str, Finder] = {
    "Ticket": lambda info, _principal, pk: load_ticket(info, pk),
    "Customer": lambda info, _principal, pk: load_customer(info, pk),
    "Agent": lambda info, _principal, pk: load_agent(info, pk),
    "Group": lambda info, _principal, pk: load_group(info, pk),
    "Comment": _comment,
    "Attachment": _attachment,
    "TicketEvent": _event,
    "RoutingRule": _routing_rule,
    "TicketFieldDefinition": _ticket_field,
    "SlaPolicy": _sla("SlaPolicy"),
    "BusinessCalendar": _sla("BusinessCalendar"),
    "ApiToken": _api_token,
    "Mailbox": _mailbox,
    "Macro": macro_node,
    "Automation": automation_node,
    "Notification": _notification,
    "Webhook": _webhook,
    "WebhookDelivery": _webhook_delivery,
}

# Published articles are public: the one kind of node anonymous callers may read.
PUBLIC_FINDERS: dict[str, Callable[[Info, int], Awaitable[Node | None]]] = {"KnowledgeArticle": load_article}


async def _own_profile(info: Info, customer: CustomerPrincipal, pk: int) -> Node | None:
    return await load_customer(info, pk) if pk == customer.customer_id else None


# A customer session: their own tickets (the loaders' scoping), those tickets' PUBLIC comments and
# files (app.auth.policy), and their own profile. Published articles are PUBLIC_FINDERS.
CUSTOMER_FINDERS: dict[str, Callable[[Info, CustomerPrincipal, int], Awaitable[Node | None]]] = {
    "Ticket": lambda info, _customer, pk: load_ticket(info, pk),
    "Comment": _comment,
    "Attachment": _attachment,
    "Customer": _own_profile,
}
