"""Seeds the demo data (app.demo.data) through the services, as live traffic would have made it.

Each ticket's story is replayed step by step (intake, sub-tickets, assignment, lifecycle,
conversation, escalation, edits, ratings), each step at its own moment in the last two weeks:
the services read a stopped clock, so every row and event carries the time the story gives it,
and every history obeys the rules the services enforce. SLA warnings and breaches are fired by
the scheduler's own function at the moment each fell due. Knowledge articles are drafted by an
agent and published by a supervisor before the first ticket comes in.

`seed_demo` is idempotent, also when several processes run it at once: a transaction-scoped
advisory lock serialises seeders, and whatever demo record already exists is left alone.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import ManualClock
from app.db.locks import lock_for_transaction
from app.db.repositories import knowledge as article_reads
from app.db.repositories import people as people_reads
from app.db.repositories import routing as routing_reads
from app.db.repositories import sla as sla_reads
from app.db.repositories import tickets as ticket_reads
from app.db.repositories.automations import automation_names
from app.db.repositories.macros import shared_macro_names
from app.db.repositories.mailboxes import mailbox_by_address, message_taken
from app.demo.data import (
    ADMIN,
    AGENTS,
    ARTICLES,
    AUTOMATIONS,
    CALENDARS,
    CUSTOMER,
    CUSTOMERS,
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_NAME,
    DEMO_ADMIN_PASSWORD,
    DEMO_EMAIL_DOMAIN,
    DEMO_MAIL_MESSAGE_ID,
    DEMO_MAILBOX,
    GROUPS,
    MACROS,
    ROUTING_RULES,
    SLA_POLICIES,
    TICKETS,
    CalendarSpec,
    Edit,
    Escalate,
    Move,
    Route,
    RuleSpec,
    Say,
    SlaPolicySpec,
    Step,
    TicketSpec,
    demo_customer_mail,
)
from app.domain import automations as automation_domain
from app.domain import macros as macro_domain
from app.domain import validation
from app.domain.automation_conditions import ConditionInput
from app.domain.email.mailbox_settings import MailboxInput
from app.domain.enums import (
    AgentPresence,
    AgentRole,
    ArticleStatus,
    AutomationActionType,
    AutomationTrigger,
    CommentVisibility,
    ConditionOperator,
    EmailIngestOutcome,
    TicketStatus,
)
from app.domain.lifecycle import Action as Lifecycle
from app.domain.principal import Principal
from app.domain.records import ArticleRecord
from app.domain.ticket_actions import ActionInput
from app.services import agents as agent_service
from app.services import assignment as assignment_service
from app.services import automations as automation_service
from app.services import conversation as conversation_service
from app.services import customers as customer_service
from app.services import email_ingest, sla_scheduler
from app.services import escalation as escalation_service
from app.services import knowledge as knowledge_service
from app.services import lifecycle as lifecycle_service
from app.services import macros as macro_service
from app.services import mailboxes as mailbox_service
from app.services import routing_rules as routing_rule_service
from app.services import satisfaction as satisfaction_service
from app.services import sla as sla_service
from app.services import subtickets as subticket_service
from app.services import tickets as ticket_service
from app.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What `seed_demo` did. `created` False: nothing was written and the counts are the demo
    records found; otherwise the counts are what this call created (`resumed`: an earlier,
    interrupted run had created the rest)."""

    created: bool
    groups: int
    agents: int
    customers: int
    tickets: int
    comments: int = 0
    ratings: int = 0
    resumed: bool = False
    calendars: int = 0
    sla_policies: int = 0
    articles: int = 0
    # The support mailbox, and the ticket its sample mail opened (not among `tickets`).
    mailboxes: int = 0
    tickets_by_mail: int = 0
    macros: int = 0
    automations: int = 0

    def summary(self) -> str:
        counts = (
            f"{self.groups} groups, {self.agents} agents, {self.customers} customers, {self.tickets} tickets, "
            f"{self.calendars} business calendar(s), {self.sla_policies} SLA policies, "
            f"{self.articles} knowledge articles, {self.mailboxes} mailbox(es) with "
            f"{self.tickets_by_mail} ticket(s) by mail, {self.macros} shared macros, "
            f"{self.automations} automations"
        )
        login = (
            f"demo admin: {DEMO_ADMIN_EMAIL}; all demo agents (*@{DEMO_EMAIL_DOMAIN}) "
            f"share the password {DEMO_ADMIN_PASSWORD}"
        )
        if not self.created:
            return f"demo data already present ({counts}); nothing created\n{login}"
        head = "demo data completed (an earlier run was interrupted): created" if self.resumed else "demo data:"
        return f"{head} {counts}, {self.comments} comments, {self.ratings} ratings\n{login}"


# ---------------------------------------------------------------- seeding

_LOCK_NAME = "helpdesk:seed-demo"


async def seed_demo(rt: Runtime) -> DemoResult:
    """Loads the demo data once. A second call, or a concurrent one from another process, waits
    for the first and creates nothing; a run that was interrupted is completed, record by record."""
    async with rt.engine.connect() as lock_conn, lock_conn.begin():
        # Held until this outer transaction ends, i.e. after everything below has committed.
        await lock_for_transaction(lock_conn, _LOCK_NAME)
        found = await _find_existing(lock_conn)
        if found.complete():
            ticket_ids = list(found.tickets.values())
            comments = await ticket_reads.comment_counts(lock_conn, ticket_ids, None)
            ratings = await ticket_reads.satisfaction_of(lock_conn, ticket_ids)
            return DemoResult(
                False,
                len(found.groups),
                len(found.agents),
                len(found.customers),
                len(found.tickets),
                sum(comments.values()),
                len(ratings),
                calendars=len(found.calendars),
                sla_policies=len(found.policies),
                articles=len(found.articles),
                mailboxes=int(found.mailbox),
                tickets_by_mail=int(found.mail_taken),
                macros=len(found.macros),
                automations=len(found.automations),
            )
        return await _Seeder(rt, found).run()


@dataclass
class _Found:
    """Demo records already in the database, by their key in the data."""

    groups: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)
    calendars: dict[str, int] = field(default_factory=dict)
    policies: dict[str, int] = field(default_factory=dict)  # by name
    rules: set[str] = field(default_factory=set)  # routing rule names
    articles: dict[str, ArticleRecord] = field(default_factory=dict)  # by key
    mailbox: bool = False
    mail_taken: bool = False  # the demo customer's mail went through ingest
    macros: set[str] = field(default_factory=set)  # shared macro names
    automations: set[str] = field(default_factory=set)  # by name

    def complete(self) -> bool:
        return (
            len(self.groups) == len(GROUPS)
            and len(self.agents) == len(AGENTS) + 1
            and len(self.customers) == len(CUSTOMERS)
            and len(self.tickets) == len(TICKETS)
            and len(self.calendars) == len(CALENDARS)
            and len(self.policies) == len(SLA_POLICIES)
            and len(self.rules) == len(ROUTING_RULES)
            and len(self.articles) == len(ARTICLES)
            and all(a.status != ArticleStatus.DRAFT.value for a in self.articles.values())
            and self.mailbox
            and self.mail_taken
            and len(self.macros) == len(MACROS)
            and len(self.automations) == len(AUTOMATIONS)
        )

    def anything(self) -> bool:
        return bool(
            self.groups
            or self.agents
            or self.customers
            or self.tickets
            or self.calendars
            or self.policies
            or self.articles
            or self.mailbox
            or self.macros
            or self.automations
        )


def _normal_phone(phone: str | None) -> str | None:
    return validation.phone(validation.Problems(), phone, [])


async def _find_existing(conn: AsyncConnection) -> _Found:
    found = _Found()
    calendars = {spec.name: spec.key for spec in CALENDARS}
    for calendar in await sla_reads.all_calendars(conn):
        if calendar.name in calendars:
            found.calendars.setdefault(calendars[calendar.name], calendar.id)
    policies = {spec.name for spec in SLA_POLICIES}
    for policy in await sla_reads.all_policies(conn):
        if policy.name in policies:
            found.policies.setdefault(policy.name, policy.id)
    rules = {spec.name for spec in ROUTING_RULES}
    found.rules = {rule.name for rule in await routing_reads.all_rules(conn)} & rules
    names = {spec.name.lower(): spec.key for spec in GROUPS}
    for name, group_id in (await people_reads.group_ids_by_name(conn, list(names))).items():
        found.groups[names[name]] = group_id
    emails = {spec.email.lower(): spec.key for spec in AGENTS} | {DEMO_ADMIN_EMAIL.lower(): ADMIN}
    for email, agent_id in (await people_reads.agent_ids_by_email(conn, list(emails))).items():
        found.agents[emails[email]] = agent_id
    by_email = {spec.email.lower(): spec.key for spec in CUSTOMERS if spec.email}
    by_phone = {phone: spec.key for spec in CUSTOMERS if (phone := _normal_phone(spec.phone))}
    for customer in await people_reads.customers_by_contacts(conn, list(by_email), list(by_phone)):
        key = by_email.get((customer.email or "").lower()) or by_phone.get(customer.phone or "")
        if key is not None:
            found.customers.setdefault(key, customer.id)
    if found.customers:
        existing = await ticket_reads.ticket_ids_by_customer_subject(conn, list(found.customers.values()))
        for spec in TICKETS:
            ticket_id = existing.get((found.customers.get(spec.customer, 0), spec.subject))
            if ticket_id is not None:
                found.tickets[spec.key] = ticket_id
    titles = {spec.title: spec.key for spec in ARTICLES}
    for title, article in (await article_reads.articles_by_title(conn, list(titles))).items():
        found.articles[titles[title]] = article
    found.mailbox = await mailbox_by_address(conn, DEMO_MAILBOX.address) is not None
    found.mail_taken = await message_taken(conn, DEMO_MAIL_MESSAGE_ID)
    found.macros = await shared_macro_names(conn, [spec.name for spec in MACROS])
    found.automations = await automation_names(conn, [spec.name for spec in AUTOMATIONS])
    return found


@dataclass(frozen=True, slots=True)
class _Action:
    at: datetime
    spec: TicketSpec
    step: Step | None  # None: the ticket comes in


def _timeline(specs: list[TicketSpec], now: datetime) -> list[_Action]:
    """Every ticket's arrival and story steps, in time order across tickets, so the event log
    reads chronologically. Steps of one ticket are evenly spaced and all lie in the past."""
    actions: list[tuple[datetime, int, _Action]] = []
    for spec in specs:
        created = now - timedelta(hours=spec.hours_ago)
        gap = min(timedelta(hours=spec.step_hours), timedelta(hours=spec.hours_ago) * 0.9 / (len(spec.story) + 1))
        actions.append((created, len(actions), _Action(created, spec, None)))
        for i, step in enumerate(spec.story, start=1):
            moment = created + gap * i
            actions.append((moment, len(actions), _Action(moment, spec, step)))
    return [action for _, _, action in sorted(actions, key=lambda item: (item[0], item[1]))]


class _Seeder:
    """Creates what is missing, through the services, each change at its moment in the story."""

    def __init__(self, rt: Runtime, found: _Found) -> None:
        self.rt = rt
        self.found = found
        self.now = rt.clock.now()
        self.groups = dict(found.groups)
        self.agents = dict(found.agents)
        self.customers = dict(found.customers)
        self.tickets = dict(found.tickets)
        self.calendars = dict(found.calendars)
        self.agent_specs = {spec.key: spec for spec in AGENTS}
        self.supervisors = {spec.key: spec.supervisor for spec in GROUPS}
        # Where each ticket being seeded is: (group key, assignee key).
        self.holder: dict[str, tuple[str | None, str | None]] = {}
        self.created: Counter[str] = Counter()

    def at(self, moment: datetime) -> Runtime:
        """The runtime as it was at `moment`: services stamp their rows and events with it."""
        return dataclasses.replace(self.rt, clock=ManualClock(moment))

    def principal(self, key: str) -> Principal:
        if key == ADMIN:
            return Principal(agent_id=self.agents[ADMIN], role=AgentRole.ADMIN)
        spec = self.agent_specs[key]
        group_ids = frozenset(self.groups[g] for g in spec.groups)
        return Principal(agent_id=self.agents[key], role=spec.role, group_ids=group_ids)

    def responsible(self, ticket_key: str) -> str:
        """Who acts on a ticket: its assignee, else its group's supervisor, else the admin."""
        group, assignee = self.holder.get(ticket_key, (None, None))
        return assignee or (self.supervisors[group] if group else ADMIN)

    async def run(self) -> DemoResult:
        resumed = self.found.anything()
        await self._groups()
        await self._agents()
        await self._customers()
        await self._sla()
        await self._articles()
        for action in _timeline([s for s in TICKETS if s.key not in self.tickets], self.now):
            await self._fire_sla_due(action.at)
            if action.step is None:
                await self._create_ticket(action.spec, action.at)
            else:
                await self._apply(action.spec, action.step, action.at)
        await self._fire_sla_due(self.now)
        await self._routing_rules()
        await self._mailbox()
        await self._macros()
        await self._automations()
        c = self.created
        return DemoResult(
            True,
            c["groups"],
            c["agents"],
            c["customers"],
            c["tickets"],
            c["comments"],
            c["ratings"],
            resumed,
            calendars=c["calendars"],
            sla_policies=c["sla_policies"],
            articles=c["articles"],
            mailboxes=c["mailboxes"],
            tickets_by_mail=c["tickets_by_mail"],
            macros=c["macros"],
            automations=c["automations"],
        )

    # ------------------------------------------------ people

    async def _groups(self) -> None:
        start = self.now - timedelta(days=60)
        for i, spec in enumerate(GROUPS):
            if spec.key in self.groups:
                continue
            group = await agent_service.create_group(
                self.at(start + timedelta(minutes=i)),
                None,
                agent_service.NewGroup(
                    name=spec.name,
                    description=spec.description,
                    assignment_strategy=spec.strategy,
                    escalation_group_id=self.groups[spec.escalation] if spec.escalation else None,
                ),
            )
            self.groups[spec.key] = group.id
            self.created["groups"] += 1

    async def _agents(self) -> None:
        start = self.now - timedelta(days=45)
        if ADMIN not in self.agents:
            admin, _ = await agent_service.ensure_admin(
                self.at(start), DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, DEMO_ADMIN_NAME
            )
            self.agents[ADMIN] = admin.id
            self.created["agents"] += 1
        for i, spec in enumerate(AGENTS, start=1):
            if spec.key in self.agents:
                continue
            agent = await agent_service.create_agent(
                self.at(start + timedelta(hours=i)),
                None,
                agent_service.NewAgent(
                    name=spec.name,
                    email=spec.email,
                    password=DEMO_ADMIN_PASSWORD,
                    role=spec.role,
                    skills=list(spec.skills),
                    languages=list(spec.languages),
                    capacity=spec.capacity,
                    group_ids=[self.groups[key] for key in spec.groups],
                ),
            )
            self.agents[spec.key] = agent.id
            self.created["agents"] += 1
            if spec.presence is not AgentPresence.OFFLINE:
                await agent_service.set_presence(self.rt, self.principal(spec.key), spec.presence)
            if spec.on_vacation:
                await agent_service.update_agent(
                    self.rt, self.principal(ADMIN), agent.id, agent_service.AgentChanges(on_vacation=True)
                )

    async def _customers(self) -> None:
        start = self.now - timedelta(days=30)
        for i, spec in enumerate(CUSTOMERS):
            if spec.key in self.customers:
                continue
            customer = await customer_service.create_customer(
                self.at(start + timedelta(hours=6 * i)),
                self.principal(ADMIN),
                customer_service.CustomerInput(
                    name=spec.name,
                    email=spec.email,
                    phone=spec.phone,
                    company=spec.company,
                    tier=spec.tier.value,
                    language=spec.language,
                    tags=list(spec.tags),
                    external_refs=spec.external_refs,
                ),
            )
            self.customers[spec.key] = customer.id
            self.created["customers"] += 1

    # ------------------------------------------------ SLA

    async def _sla(self) -> None:
        """The business calendar and policies, before the tickets so each ticket's clocks start
        at intake. Creating a policy re-evaluates the open tickets at that moment, so it is only
        backdated into an empty helpdesk: tickets already there (older demo data, real ones) get
        clocks from now on, as a new policy never breaches old tickets retroactively."""
        async with self.rt.reader.connect() as conn:
            empty = not await ticket_reads.any_ticket_exists(conn)
        start = self.now - timedelta(days=20) if empty else self.now
        admin = self.principal(ADMIN)
        for i, cal_spec in enumerate(CALENDARS):
            if cal_spec.key in self.calendars:
                continue
            calendar = await sla_service.create_calendar(
                self.at(start + timedelta(minutes=i)), admin, _calendar_input(cal_spec)
            )
            self.calendars[cal_spec.key] = calendar.id
            self.created["calendars"] += 1
        for i, spec in enumerate(SLA_POLICIES, start=len(CALENDARS)):
            if spec.name in self.found.policies:
                continue
            calendar_id = self.calendars[spec.calendar] if spec.calendar else None
            await sla_service.create_policy(
                self.at(start + timedelta(minutes=i)), admin, _policy_input(spec, calendar_id)
            )
            self.created["sla_policies"] += 1

    async def _fire_sla_due(self, until: datetime) -> None:
        """What the SLA scheduler would have fired by `until`: each warning and breach at the
        moment it fell due, so histories stay in time order and breaches raise priorities as
        they would have live."""
        previous: datetime | None = None
        while True:
            async with self.rt.reader.connect() as conn:
                upcoming = await sla_reads.next_check_at(conn)
            if upcoming is None or upcoming > until:
                return
            fired = await sla_scheduler.run_due(self.at(upcoming))
            if not fired and previous is not None and upcoming <= previous:
                return  # nothing more to fire here (a check set aside for a retry): leave it to the scheduler
            previous = upcoming

    # ------------------------------------------------ knowledge base

    async def _articles(self) -> None:
        """Each article drafted by its author and published a day later by the supervisor of the
        author's first group, weeks before the first ticket: the console suggests them from the start."""
        start = self.now - timedelta(days=25)
        for i, spec in enumerate(ARTICLES):
            article = self.found.articles.get(spec.key)
            if article is not None and article.status != ArticleStatus.DRAFT.value:
                continue
            written = start + timedelta(hours=3 * i)
            if article is None:
                article = await knowledge_service.create_article(
                    self.at(written),
                    self.principal(spec.author),
                    knowledge_service.ArticleInput(spec.title, spec.body, spec.category, list(spec.tags)),
                )
                self.created["articles"] += 1
            publisher = self.supervisors[self.agent_specs[spec.author].groups[0]]
            await knowledge_service.publish_article(
                self.at(written + timedelta(days=1)), self.principal(publisher), article.id
            )

    # ------------------------------------------------ tickets

    async def _create_ticket(self, spec: TicketSpec, at: datetime) -> None:
        data = ticket_service.NewTicket(
            subject=spec.subject,
            description=spec.description,
            channel=spec.channel,
            customer=customer_service.CustomerRef(id=self.customers[spec.customer]),
            priority=spec.priority,
            category=spec.category,
            tags=list(spec.tags),
            custom_fields=spec.custom_fields,
            external_ref=spec.external_ref,
            language=spec.language,
        )
        creator = self.principal(spec.created_by)
        if spec.parent is not None and spec.group is not None:
            ticket = await subticket_service.create_sub_ticket(
                self.at(at), creator, self.tickets[spec.parent], data, self.groups[spec.group]
            )
        else:
            ticket, _ = await ticket_service.create_ticket(self.at(at), creator, data)
        self.tickets[spec.key] = ticket.id
        self.holder[spec.key] = (spec.group, None)
        self.created["tickets"] += 1

    async def _apply(self, spec: TicketSpec, step: Step, at: datetime) -> None:
        rt, ticket_id, actor = self.at(at), self.tickets[spec.key], self.principal(self.responsible(spec.key))
        if isinstance(step, Route):
            await self._assign(rt, spec, step)
        elif isinstance(step, Move):
            await lifecycle_service.transition(
                rt,
                actor,
                ticket_id,
                step.action,
                reason=None if step.action is Lifecycle.RESOLVE else step.note,
                resolution=step.note if step.action is Lifecycle.RESOLVE else None,
            )
        elif isinstance(step, Edit):
            group, _ = self.holder[spec.key]
            editor = self.principal(self.supervisors[group] if group else ADMIN)
            await ticket_service.update_ticket(
                rt,
                editor,
                ticket_id,
                ticket_service.TicketChanges(
                    priority=step.priority.value if step.priority else ticket_service.UNSET,
                    category=step.category if step.category is not None else ticket_service.UNSET,
                    tags=list(step.tags) if step.tags is not None else ticket_service.UNSET,
                ),
                None,
            )
        elif isinstance(step, Escalate):
            updated = await escalation_service.escalate_ticket(
                rt, actor, ticket_id, step.reason, self.groups[step.group]
            )
            _, assignee = self.holder[spec.key]
            self.holder[spec.key] = (step.group, assignee if updated.assignee_id is not None else None)
        elif isinstance(step, Say) and step.author == CUSTOMER:
            await conversation_service.add_customer_reply(rt, actor, ticket_id, step.body)
            self.created["comments"] += 1
        elif isinstance(step, Say):
            visibility = CommentVisibility.INTERNAL if step.internal else CommentVisibility.PUBLIC
            await conversation_service.add_comment(rt, self.principal(step.author), ticket_id, step.body, visibility)
            self.created["comments"] += 1
        else:
            await satisfaction_service.rate_ticket(rt, actor, ticket_id, step.score, step.comment)
            self.created["ratings"] += 1

    async def _assign(self, rt: Runtime, spec: TicketSpec, step: Route) -> None:
        """A supervisor's manual assignment through assignTicket's service."""
        supervisor = self.principal(self.supervisors[step.group])
        agent_id = self.agents[step.agent] if step.agent else None
        await assignment_service.assign_ticket(
            rt, supervisor, self.tickets[spec.key], agent_id, self.groups[step.group], None
        )
        self.holder[spec.key] = (step.group, step.agent)

    async def _routing_rules(self) -> None:
        """The example rule set (README), added after the tickets so the seeded stories stay as
        written; from then on every new ticket is routed by these rules."""
        admin = self.principal(ADMIN)
        for rule in ROUTING_RULES:
            if rule.name in self.found.rules:
                continue
            group_id = self.groups[rule.route_to_group_key] if rule.route_to_group_key else None
            await routing_rule_service.create_rule(self.rt, admin, _rule_input(rule, group_id))

    async def _mailbox(self) -> None:
        """The support mailbox, and one customer's mail taken through it (after the routing
        rules, like any mail): a ticket by mail, with its acknowledgement queued."""
        if not self.found.mailbox:
            data = MailboxInput(
                name=DEMO_MAILBOX.name,
                address=DEMO_MAILBOX.address,
                group_id=self.groups[DEMO_MAILBOX.group],
                acknowledgement_template=DEMO_MAILBOX.acknowledgement,
            )
            await mailbox_service.create_mailbox(self.rt, self.principal(ADMIN), data)
            self.created["mailboxes"] += 1
        if not self.found.mail_taken:
            async with self.rt.reader.connect() as conn:
                mailbox = await mailbox_by_address(conn, DEMO_MAILBOX.address)
            assert mailbox is not None
            result = await email_ingest.ingest_email(self.rt, None, mailbox.id, demo_customer_mail())
            self.created["tickets_by_mail"] += result.outcome is EmailIngestOutcome.CREATED_TICKET

    async def _macros(self) -> None:
        """The shared bilingual macros every agent finds in the reply box's picker."""
        for spec in MACROS:
            if spec.name in self.found.macros:
                continue
            actions = [ActionInput(AutomationActionType(kind), value) for kind, value in spec.actions]
            data = macro_domain.MacroInput(name=spec.name, body=spec.body, actions=actions, shared=True)
            await macro_service.create_macro(self.rt, self.principal(ADMIN), data)
            self.created["macros"] += 1

    async def _automations(self) -> None:
        """The seed's rule (urgent tickets unhandled for 24 business hours -> the supervisors) and
        "a customer replied on a PENDING ticket -> its assignee"."""
        for spec in AUTOMATIONS:
            if spec.name in self.found.automations:
                continue
            actions = [ActionInput(AutomationActionType(kind), value) for kind, value in spec.actions]
            data = automation_domain.AutomationInput(
                name=spec.name,
                trigger=AutomationTrigger(spec.trigger),
                actions=actions,
                conditions=[ConditionInput(f, ConditionOperator(o), v) for f, o, v in spec.conditions],
                status=TicketStatus(spec.status) if spec.status else None,
                after_seconds=spec.after_seconds,
            )
            await automation_service.create_automation(self.rt, self.principal(ADMIN), data)
            self.created["automations"] += 1


# ---------------------------------------------------------------- the data as service inputs


def _calendar_input(spec: CalendarSpec) -> sla_service.CalendarInput:
    return sla_service.CalendarInput(
        name=spec.name,
        timezone=spec.timezone,
        hours=[sla_service.HoursInput(day, start, end) for day, start, end in spec.hours],
        holidays=list(spec.holidays),
    )


def _policy_input(spec: SlaPolicySpec, calendar_id: int | None) -> sla_service.PolicyInput:
    def seconds(hours: float | None) -> int | None:
        return round(hours * 3600) if hours is not None else None

    return sla_service.PolicyInput(
        name=spec.name,
        match_tiers=[tier.value for tier in spec.tiers],
        match_priorities=[priority.value for priority in spec.priorities],
        first_response_seconds=seconds(spec.first_response_hours),
        resolution_seconds=seconds(spec.resolution_hours),
        warning_at_percent=spec.warning_at_percent,
        calendar_id=calendar_id,
        escalate_priority_on_breach=spec.escalate_priority_on_breach,
    )


def _rule_input(spec: RuleSpec, group_id: int | None) -> routing_rule_service.RuleInput:
    return routing_rule_service.RuleInput(
        name=spec.name,
        match_keywords=list(spec.keywords),
        match_tiers=[tier.value for tier in spec.tiers],
        set_category=spec.category,
        set_priority=spec.priority.value if spec.priority else None,
        add_tags=list(spec.tags),
        route_to_group_id=group_id,
        require_skills=list(spec.skills),
        stop_processing=spec.stop,
    )
