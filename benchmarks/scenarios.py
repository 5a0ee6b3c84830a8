"""What each scenario sends: GraphQL documents of frontend_examples/ (and benchmarks/documents/),
their variables over the seeded data, and how a scenario's levels are run and counted."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from app.domain import global_ids
from benchmarks import fanout, seed, servers, webhook_sink
from benchmarks.servers import Baseline, log, rss_mb
from tests.processes import ServerProcess
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "frontend_examples"
DOCUMENTS = Path(__file__).resolve().parent / "documents"
LOGIN = (EXAMPLES / "console" / "Login.graphql").read_text()
CONSOLE_LIST = (DOCUMENTS / "ConsoleList.graphql").read_text()
TICKET_DETAIL = (EXAMPLES / "console" / "TicketDetail.graphql").read_text()
CREATE_TICKET = (EXAMPLES / "console" / "CreateTicket.graphql").read_text()
PARTNER_CREATE_TICKET = (EXAMPLES / "partner" / "CreateTicket.graphql").read_text()
TRANSITIONS = {
    "start": (EXAMPLES / "console" / "StartTicket.graphql").read_text(),
    "setPending": (EXAMPLES / "console" / "SetTicketPending.graphql").read_text(),
    "resume": (EXAMPLES / "console" / "ResumeTicket.graphql").read_text(),
    "resolve": (EXAMPLES / "console" / "ResolveTicket.graphql").read_text(),
    "reopen": (EXAMPLES / "console" / "ReopenTicket.graphql").read_text(),
}
_STATEMENTS = re.compile(r'^helpdesk_db_statements_total\{path="/graphql"\} ([0-9.e+]+)$', re.MULTILINE)


@dataclass(frozen=True)
class Profile:
    """How long and how hard: --quick or the full run."""

    name: str
    warmup: float
    duration: float
    list_levels: tuple[int, ...]
    detail_levels: tuple[int, ...]
    write_levels: tuple[int, ...]
    subscribers: tuple[int, ...]
    fanout_rounds: int
    statement_samples: int


QUICK = Profile("quick", 1.0, 2.5, (1, 16, 64), (1, 16), (1, 16), (100,), 2, 5)
FULL = Profile("full", 3.0, 15.0, (1, 16, 64), (1, 16, 64), (1, 16), (1_000, 5_000, 10_000), 5, 20)


@dataclass
class Target:
    """Where the load goes and what each scenario may use."""

    server: ServerProcess
    baseline: Baseline | None
    token: str
    info: seed.SeedInfo
    database_url: str
    profile: Profile
    run_id: str = field(default_factory=lambda: f"{int(time.time())}")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def body(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"query": query, "variables": variables}


def drive(
    port: int,
    chains: list[list[dict[str, Any]]],
    concurrency: int,
    profile: Profile,
    *,
    headers: dict[str, str],
    cycle: bool,
) -> dict[str, Any]:
    """One level of load from a separate process (benchmarks.loadgen)."""
    job = {
        "host": "127.0.0.1",
        "port": port,
        "path": "/graphql",
        "headers": headers,
        "concurrency": concurrency,
        "warmup": profile.warmup,
        "duration": profile.duration,
        "chains": chains,
        "cycle": cycle,
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen"],
        input=json.dumps(job).encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=profile.warmup + profile.duration + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load client failed: {done.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    log(
        f"  c={concurrency:>3}: {result['rps']:>8.1f} req/s  p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms"
        f"  errors {result['errors']}"
    )
    for sample in result.get("error_samples", []):
        log(f"    error: {sample}")
    return result


def login(server: ServerProcess) -> str:
    response = httpx.post(
        f"{server.url}/graphql",
        json=body(LOGIN, {"email": seed.ADMIN_EMAIL, "password": seed.ADMIN_PASSWORD}),
        timeout=30,
    )
    token = response.json()["data"]["login"]["token"]
    if not token:
        raise RuntimeError(f"login failed: {response.text}")
    return str(token)


def statements_per_request(target: Target, bodies: list[dict[str, Any]]) -> float:
    """SQL statements one request sends (the server's helpdesk_db_statements_total for /graphql),
    averaged over `bodies` sent one after another."""

    def scrape(client: httpx.Client) -> float:
        found = _STATEMENTS.search(client.get(f"{target.server.url}/metrics").text)
        return float(found.group(1)) if found else 0.0

    with httpx.Client(timeout=30, headers=target.auth) as client:
        before = scrape(client)
        for b in bodies:
            client.post(f"{target.server.url}/graphql", json=b).raise_for_status()
        after = scrape(client)
    return round((after - before) / max(1, len(bodies)), 2)


def _gid(type_name: str, pk: int) -> str:
    return global_ids.encode(type_name, pk)


# ---------------------------------------------------------------- read scenarios


def list_bodies(first: int = 50) -> list[dict[str, Any]]:
    return [body(CONSOLE_LIST, {"groupId": _gid("Group", g), "first": first}) for g in range(1, seed.GROUPS + 1)]


def check_same_answer(target: Target) -> dict[str, Any]:
    """The baseline answers the same tickets with the same fields as the GraphQL server."""
    assert target.baseline is not None
    b = list_bodies()[2]
    graphql = httpx.post(f"{target.server.url}/graphql", json=b, headers=target.auth, timeout=30).json()
    base = httpx.post(f"{target.baseline.url}/graphql", json=b, timeout=30).json()
    if graphql.get("errors") or base.get("errors"):
        return {"same_tickets": False, "errors": (graphql.get("errors") or base.get("errors"))[:2]}
    ours, theirs = graphql["data"]["tickets"], base["data"]["tickets"]

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    same_ids = [e["node"]["id"] for e in ours["edges"]] == [e["node"]["id"] for e in theirs["edges"]]
    return {
        "same_tickets": same_ids and ours["totalCount"] == theirs["totalCount"],
        "same_shape": shape(ours["edges"][:1]) == shape(theirs["edges"][:1]),
        "response_bytes": {"graphql": len(json.dumps(graphql)), "baseline": len(json.dumps(base))},
    }


def console_list(target: Target) -> dict[str, Any]:
    chains = [[b] for b in list_bodies()]
    result: dict[str, Any] = {"document": "benchmarks/documents/ConsoleList.graphql", "page_size": 50, "levels": []}
    result["sql_statements_per_request"] = statements_per_request(
        target, list_bodies()[:1] * target.profile.statement_samples
    )
    if target.baseline is not None:
        result["baseline_check"] = check_same_answer(target)
    for c in target.profile.list_levels:
        log(f"console list (GraphQL), concurrency {c}")
        graphql = drive(target.server.port, chains, c, target.profile, headers=target.auth, cycle=True)
        level: dict[str, Any] = {"concurrency": c, "graphql": graphql}
        if target.baseline is not None:
            log(f"console list (baseline), concurrency {c}")
            base = drive(target.baseline.port, chains, c, target.profile, headers={}, cycle=True)
            level["baseline"] = base
            level["ratio_to_baseline"] = round(graphql["rps"] / base["rps"], 3) if base["rps"] else None
        result["levels"].append(level)
    return result


def ticket_detail(target: Target) -> dict[str, Any]:
    bodies = [body(TICKET_DETAIL, {"id": _gid("Ticket", pk)}) for pk in target.info.detail_tickets]
    result: dict[str, Any] = {
        "document": "frontend_examples/console/TicketDetail.graphql",
        "shape": f"{seed.DETAIL_COMMENTS} comments, {seed.SUB_TICKETS} sub-tickets, history of ~30 events",
        "sql_statements_per_request": statements_per_request(target, bodies[: target.profile.statement_samples]),
        "levels": [],
    }
    for c in target.profile.detail_levels:
        log(f"ticket detail, concurrency {c}")
        result["levels"].append(
            drive(target.server.port, [[b] for b in bodies], c, target.profile, headers=target.auth, cycle=True)
        )
    return result


# ---------------------------------------------------------------- write scenarios


def intake_bodies(target: Target, count: int, label: str, idempotent: bool) -> list[dict[str, Any]]:
    """createTicket requests that fire the routing rules; most customers exist (found by email)."""
    out = []
    for i in range(count):
        subject = seed.SUBJECTS[i % len(seed.SUBJECTS)]
        known = i % 10 < 7
        email = (
            f"customer{(i * 7919) % target.info.customers + 1}@bench.test"
            if known
            else f"new-{target.run_id}-{label}-{i}@bench.test"
        )
        variables: dict[str, Any] = {
            "input": {
                "subject": f"{subject} ({label} {i})",
                "description": seed.DESCRIPTIONS[i % len(seed.DESCRIPTIONS)],
                "channel": seed.CHANNELS[i % len(seed.CHANNELS)],
                "customer": {"email": email},
            }
        }
        if idempotent:
            variables["idempotencyKey"] = f"bench-{target.run_id}-{label}-{i}"
            out.append(body(PARTNER_CREATE_TICKET, variables))
        else:
            out.append(body(CREATE_TICKET, variables))
    return out


def _write_budget(profile: Profile, concurrency: int) -> int:
    """Requests enough for the warm-up and the measured window at a generous rate."""
    return int((profile.warmup + profile.duration) * (150 + 40 * concurrency))


def intake(target: Target) -> dict[str, Any]:
    profile = target.profile
    result: dict[str, Any] = {
        "documents": [
            "frontend_examples/console/CreateTicket.graphql",
            "frontend_examples/partner/CreateTicket.graphql",
        ],
        "routing_rules": len(seed.RULES),
        "sql_statements_per_request": statements_per_request(
            target, intake_bodies(target, profile.statement_samples, "count", False)
        ),
        "sql_statements_per_request_idempotent": statements_per_request(
            target, intake_bodies(target, profile.statement_samples, "count-key", True)
        ),
        "levels": [],
        "idempotent_levels": [],
    }
    for c in profile.write_levels:
        log(f"intake, concurrency {c}")
        bodies = intake_bodies(target, _write_budget(profile, c), f"c{c}", False)
        result["levels"].append(
            drive(target.server.port, [[b] for b in bodies], c, profile, headers=target.auth, cycle=False)
        )
    for c in profile.write_levels[-1:]:
        log(f"intake with idempotency keys, concurrency {c}")
        bodies = intake_bodies(target, _write_budget(profile, c), f"k{c}", True)
        result["idempotent_levels"].append(
            drive(target.server.port, [[b] for b in bodies], c, profile, headers=target.auth, cycle=False)
        )
    return result


def _next_action(status: str, previous: str | None) -> tuple[str, str] | None:
    """The transition the lifecycle mix takes from `status` (and where it leads)."""
    match status:
        case "NEW":
            return "start", "OPEN"
        case "OPEN":
            return ("resolve", "RESOLVED") if previous == "resume" else ("setPending", "PENDING")
        case "PENDING" | "ON_HOLD":
            return "resume", "OPEN"
        case "RESOLVED":
            return "reopen", "OPEN"
    return None


def lifecycle_chains(statuses: list[tuple[int, str]], steps: int) -> list[list[dict[str, Any]]]:
    """Per ticket, `steps` transitions in order (start, pending, resume, resolve, reopen, ...)."""
    chains = []
    for pk, status in statuses:
        chain, previous = [], None
        for _ in range(steps):
            step = _next_action(status, previous)
            if step is None:
                break
            action, status = step
            variables: dict[str, Any] = {"id": _gid("Ticket", pk)}
            if action == "resolve":
                variables["resolution"] = "Sent the replacement; the customer confirmed."
            if action in ("setPending", "reopen"):
                variables["reason"] = "Waiting for the customer" if action == "setPending" else "Still broken"
            chain.append(body(TRANSITIONS[action], variables))
            previous = action
        if chain:
            chains.append(chain)
    return chains


async def _pool_statuses(url: str, ids: list[int]) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(seed.plain_url(url))
    try:
        rows = await conn.fetch("SELECT id, status FROM tickets WHERE id = ANY($1::bigint[]) ORDER BY id", ids)
    finally:
        await conn.close()
    return [(r["id"], r["status"]) for r in rows]


def lifecycle(target: Target) -> dict[str, Any]:
    profile = target.profile
    statuses = asyncio.run(_pool_statuses(target.database_url, target.info.lifecycle_pool))
    steps = 8
    chains = lifecycle_chains(statuses, steps)
    counting, chains = chains[:2], chains[2:]
    sample = [b for chain in counting for b in chain][: profile.statement_samples]
    result: dict[str, Any] = {
        "mix": "start, setPending, resume, resolve, reopen (each ticket in order; tickets in parallel)",
        "tickets_available": len(chains),
        "sql_statements_per_request": statements_per_request(target, sample),
        "levels": [],
    }
    per_level = max(1, len(chains) // len(profile.write_levels))
    for i, c in enumerate(profile.write_levels):
        log(f"lifecycle, concurrency {c}")
        mine = chains[i * per_level : (i + 1) * per_level]
        result["levels"].append(drive(target.server.port, mine, c, profile, headers=target.auth, cycle=False))
    return result


# ---------------------------------------------------------------- subscriptions


def subscriptions(target: Target) -> dict[str, Any]:
    """benchmarks/fanout.py's measurement: N subscribers of ticketEvents, one createTicket,
    delivery latency to each, and RSS per connection. Each N gets a fresh server of its own, so
    memory held by an earlier N (or by the other scenarios) does not count against it."""
    results = []
    for n in target.profile.subscribers:
        log(f"subscriptions: {n} subscribers")
        try:
            with servers.helpdesk(target.database_url) as server:
                measured = asyncio.run(
                    fanout.measure(
                        server, n, target.profile.fanout_rounds, email=seed.ADMIN_EMAIL, password=seed.ADMIN_PASSWORD
                    )
                )
                measured["server_rss_mb_after"] = round(rss_mb(server.process.pid), 1)
            results.append(measured)
        except Exception as error:
            log(f"  {n} subscribers failed: {type(error).__name__}: {error}")
            results.append({"subscribers": n, "error": f"{type(error).__name__}: {str(error)[:300]}"})
    return {"subscription": fanout.SUBSCRIPTION, "results": results}


SUBMIT_WEB_FORM = (EXAMPLES / "portal" / "SubmitWebForm.graphql").read_text()
WEB_FORM_CONCURRENCY = 16
# The target: the anonymous web form keeps at least this share of createTicket's throughput.
WEB_FORM_TARGET_RATIO = 0.8


def web_form_bodies(target: Target, count: int) -> list[dict[str, Any]]:
    """submitWebForm requests like intake's: routing keywords in the subject, a new address each
    (the per-address rate limit never refuses one)."""
    out = []
    for i in range(count):
        variables = {
            "input": {
                "name": f"访客 {i}",
                "email": f"form-{target.run_id}-{i}@bench.test",
                "subject": f"{seed.SUBJECTS[i % len(seed.SUBJECTS)]} (form {i})",
                "description": seed.DESCRIPTIONS[i % len(seed.DESCRIPTIONS)],
            },
            "idempotencyKey": f"form-{target.run_id}-{i}",
        }
        out.append(body(SUBMIT_WEB_FORM, variables))
    return out


def _mutation_exists(target: Target, name: str) -> bool:
    query = '{ __type(name: "Mutation") { fields { name } } }'
    response = httpx.post(f"{target.server.url}/graphql", json=body(query, {}), headers=target.auth, timeout=30)
    return name in {f["name"] for f in response.json()["data"]["__type"]["fields"]}


def web_form(target: Target) -> dict[str, Any]:
    """submitWebForm (anonymous) against createTicket (an agent), both at concurrency 16 in the
    same run on the same server: the form's share of createTicket's throughput. The server runs
    with HELPDESK_WEB_FORM_LIMIT raised (benchmarks.servers.SERVE_ENV): every request comes
    from 127.0.0.1, which the per-client limit would otherwise stop after five."""
    if not _mutation_exists(target, "submitWebForm"):
        return {"skipped": "submitWebForm is not in the schema yet (web form, issue 18 scope 3)"}
    profile, c = target.profile, WEB_FORM_CONCURRENCY
    budget = _write_budget(profile, c)
    log(f"createTicket, concurrency {c}")
    created = drive(
        target.server.port,
        [[b] for b in intake_bodies(target, budget, f"wf{c}", False)],
        c,
        profile,
        headers=target.auth,
        cycle=False,
    )
    log(f"submitWebForm, concurrency {c}")
    submitted = drive(
        target.server.port, [[b] for b in web_form_bodies(target, budget)], c, profile, headers={}, cycle=False
    )
    ratio = submitted["rps"] / created["rps"] if created["rps"] else 0.0
    return {
        "documents": [
            "frontend_examples/portal/SubmitWebForm.graphql",
            "frontend_examples/console/CreateTicket.graphql",
        ],
        "concurrency": c,
        "create_ticket": created,
        "submit_web_form": submitted,
        "ratio": round(ratio, 3),
        "target_ratio": WEB_FORM_TARGET_RATIO,
        "met": ratio >= WEB_FORM_TARGET_RATIO,
    }


# ---------------------------------------------------------------- automations and webhooks

AUTOMATIONS_CONCURRENCY = 16
AUTOMATIONS = 100
WEBHOOKS = 5
# The target: createTicket keeps at least this share of its throughput with them.
AUTOMATIONS_TARGET_RATIO = 0.8
# How long the consumers get to catch up after the load, before the scenario gives up waiting.
CATCH_UP_SECONDS = 300
CREATE_AUTOMATION = """mutation($input: AutomationInput!) {
  createAutomation(input: $input) { automation { id } userErrors { field message code } } }"""
DELETE_AUTOMATION = "mutation($id: ID!) { deleteAutomation(id: $id) { userErrors { code } } }"
CREATE_WEBHOOK = """mutation($input: WebhookInput!) {
  createWebhook(input: $input) { webhook { id } secret userErrors { field message code } } }"""
DELETE_WEBHOOK = "mutation($id: ID!) { deleteWebhook(id: $id) { userErrors { code } } }"
# Words of the bench subjects: the automations that look for one of them can match.
MATCHING_WORDS = ["Refund", "order", "Delivery", "退款", "password"]


def automation_inputs(run_id: str) -> list[dict[str, Any]]:
    """100 automations, three conditions each: 80 on TICKET_CREATED, 20 on TICKET_UPDATED. Every
    20th looks for a word the subjects have (and adds a tag when the channel matches too); the
    others look for words no ticket has, so most never fire, as in a real rule set."""
    out = []
    for i in range(AUTOMATIONS):
        matching = i % 20 == 0
        word = MATCHING_WORDS[i // 20] if matching else f"never-{i}"
        out.append(
            {
                "name": f"bench {run_id} #{i}",
                "trigger": "TICKET_CREATED" if i % 5 else "TICKET_UPDATED",
                "conditions": [
                    {"field": "channel", "operator": "IN", "value": [seed.CHANNELS[i % 7], seed.CHANNELS[(i + 3) % 7]]},
                    {"field": "subject", "operator": "CONTAINS", "value": word},
                    {"field": "priority", "operator": "NOT_EQUALS", "value": "LOW"},
                ],
                "actions": [{"type": "ADD_TAGS", "value": {"tags": [f"auto-{i}"]}}],
            }
        )
    return out


def _mutate(target: Target, document: str, variables: dict[str, Any], name: str) -> dict[str, Any]:
    response = httpx.post(
        f"{target.server.url}/graphql", json=body(document, variables), headers=target.auth, timeout=30
    )
    payload: dict[str, Any] = response.json()["data"][name]
    if payload.get("userErrors"):
        raise RuntimeError(f"{name}: {payload['userErrors']}")
    return payload


async def _consumers_lag(url: str) -> dict[str, Any]:
    """Events each consumer has still to read, and deliveries not yet sent."""
    conn = await asyncpg.connect(seed.plain_url(url))
    try:
        behind = {
            r["name"]: r["behind"]
            for r in await conn.fetch(
                "SELECT c.name, (SELECT count(*) FROM ticket_events e WHERE (e.txid, e.id) > (c.txid, c.event_id))"
                " AS behind FROM event_consumers c WHERE c.name IN ('automations', 'webhooks')"
            )
        }
        undelivered = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status IN ('PENDING', 'RETRYING')"
        )
        delivered = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'SUCCEEDED'")
    finally:
        await conn.close()
    return {"events_behind": behind, "deliveries_undelivered": undelivered, "deliveries_succeeded": delivered}


def _caught_up(lag: dict[str, Any]) -> bool:
    return not any(lag["events_behind"].values()) and not lag["deliveries_undelivered"]


class ServerCpu:
    """The server process's CPU time (user and system, its children too) per ticket created
    between `start` and `per_ticket`: on a shared machine the throughput ratio moves with other
    load, the CPU each ticket costs the server much less."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.cpu, self.tickets = 0.0, 0

    def _now(self) -> tuple[float, int]:
        process = psutil.Process(self.target.server.process.pid)
        cpu = 0.0
        for p in (process, *process.children(recursive=True)):
            times = p.cpu_times()
            cpu += times.user + times.system
        return cpu, asyncio.run(_tickets(self.target.database_url))

    def start(self) -> None:
        self.cpu, self.tickets = self._now()

    def per_ticket(self) -> float | None:
        """Milliseconds of the server's CPU per ticket since `start`."""
        cpu, tickets = self._now()
        made = tickets - self.tickets
        return round((cpu - self.cpu) * 1000 / made, 2) if made else None


async def _tickets(url: str) -> int:
    conn = await asyncpg.connect(seed.plain_url(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM tickets"))
    finally:
        await conn.close()


def automations(target: Target) -> dict[str, Any]:
    """createTicket at concurrency 16 without automations or webhooks, then with 100 enabled
    automations (three conditions each, most never match) and 5 webhooks to a local receiver
    (benchmarks/webhook_sink.py, its own process), same server, same run: the second's share of
    the first's throughput. The automations and the webhook fan-out and deliveries run in the
    server's background consumers, on the same two cores: the result says how far behind they
    were when the load stopped and how long they took to catch up."""
    profile, c = target.profile, AUTOMATIONS_CONCURRENCY
    budget = _write_budget(profile, c)
    log(f"createTicket without automations, concurrency {c}")
    cpu = ServerCpu(target)
    cpu.start()
    without = drive(
        target.server.port,
        [[b] for b in intake_bodies(target, budget, f"au0-{c}", False)],
        c,
        profile,
        headers=target.auth,
        cycle=False,
    )
    cpu_without = cpu.per_ticket()
    sink = webhook_sink.SinkProcess(Path(tempfile.mkdtemp(prefix="helpdesk-sink-")), free_port())
    automation_ids, webhook_ids = [], []
    try:
        for spec in automation_inputs(target.run_id):
            created = _mutate(target, CREATE_AUTOMATION, {"input": spec}, "createAutomation")
            automation_ids.append(created["automation"]["id"])
        for n in range(WEBHOOKS):
            spec = {"name": f"bench {target.run_id} #{n}", "url": sink.url(n)}
            created = _mutate(target, CREATE_WEBHOOK, {"input": spec}, "createWebhook")
            webhook_ids.append(created["webhook"]["id"])
            sink.secrets.append(created["secret"])
        sink.start()
        log(f"createTicket with {AUTOMATIONS} automations and {WEBHOOKS} webhooks, concurrency {c}")
        cpu.start()
        with_them = drive(
            target.server.port,
            [[b] for b in intake_bodies(target, budget, f"au1-{c}", False)],
            c,
            profile,
            headers=target.auth,
            cycle=False,
        )
        lag_at_end, catch_up, lag = _catch_up(target)
        # Until the consumers caught up: their work for these tickets included.
        cpu_with = cpu.per_ticket()
        log(f"  server CPU per ticket: {cpu_without} ms without, {cpu_with} ms with")
        log(f"with a consumers process beside the server, concurrency {c}")
        helper = _consumers_process(target)
        try:
            with_helper = drive(
                target.server.port,
                [[b] for b in intake_bodies(target, budget, f"au2-{c}", False)],
                c,
                profile,
                headers=target.auth,
                cycle=False,
            )
            helper_lag_at_end, helper_catch_up, helper_lag = _catch_up(target)
        finally:
            helper.terminate()
            helper.wait(timeout=30)
        received = sink.stats()
    finally:
        sink.stop()
        for automation_id in automation_ids:
            _mutate(target, DELETE_AUTOMATION, {"id": automation_id}, "deleteAutomation")
        for webhook_id in webhook_ids:
            _mutate(target, DELETE_WEBHOOK, {"id": webhook_id}, "deleteWebhook")
    ratio = with_them["rps"] / without["rps"] if without["rps"] else 0.0
    helper_ratio = with_helper["rps"] / without["rps"] if without["rps"] else 0.0
    return {
        "document": "frontend_examples/console/CreateTicket.graphql",
        "concurrency": c,
        "automations": AUTOMATIONS,
        "webhooks": WEBHOOKS,
        "without": without,
        "with_automations_and_webhooks": with_them,
        "ratio": round(ratio, 3),
        "target_ratio": AUTOMATIONS_TARGET_RATIO,
        "met": ratio >= AUTOMATIONS_TARGET_RATIO,
        "server_cpu_ms_per_ticket": {"without": cpu_without, "with_automations_and_webhooks": cpu_with},
        "lag_when_load_stopped": lag_at_end,
        "caught_up_after_seconds": catch_up,
        "lag_after_wait": lag,
        "with_a_consumers_process": {
            "process": "benchmarks/consumers_process.py: webhooks and automations as `helpdesk worker` runs them",
            "create_ticket": with_helper,
            "ratio": round(helper_ratio, 3),
            "met": helper_ratio >= AUTOMATIONS_TARGET_RATIO,
            "lag_when_load_stopped": helper_lag_at_end,
            "caught_up_after_seconds": helper_catch_up,
            "lag_after_wait": helper_lag,
        },
        "receiver": received,
    }


def _catch_up(target: Target) -> tuple[dict[str, Any], float | None, dict[str, Any]]:
    """The consumers' lag now, how long they take to catch up (None: not within
    CATCH_UP_SECONDS), and the lag then."""
    at_end = lag = asyncio.run(_consumers_lag(target.database_url))
    started = time.monotonic()
    while not _caught_up(lag) and time.monotonic() - started < CATCH_UP_SECONDS:
        time.sleep(0.25)
        lag = asyncio.run(_consumers_lag(target.database_url))
    caught_up = round(time.monotonic() - started, 2) if _caught_up(lag) else None
    log(f"  behind when the load stopped: {at_end}; caught up after {caught_up} s")
    return at_end, caught_up, lag


def _consumers_process(target: Target) -> subprocess.Popen[bytes]:
    env = {**os.environ, **servers.SERVE_ENV}
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.consumers_process", target.database_url], cwd=ROOT, env=env
    )


SCENARIOS: dict[str, Callable[[Target], dict[str, Any]]] = {
    "list": console_list,
    "detail": ticket_detail,
    "intake": intake,
    "lifecycle": lifecycle,
    "subscriptions": subscriptions,
    "web_form": web_form,
    "automations": automations,
}
