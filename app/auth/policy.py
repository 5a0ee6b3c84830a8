"""Who may do what: the one table of role requirements.

Services call `require` before they change anything; root query resolvers call it
before they read. Ticket visibility (which tickets an agent sees) is a query
predicate, in app.db.repositories.tickets; what of a ticket's conversation and of an
SLA policy a caller reads is decided here.
"""

from __future__ import annotations

from enum import StrEnum

from app.domain.enums import AgentRole, AutomationActionType, CommentVisibility
from app.domain.errors import Forbidden
from app.domain.principal import CredentialKind, CustomerPrincipal, Principal, Viewer


class Action(StrEnum):
    # people and configuration
    CREATE_AGENT = "createAgent"
    UPDATE_AGENT = "updateAgent"
    CREATE_GROUP = "createGroup"
    MANAGE_CUSTOMERS = "manageCustomers"
    READ_CUSTOMERS = "readCustomers"
    READ_AGENTS = "readAgents"
    # customers' data (issue 18): merging moves tickets between customers, erasure is for good
    MERGE_CUSTOMERS = "mergeCustomers"
    EXPORT_CUSTOMER_DATA = "exportCustomerData"
    ERASE_CUSTOMERS = "eraseCustomers"
    MANAGE_ANY_API_TOKEN = "manageAnyApiToken"
    MANAGE_OWN_API_TOKENS = "manageOwnApiTokens"
    # tickets
    CREATE_TICKET = "createTicket"
    UPDATE_TICKET = "updateTicket"
    ASSIGN_TICKET = "assignTicket"
    # configuration owned by later areas
    MANAGE_ROUTING = "manageRouting"
    MANAGE_SLA = "manageSla"
    READ_REPORTS = "readReports"
    PUBLISH_ARTICLE = "publishArticle"
    WRITE_ARTICLE = "writeArticle"
    # email
    MANAGE_MAILBOXES = "manageMailboxes"
    INGEST_EMAIL = "ingestEmail"
    # macros
    USE_MACROS = "useMacros"
    MANAGE_SHARED_MACROS = "manageSharedMacros"
    # notifications: every agent reads and marks their own, nobody else's
    READ_OWN_NOTIFICATIONS = "readOwnNotifications"
    # outbound webhooks
    MANAGE_WEBHOOKS = "manageWebhooks"
    # defined custom fields: agents read every definition (anonymous callers and customers the
    # visibleToCustomer ones, see may_read_agent_only_fields); admins change them
    READ_TICKET_FIELDS = "readTicketFields"
    MANAGE_TICKET_FIELDS = "manageTicketFields"
    # automations
    MANAGE_AUTOMATIONS = "manageAutomations"


MINIMUM_ROLE: dict[Action, AgentRole] = {
    Action.CREATE_AGENT: AgentRole.ADMIN,
    Action.UPDATE_AGENT: AgentRole.ADMIN,
    Action.CREATE_GROUP: AgentRole.ADMIN,
    Action.MANAGE_CUSTOMERS: AgentRole.AGENT,
    Action.READ_CUSTOMERS: AgentRole.AGENT,
    Action.READ_AGENTS: AgentRole.AGENT,
    Action.MERGE_CUSTOMERS: AgentRole.SUPERVISOR,
    Action.EXPORT_CUSTOMER_DATA: AgentRole.SUPERVISOR,
    Action.ERASE_CUSTOMERS: AgentRole.ADMIN,
    Action.MANAGE_ANY_API_TOKEN: AgentRole.ADMIN,
    Action.MANAGE_OWN_API_TOKENS: AgentRole.AGENT,
    Action.CREATE_TICKET: AgentRole.AGENT,
    Action.UPDATE_TICKET: AgentRole.AGENT,
    Action.ASSIGN_TICKET: AgentRole.SUPERVISOR,
    Action.MANAGE_ROUTING: AgentRole.ADMIN,
    Action.MANAGE_SLA: AgentRole.ADMIN,
    Action.READ_REPORTS: AgentRole.SUPERVISOR,
    Action.PUBLISH_ARTICLE: AgentRole.SUPERVISOR,
    Action.WRITE_ARTICLE: AgentRole.AGENT,
    Action.MANAGE_MAILBOXES: AgentRole.ADMIN,
    # Sessions: admins only (see require_mail_intake for API tokens).
    Action.INGEST_EMAIL: AgentRole.ADMIN,
    # Every agent reads shared macros, keeps personal ones and applies both; shared ones are
    # written by supervisors and admins.
    Action.USE_MACROS: AgentRole.AGENT,
    Action.MANAGE_SHARED_MACROS: AgentRole.SUPERVISOR,
    Action.READ_OWN_NOTIFICATIONS: AgentRole.AGENT,
    Action.MANAGE_WEBHOOKS: AgentRole.ADMIN,
    Action.READ_TICKET_FIELDS: AgentRole.AGENT,
    Action.MANAGE_TICKET_FIELDS: AgentRole.ADMIN,
    Action.MANAGE_AUTOMATIONS: AgentRole.ADMIN,
}

# What each ticket action needs of whoever applies it: the permission of the mutation that does
# the same by hand, so a macro never does what its agent could not.
TICKET_ACTION_PERMISSION: dict[AutomationActionType, Action] = {
    AutomationActionType.SET_PRIORITY: Action.UPDATE_TICKET,
    AutomationActionType.SET_CATEGORY: Action.UPDATE_TICKET,
    AutomationActionType.SET_STATUS: Action.UPDATE_TICKET,
    AutomationActionType.ADD_TAGS: Action.UPDATE_TICKET,
    AutomationActionType.REMOVE_TAGS: Action.UPDATE_TICKET,
    AutomationActionType.ASSIGN_TO_GROUP: Action.ASSIGN_TICKET,
    AutomationActionType.ASSIGN_TO_AGENT: Action.ASSIGN_TICKET,
    AutomationActionType.ADD_INTERNAL_NOTE: Action.UPDATE_TICKET,
    AutomationActionType.EMAIL_CUSTOMER: Action.UPDATE_TICKET,
    AutomationActionType.NOTIFY_AGENTS: Action.UPDATE_TICKET,
    AutomationActionType.ESCALATE: Action.UPDATE_TICKET,
}


def allows(principal: Principal, action: Action) -> bool:
    return principal.role.at_least(MINIMUM_ROLE[action])


def require(principal: Principal, action: Action) -> None:
    if not allows(principal, action):
        needed = MINIMUM_ROLE[action].value
        raise Forbidden(f"{action.value} needs the {needed} role or higher")


def require_ticket_action(principal: Principal, action: AutomationActionType) -> None:
    require(principal, TICKET_ACTION_PERMISSION[action])


def require_macro_change(principal: Principal, shared: bool) -> None:
    """A personal macro is its owner's to change (others never see it); a shared one is the
    supervisors' and admins'."""
    require(principal, Action.MANAGE_SHARED_MACROS if shared else Action.USE_MACROS)


def require_signed_in(principal: Principal, action: Action) -> None:
    """Minting credentials needs a person signed in: a partner API token that could create
    tokens would outlive its own revocation."""
    if principal.credential is CredentialKind.API_TOKEN:
        raise Forbidden(f"{action.value} needs a signed-in session, not an API token")


def require_mail_intake(principal: Principal) -> None:
    """Handing in raw mail is for the relays that receive it: an API token (a mail gateway,
    whatever its agent's role) or an admin. Agents and supervisors at the console get FORBIDDEN:
    a raw message can claim any sender and open tickets in any mailbox's group."""
    if principal.credential is CredentialKind.API_TOKEN:
        return
    require(principal, Action.INGEST_EMAIL)


def may_read_comment(principal: Viewer | None, visibility: str) -> bool:
    """A comment of a ticket the caller sees: PUBLIC ones always. INTERNAL notes are for the
    team: partner API tokens relay to customers (portals, chat bridges), so they never receive
    them, whatever their agent's role, and customers signed in themselves never do either.
    Every path asks this (node, Ticket.comments, payloads, search, events' selections, downloads
    through may_read_attachment)."""
    if visibility == CommentVisibility.PUBLIC.value:
        return True
    if principal is None or isinstance(principal, CustomerPrincipal):
        return False
    return principal.credential is not CredentialKind.API_TOKEN


def may_read_internal_notes(principal: Viewer | None) -> bool:
    """The question paths that filter many comments at once ask (lists, search weights)."""
    return may_read_comment(principal, CommentVisibility.INTERNAL.value)


def may_read_email_delivery(principal: Viewer | None, comment_visibility: str) -> bool:
    """The mail copy of a comment is read like the comment: its recipient and the server's
    answer are part of the conversation the caller already sees. Not by customers: it is the
    helpdesk's plumbing (a customer session carries no agent `principal`, so None here too)."""
    if isinstance(principal, CustomerPrincipal):
        return False
    return may_read_comment(principal, comment_visibility)


def may_read_attachment(principal: Viewer | None, note_visibility: str | None) -> bool:
    """A file of a ticket the caller sees: one on a comment is read like that comment
    (`note_visibility`); one on the ticket itself (None) like the ticket."""
    return note_visibility is None or may_read_comment(principal, note_visibility)


class SlaPolicyView(StrEnum):
    """How much of an SLA policy a caller reads."""

    # Name and targets (first response, resolution, the warning share): what an agent needs to
    # read a ticket's clocks.
    TARGETS = "targets"
    # Everything, listing included: which tickets it matches, its order, calendar and breach action.
    CONFIGURATION = "configuration"


def sla_policy_view(principal: Principal | None) -> SlaPolicyView | None:
    """Every signed-in caller (partner tokens as their agent) reads a policy's name and targets,
    wherever it meets one (Ticket.sla.policy, node); its configuration is the admins'."""
    if principal is None:
        return None
    return SlaPolicyView.CONFIGURATION if allows(principal, Action.MANAGE_SLA) else SlaPolicyView.TARGETS


def may_watch_wallboard(principal: Principal, group_id: int | None) -> bool:
    """Agents watch their own groups' boards; the whole helpdesk and other groups are for supervisors."""
    return allows(principal, Action.READ_REPORTS) or (group_id is not None and group_id in principal.group_ids)


def may_read_agent_only_fields(viewer: Viewer | None) -> bool:
    """Defined custom fields not `visibleToCustomer` (their definitions and their values) are the
    team's: agents and their API tokens read them; anonymous callers (the web form) and customer
    sessions (the portal) get the visibleToCustomer ones only."""
    return isinstance(viewer, Principal) and allows(viewer, Action.READ_TICKET_FIELDS)


def customer_may_see_event(event_type: str, data: dict[str, object] | None) -> bool:
    """What a customer following their own ticket is told: its status changes and its PUBLIC
    comments. Everything else (assignment, SLA, notes, tags, fields) is the helpdesk's own work."""
    if event_type == "STATUS_CHANGED":
        return True
    return event_type == "COMMENTED" and (data or {}).get("visibility") == CommentVisibility.PUBLIC.value
