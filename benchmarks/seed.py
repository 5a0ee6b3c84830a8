"""The benchmark data set: a helpdesk of N tickets, bulk-loaded with COPY and cached per size.

What is in it (every row as the app itself would have written it):

- 8 groups (LEAST_LOADED and ROUND_ROBIN), 200 ONLINE agents with room for more tickets, an
  admin, N/4 customers (5 % VIP), 8 routing rules (keywords -> group, category, tags) and 4 SLA
  policies (one per priority, around the clock);
- N tickets over 180 days. The newest 3,000 are the working backlog (NEW, OPEN, PENDING,
  ON_HOLD, a few RESOLVED); older ones are CLOSED with 1 % left open, so the open backlog does
  not grow with N (a ticket RESOLVED more than 72 hours ago is CLOSED, as auto-close would).
  Each has its CREATED event (and ASSIGNED, COMMENTED,
  STATUS_CHANGED ... events in order, each stamped with the ticket's version at the time),
  1-3 comments (the first agent reply is the first response), tags, two SLA clocks
  (FIRST_RESPONSE, RESOLUTION) in the state the scheduler would have left them (warned and
  breached when past due), the denormalised `sla_due_at` / `sla_at_risk`, and its search
  document;
- 50 "detail" tickets with 20 comments and 3 sub-tickets each (one resolved), the parent's group
  collaborating on each child;
- the lifecycle pool: the oldest tickets (N/5, at most 3,000), left NEW and assigned, for the
  lifecycle scenario to move along.

The database is `helpdesk_bench_<size>_<fingerprint>` on the server of the base URL, where the
fingerprint hashes the migrations and the generating part of this file: a schema or data change
loads a new one (and drops the stale ones of that size); otherwise a run reuses it. `reset` removes what a previous run
added (tickets and customers past the seeded ones, idempotency keys).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.db.engine import async_url, create_engine, sync_url
from app.db.migrate import upgrade
from app.db.repositories.ticket_search import document_literal
from app.services.agents import ensure_admin
from app.services.runtime import Runtime
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
ADMIN_EMAIL = "bench-admin@bench.test"
ADMIN_PASSWORD = "Bench-admin-2026!"
GROUP_NAMES = ["Billing", "Shipping", "Returns", "Technical", "Accounts", "Orders", "Warranty", "VIP care"]
GROUPS = len(GROUP_NAMES)
AGENTS = 200
BACKLOG = 3_000
DETAIL_TICKETS = 50
DETAIL_COMMENTS = 20
SUB_TICKETS = 3
SPAN = timedelta(days=180)
AUTO_CLOSE = timedelta(hours=72)  # the app's default HELPDESK_AUTO_CLOSE_AFTER_HOURS
CHUNK = 25_000
CHANNELS = ["EMAIL", "PHONE", "WEB_FORM", "CHAT", "SOCIAL", "APP", "API"]
CHANNEL_WEIGHTS = [30, 15, 20, 20, 5, 7, 3]
PRIORITIES = ["LOW", "NORMAL", "HIGH", "URGENT"]
PRIORITY_WEIGHTS = [20, 55, 20, 5]
# (first response, resolution) targets in seconds, per priority; policy id = index + 1.
TARGETS = {"LOW": (28_800, 259_200), "NORMAL": (14_400, 86_400), "HIGH": (3_600, 28_800), "URGENT": (900, 14_400)}
WARNING_PERCENT = 80
# One routing rule per group: (keywords, category, tags).
RULES = [
    (["refund", "invoice", "charged", "退款"], "billing", ["refund"]),
    (["delivery", "shipping", "parcel", "物流"], "shipping", ["delivery"]),
    (["return", "exchange", "退货"], "returns", ["return"]),
    (["error", "crash", "login", "bug"], "technical", ["bug"]),
    (["password", "account", "email"], "account", ["account"]),
    (["order", "cancel", "订单"], "orders", ["order"]),
    (["warranty", "repair", "broken"], "warranty", ["warranty"]),
    (["complaint", "manager", "投诉"], "complaint", ["escalation"]),
]
SUBJECTS = [
    "Refund not received for my last order",
    "Charged twice on the invoice",
    "Delivery is three days late",
    "Parcel shows delivered but never arrived",
    "How do I return a pair of shoes",
    "Exchange for a different size",
    "App crash when I open the cart",
    "Login error after the update",
    "Cannot reset my password",
    "Change the email on my account",
    "Cancel my order please",
    "Order stuck in processing",
    "Warranty repair for a broken charger",
    "Screen broken after two weeks",
    "Complaint about the courier",
    "退款还没有到账",
    "物流一直没有更新",
    "订单显示已取消",
]
DESCRIPTIONS = [
    "I placed the order last week and I still have not heard anything. Please check what happened.",
    "This is the second time I write about this. I would like an answer today if possible.",
    "Hello, could you tell me what the next steps are? The order number is in my account.",
    "我上周下的单，到现在还没有消息，请帮我查一下，谢谢。",
]
COMMENTS = [
    ("PUBLIC", "agent", "Thanks for reaching out. I am looking into this now and will update you shortly."),
    ("PUBLIC", "customer", "Thank you. Any news? I still have not received anything."),
    ("INTERNAL", "agent", "Checked the order in the back office: payment captured twice, refund requested."),
    ("PUBLIC", "agent", "I have escalated this to the warehouse; you will hear from us within a day."),
    ("PUBLIC", "customer", "好的，谢谢你们的帮助。"),
]
EXTRA_TAGS = ["mobile", "repeat-contact", "first-order", "gift", "express"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_UNHASHED = "# " + "-" * 64 + " after a run"


def fingerprint() -> str:
    """Changes whenever the schema (a migration) or this data set changes."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    source = Path(__file__).read_text()
    digest.update(source[: source.index(_UNHASHED)].encode())
    return digest.hexdigest()[:10]


def database_name(size: str) -> str:
    return f"helpdesk_bench_{size}_{fingerprint()}"


def database_url(base: str, size: str) -> str:
    return make_url(async_url(base)).set(database=database_name(size)).render_as_string(False)


def plain_url(url: str) -> str:
    """For asyncpg and libpq: no SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@dataclass(frozen=True)
class SeedInfo:
    """What the runner needs to know about a loaded data set (stored in the database)."""

    size: str
    tickets: int
    customers: int
    seeded_at: str
    lifecycle_pool: list[int]
    detail_tickets: list[int]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------- generation


def _plan(n: int) -> tuple[list[int], set[int], list[int]]:
    """The lifecycle pool (oldest ids), the detail parents and their children (in the backlog)."""
    pool = list(range(1, min(3_000, n // 5) + 1))
    step = max(10, min(BACKLOG, n) // DETAIL_TICKETS)
    parents = [n - step * k for k in range(1, DETAIL_TICKETS + 1) if n - step * k > len(pool)]
    children = {p + j for p in parents for j in range(1, SUB_TICKETS + 1)}
    return pool, children, parents


class Generator:
    """Rows of every table for a range of tickets; ids of comments, events and clocks continue
    from one chunk to the next."""

    def __init__(self, n: int, customers: int, now: datetime, seed: int = 7) -> None:
        self.n, self.customers, self.now = n, customers, now
        self.rng = random.Random(seed)
        self.pool, self.children, parents = _plan(n)
        self.parents = set(parents)
        self.comment_id = self.event_id = self.clock_id = 0
        self.members = {g: [a for a in range(1, AGENTS + 1) if (a - 1) % GROUPS + 1 == g] for g in range(1, GROUPS + 1)}
        self.documents: dict[tuple[int, int, tuple[int, ...]], int] = {}
        self.new_documents: list[tuple[int, str]] = []

    def created_at(self, ticket_id: int) -> datetime:
        return self.now - timedelta(minutes=5) - SPAN * ((self.n - ticket_id) / self.n)

    def status_of(self, ticket_id: int) -> str:
        rng = self.rng
        if ticket_id <= len(self.pool):
            return "NEW"
        if ticket_id in self.parents:
            return "OPEN"
        if ticket_id in self.children:
            return ("OPEN", "RESOLVED", "NEW")[(ticket_id - 1) % SUB_TICKETS]
        if self.n - ticket_id < BACKLOG:
            return rng.choices(["NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED"], [15, 50, 20, 5, 10])[0]
        roll = rng.random()
        if roll < 0.01:
            return rng.choice(["OPEN", "PENDING"])
        return "RESOLVED" if roll < 0.05 else "CLOSED"

    def document_key(self, subject: int, description: int, comments: tuple[int, ...]) -> int:
        """The number of the ticket's search document (few distinct ones: built once each)."""
        key = (subject, description, comments)
        found = self.documents.get(key)
        if found is None:
            found = self.documents[key] = len(self.documents) + 1
            bodies = [(COMMENTS[c][2], COMMENTS[c][0]) for c in comments]
            self.new_documents.append((found, document_literal(SUBJECTS[subject], DESCRIPTIONS[description], bodies)))
        return found

    def chunk(self, first: int, last: int) -> dict[str, list[tuple[Any, ...]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
        for ticket_id in range(first, last + 1):
            self.ticket(ticket_id, rows)
        return rows

    def ticket(self, ticket_id: int, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        rng, now = self.rng, self.now
        created = self.created_at(ticket_id)
        room = (now - created).total_seconds()
        status = self.status_of(ticket_id)
        parent_id = next((p for p in range(ticket_id - 1, ticket_id - SUB_TICKETS - 1, -1) if p in self.parents), None)
        parent_id = parent_id if ticket_id in self.children else None
        subject = rng.randrange(len(SUBJECTS))
        description = rng.randrange(len(DESCRIPTIONS))
        rule = subject * len(RULES) // len(SUBJECTS)
        group = rule + 1 if parent_id is None else (rule + ticket_id) % GROUPS + 1
        assignee = rng.choice(self.members[group]) if status != "NEW" or rng.random() < 0.7 else None
        if ticket_id <= len(self.pool):
            assignee = rng.choice(self.members[group])
        customer = rng.randint(1, self.customers)
        priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        _keywords, category, rule_tags = RULES[rule]
        tags = sorted({*rule_tags, *rng.sample(EXTRA_TAGS, rng.randint(0, 2))})
        language = "zh" if SUBJECTS[subject][0] > "~" else "en"

        # The timeline: first response, then pending / hold, resolve and close as the status says.
        started = status != "NEW"
        t1 = created + timedelta(seconds=min(rng.expovariate(1 / 7200), room * 0.2) + 30)
        t2 = t1 + timedelta(seconds=min(rng.expovariate(1 / 72_000), room * 0.3) + 30)
        t3 = t2 + AUTO_CLOSE
        if status == "RESOLVED" and t3 < now:
            status = "CLOSED"  # the auto-close sweep would have closed it
        steps: list[tuple[datetime, str, str]] = []
        if started:
            steps.append((t1, "NEW", "OPEN"))
        if status == "PENDING":
            steps.append((t2, "OPEN", "PENDING"))
        elif status == "ON_HOLD":
            steps.append((t2, "OPEN", "ON_HOLD"))
        elif status in ("RESOLVED", "CLOSED"):
            steps.append((t2, "OPEN", "RESOLVED"))
            if status == "CLOSED":
                steps.append((t3, "RESOLVED", "CLOSED"))
        responded = t1 if started else None
        resolved = t2 if status in ("RESOLVED", "CLOSED") else None
        closed = t3 if status == "CLOSED" else None

        # Comments: the first agent reply is the first response; customers and notes follow.
        if ticket_id in self.parents:
            picks = tuple([0] + [1 + k % (len(COMMENTS) - 1) for k in range(DETAIL_COMMENTS - 1)])
        elif started:
            picks = (0, *rng.sample(range(1, len(COMMENTS)), rng.choice([0, 0, 1, 2])))
        else:
            picks = (1,) if rng.random() < 0.3 else ()
        events: list[tuple[datetime, int, str, dict[str, Any], int | None, int | None]] = []
        version = 1
        data = {
            "number": ticket_id + 999,
            "subject": SUBJECTS[subject],
            "channel": channel,
            "priority": priority,
            "sentiment": "NEUTRAL",
            "language": language,
            "customerId": customer,
            "parentId": parent_id,
            "groupId": group,
            "routing": {
                "rules": [{"id": rule + 1, "name": f"{GROUP_NAMES[rule]} keywords"}],
                "category": category,
                "priority": None,
                "groupId": rule + 1,
                "tags": rule_tags,
                "requiredSkills": [],
            },
        }
        events.append((created, 0, "CREATED", data, None, None))
        if assignee is not None:
            events.append((created, 1, "ASSIGNED", _assigned(assignee, group), None, None))
        span = (max(t2 if started else now, created + timedelta(seconds=60)) - created).total_seconds()
        for k, pick in enumerate(picks):
            visibility, author, body = COMMENTS[pick]
            at = t1 if k == 0 and started else created + timedelta(seconds=span * (k + 1) / (len(picks) + 1))
            self.comment_id += 1
            agent = (assignee or self.members[group][0]) if author == "agent" else None
            rows["comments"].append(
                (self.comment_id, ticket_id, body, visibility, agent, None if agent else customer, at)
            )
            events.append(
                (
                    at,
                    2,
                    "COMMENTED",
                    {"commentId": self.comment_id, "visibility": visibility},
                    agent,
                    None if agent else customer,
                )
            )
        for at, before, after in steps:
            extra = {"resolution": "Answered the customer."} if after == "RESOLVED" else {}
            by = None if after == "CLOSED" else assignee  # the auto-close sweep acts as the system
            events.append((at, 3, "STATUS_CHANGED", {"from": before, "to": after, **extra}, by, None))
        if ticket_id in self.parents:
            for j in range(1, SUB_TICKETS + 1):
                child = ticket_id + j
                at = created + timedelta(seconds=60 * j)
                events.append(
                    (at, 4, "SUB_TICKET_CREATED", {"subTicketId": child, "number": child + 999}, assignee, None)
                )
            resolved_child = ticket_id + 2
            at = created + timedelta(seconds=min(room * 0.5, 86_400))
            events.append(
                (
                    at,
                    5,
                    "SUB_TICKET_RESOLVED",
                    {"subTicketId": resolved_child, "number": resolved_child + 999},
                    None,
                    None,
                )
            )
        if parent_id is not None:
            rows["ticket_collaborating_groups"].append((ticket_id, (parent_id * 7) % GROUPS + 1, created))
        events.sort(key=lambda e: (e[0], e[1]))
        for at, order, kind, payload, agent, by_customer in events:
            if order in (3, 4, 5):  # changes that bump the ticket's version
                version += 1
            self.event_id += 1
            rows["ticket_events"].append(
                (
                    self.event_id,
                    ticket_id,
                    group,
                    kind,
                    agent,
                    by_customer,
                    orjson.dumps({**payload, "version": version}).decode(),
                    at,
                )
            )
        updated = max(e[0] for e in events)

        due, at_risk = self.clocks(ticket_id, priority, status, created, responded, resolved, t2, rows)
        if status in ("RESOLVED", "CLOSED") and rng.random() < 0.2:
            rows["satisfaction_ratings"].append((ticket_id, rng.choices([1, 2, 3, 4, 5], [5, 5, 10, 30, 50])[0], t2))
        unassigned_open = assignee is None and status in ("NEW", "OPEN", "PENDING", "ON_HOLD")
        rows["tickets"].append(
            (
                ticket_id,
                ticket_id + 999,
                SUBJECTS[subject],
                DESCRIPTIONS[description],
                status,
                priority,
                channel,
                category,
                tags,
                language,
                customer,
                assignee,
                group,
                parent_id,
                "Answered the customer." if resolved else None,
                version,
                created,
                updated,
                created if unassigned_open else None,
                responded,
                resolved,
                closed,
                due,
                at_risk,
                self.document_key(subject, description, picks),
            )
        )

    def clocks(
        self,
        ticket_id: int,
        priority: str,
        status: str,
        created: datetime,
        responded: datetime | None,
        resolved: datetime | None,
        paused_at: datetime,
        rows: dict[str, list[tuple[Any, ...]]],
    ) -> tuple[datetime | None, bool]:
        """Both clocks as the scheduler would have left them by now; the ticket's summary."""
        policy = PRIORITIES.index(priority) + 1
        counting_due: list[datetime] = []
        at_risk = False
        for target, seconds, met in zip(
            ("FIRST_RESPONSE", "RESOLUTION"), TARGETS[priority], (responded or resolved, resolved), strict=True
        ):
            due = created + timedelta(seconds=seconds)
            warn = created + timedelta(seconds=seconds * WARNING_PERCENT // 100)
            paused = target == "RESOLUTION" and met is None and status == "PENDING"
            end = met or (paused_at if paused else self.now)
            warned = warn if warn <= end else None
            breached = due if due <= end else None
            running_since: datetime | None = None if (met or paused) else created
            elapsed = int((end - created).total_seconds()) if (met or paused) else 0
            next_check = None
            if running_since is not None and breached is None:
                next_check = due if warned else warn
            if paused and breached is None:
                due_at, warn_at = None, None
            else:
                due_at, warn_at = due, warn
            state = "BREACHED" if breached else "MET" if met else "RUNNING" if running_since else "PAUSED"
            if running_since is not None:
                counting_due.append(due)
                at_risk = at_risk or warned is not None
            self.clock_id += 1
            rows["sla_clocks"].append(
                (
                    self.clock_id,
                    ticket_id,
                    policy,
                    target,
                    1,
                    state,
                    seconds,
                    elapsed,
                    created,
                    running_since,
                    due_at,
                    warn_at,
                    warned,
                    breached,
                    met,
                    next_check,
                )
            )
        return (min(counting_due) if counting_due else None), at_risk


def _assigned(agent: int, group: int) -> dict[str, Any]:
    return {"assigneeId": agent, "previousAssigneeId": None, "groupId": group, "reason": "LEAST_LOADED"}


COLUMNS: dict[str, list[str]] = {
    "tickets": [
        "id",
        "number",
        "subject",
        "description",
        "status",
        "priority",
        "channel",
        "category",
        "tags",
        "language",
        "customer_id",
        "assignee_id",
        "group_id",
        "parent_id",
        "resolution",
        "version",
        "created_at",
        "updated_at",
        "queued_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "sla_due_at",
        "sla_at_risk",
        "document_key",
    ],
    "comments": ["id", "ticket_id", "body", "visibility", "author_agent_id", "author_customer_id", "created_at"],
    "ticket_events": [
        "id",
        "ticket_id",
        "group_id",
        "type",
        "actor_agent_id",
        "actor_customer_id",
        "data",
        "occurred_at",
    ],
    "sla_clocks": [
        "id",
        "ticket_id",
        "policy_id",
        "target",
        "cycle",
        "state",
        "target_seconds",
        "elapsed_seconds",
        "started_at",
        "running_since",
        "due_at",
        "warn_at",
        "warned_at",
        "breached_at",
        "met_at",
        "next_check_at",
    ],
    "satisfaction_ratings": ["ticket_id", "score", "rated_at"],
    "ticket_collaborating_groups": ["ticket_id", "group_id", "created_at"],
}
# After the tickets of a chunk (its staging INSERT), in this order.
LOAD_ORDER = [
    "comments",
    "ticket_events",
    "sla_clocks",
    "satisfaction_ratings",
    "ticket_collaborating_groups",
]


def _people(customers: int, now: datetime) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    rng = random.Random(11)
    strategies = ["LEAST_LOADED", "ROUND_ROBIN"]
    yield (
        "groups",
        ["id", "name", "assignment_strategy"],
        [(g, GROUP_NAMES[g - 1], strategies[g % 2]) for g in range(1, GROUPS + 1)],
    )
    yield (
        "agents",
        ["id", "name", "email", "password_hash", "role", "presence", "capacity", "languages"],
        [
            (a, f"Agent {a}", f"agent{a}@bench.test", "!", "AGENT", "ONLINE", 100_000, ["en", "zh"])
            for a in range(1, AGENTS + 1)
        ],
    )
    yield (
        "group_members",
        ["group_id", "agent_id", "last_assigned_at"],
        [((a - 1) % GROUPS + 1, a, now - timedelta(seconds=a)) for a in range(1, AGENTS + 1)],
    )
    yield (
        "customers",
        ["id", "name", "email", "tier", "language"],
        [
            (
                c,
                f"Customer {c}",
                f"customer{c}@bench.test",
                "VIP" if rng.random() < 0.05 else "STANDARD",
                "zh" if c % 4 == 0 else "en",
            )
            for c in range(1, customers + 1)
        ],
    )
    yield (
        "routing_rules",
        ["id", "name", "position", "match_keywords", "set_category", "add_tags", "route_to_group_id"],
        [
            (r + 1, f"{GROUP_NAMES[r]} keywords", r + 1, keywords, category, tags, r + 1)
            for r, (keywords, category, tags) in enumerate(RULES)
        ],
    )
    yield (
        "sla_policies",
        ["id", "name", "position", "match_priorities", "first_response_seconds", "resolution_seconds"],
        [(i + 1, f"{p.title()} priority", 4 - i, [p], TARGETS[p][0], TARGETS[p][1]) for i, p in enumerate(PRIORITIES)],
    )


# ---------------------------------------------------------------- loading


async def _load(url: str, size: str) -> SeedInfo:
    n = SIZES[size]
    customers = max(1_000, n // 4)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    conn = await asyncpg.connect(plain_url(url))
    try:
        # Rows are consistent by construction: skip the per-row foreign-key triggers.
        await conn.execute("SET session_replication_role = replica")
        ticket_columns = ", ".join(COLUMNS["tickets"][:-1])
        await conn.execute(
            "CREATE TEMP TABLE benchmark_documents (document_key int PRIMARY KEY, vector tsvector NOT NULL);"
            " CREATE TEMP TABLE benchmark_tickets AS"
            f" SELECT {ticket_columns}, 0 AS document_key FROM tickets WITH NO DATA"
        )
        for table, columns, records in _people(customers, now):
            await conn.copy_records_to_table(table, records=records, columns=columns)
        generator = Generator(n, customers, now)
        for first in range(1, n + 1, CHUNK):
            rows = generator.chunk(first, min(n, first + CHUNK - 1))
            async with conn.transaction():
                # asyncpg has no binary tsvector encoder: tickets go through a staging table and
                # take their search document from the few distinct ones.
                await conn.executemany(
                    "INSERT INTO benchmark_documents VALUES ($1, $2::tsvector)", generator.new_documents
                )
                generator.new_documents.clear()
                await conn.copy_records_to_table(
                    "benchmark_tickets", records=rows["tickets"], columns=COLUMNS["tickets"]
                )
                ticket_columns = ", ".join(COLUMNS["tickets"][:-1])
                await conn.execute(
                    f"INSERT INTO tickets ({ticket_columns}, search_vector) SELECT {ticket_columns}, d.vector"
                    " FROM benchmark_tickets JOIN benchmark_documents d USING (document_key) ORDER BY id;"
                    " TRUNCATE benchmark_tickets"
                )
                for table in LOAD_ORDER:
                    if rows[table]:
                        await conn.copy_records_to_table(table, records=rows[table], columns=COLUMNS[table])
            log(f"seed {size}: {min(n, first + CHUNK - 1)}/{n} tickets ({time.perf_counter() - started:.0f}s)")
        await conn.execute("SET session_replication_role = DEFAULT")
        for table in (
            "groups",
            "agents",
            "customers",
            "routing_rules",
            "sla_policies",
            "tickets",
            "comments",
            "ticket_events",
            "sla_clocks",
        ):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("SELECT setval('ticket_number_seq', (SELECT max(number) FROM tickets))")
        info = SeedInfo(
            size=size,
            tickets=n,
            customers=customers,
            seeded_at=now.isoformat(),
            lifecycle_pool=generator.pool,
            detail_tickets=sorted(generator.parents),
            seconds=0.0,
        )
        log(f"seed {size}: vacuum analyze")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return info


async def _create_admin(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=1)
    try:
        settings = Settings(database_url=url, data_dir=Path("/tmp/helpdesk-bench"))
        await ensure_admin(Runtime(engine=engine, settings=settings), ADMIN_EMAIL, ADMIN_PASSWORD, "Benchmark admin")
    finally:
        await engine.dispose()


async def _stored(url: str) -> SeedInfo | None:
    conn = await asyncpg.connect(plain_url(url))
    try:
        exists = await conn.fetchval("SELECT to_regclass('benchmark_seed') IS NOT NULL")
        value = await conn.fetchval("SELECT value FROM benchmark_seed WHERE key = 'info'") if exists else None
    finally:
        await conn.close()
    return SeedInfo(**orjson.loads(value)) if value else None


async def _remember(url: str, info: SeedInfo) -> None:
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute("CREATE TABLE benchmark_seed (key text PRIMARY KEY, value text NOT NULL)")
        await conn.execute("INSERT INTO benchmark_seed VALUES ('info', $1)", orjson.dumps(info.to_json()).decode())
    finally:
        await conn.close()


def _admin_engine(base: str) -> Any:
    return create_sync_engine(sync_url(base), isolation_level="AUTOCOMMIT")


def ensure_seeded(base: str, size: str) -> tuple[str, SeedInfo, bool]:
    """The URL of the data set of `size` (loaded now unless a complete one exists), its
    description, and whether it was loaded by this call."""
    url = database_url(base, size)
    name = database_name(size)
    admin = _admin_engine(base)
    with admin.connect() as conn:
        names = [
            r[0]
            for r in conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"helpdesk_bench_{size}_%"}
            )
        ]
        for stale in names:
            if stale != name and len(stale) == len(name):
                # Not WITH (FORCE): a data set another run still uses stays until it is idle.
                try:
                    conn.execute(text(f'DROP DATABASE "{stale}"'))
                    log(f"dropped the stale benchmark database {stale}")
                except DBAPIError:
                    log(f"kept the stale benchmark database {stale}: in use")
        exists = name in names
    if exists:
        info = asyncio.run(_stored(url))
        if info is not None:
            admin.dispose()
            return url, info, False
        log(f"{name} is incomplete (an interrupted load): loading again")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    started = time.perf_counter()
    upgrade(url)
    info = asyncio.run(_load(url, size))
    asyncio.run(_create_admin(url))
    info = SeedInfo(**{**info.to_json(), "seconds": round(time.perf_counter() - started, 1)})
    asyncio.run(_remember(url, info))
    log(f"seed {size}: loaded in {info.seconds:.0f}s")
    return url, info, True


# ---------------------------------------------------------------- after a run (outside the fingerprint)


async def reset(url: str, info: SeedInfo) -> None:
    """Removes what earlier runs added: their tickets (with events, clocks, comments), customers
    and idempotency keys. The lifecycle pool keeps its statuses; the scenario reads them."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        async with conn.transaction():
            # Foreign-key actions would scan unindexed columns (events' actor_customer_id ...) once
            # per deleted row: switch them off and delete every referencing row by range instead.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("DELETE FROM idempotency_keys")
            await conn.execute(
                "DELETE FROM sla_notifications WHERE clock_id IN (SELECT id FROM sla_clocks WHERE ticket_id > $1)",
                info.tickets,
            )
            for table, column in await _references(conn, "tickets"):
                if table != "tickets":
                    await conn.execute(f'DELETE FROM "{table}" WHERE "{column}" > $1', info.tickets)
            await conn.execute("DELETE FROM tickets WHERE id > $1", info.tickets)
            await conn.execute("DELETE FROM customers WHERE id > $1", info.customers)
        await conn.execute("UPDATE agents SET presence = 'ONLINE' WHERE id <= $1", AGENTS)
    finally:
        await conn.close()


async def _references(conn: asyncpg.Connection, table: str) -> list[tuple[str, str]]:
    """(table, column) of every single-column foreign key to `table`."""
    rows = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS source, a.attname AS column
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.confrelid = $1::regclass AND array_length(c.conkey, 1) = 1
        """,
        table,
    )
    return [(r["source"], r["column"]) for r in rows]
