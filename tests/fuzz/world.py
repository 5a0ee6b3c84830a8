"""A small helpdesk to fuzz: groups of every assignment strategy, agents of every role, customers,
tickets in several states with a sub-ticket, comments (an INTERNAL note with a file among them), a
link, knowledge articles, an SLA policy short enough to breach during the run, a routing rule and
an API token. Seeded through the API (the frontend_examples documents), so it is data a real
console would make. Two of its customers are signed in by link (customer_view.py)."""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fuzz import oracle
from tests.fuzz.customer_view import CustomerView
from tests.support import load_document

_ID = re.compile(r'"(?:id|deletedId)":"([A-Za-z0-9_\-]{4,40})"')
POOL_LIMIT = 3000
SURVEY = os.environ.get("HELPDESK_FUZZ_SURVEY")
# Words of the seed that only some callers may read: customers' oracles look for them.
INTERNAL_WORD = "quokkafraud"  # an INTERNAL note's body and its file's name
CARL_WORD = "pelicansmoke"  # Carl's ticket, not Vera's to read
VERA_WORD = "wombatparcel"  # Vera's ticket, not Carl's to read
SECRETS = {"customer": (INTERNAL_WORD, VERA_WORD), "other_customer": (INTERNAL_WORD, CARL_WORD)}


@dataclass
class World:
    base_url: str
    http: httpx.Client
    tokens: dict[str, str | None]
    pool: list[str] = field(default_factory=list)
    # Customer sessions among the tokens' roles, and what each may see.
    customers: dict[str, CustomerView] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    requests: int = 0
    # What the answers were (ok, an error code, a userErrors code): shows the run reached the
    # business rules and did not stop at validation.
    outcomes: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remember_ids(self, body: str) -> None:
        with self._lock:
            for found in _ID.findall(body):
                if found not in self._seen and len(self.pool) < POOL_LIMIT:
                    self._seen.add(found)
                    self.pool.append(found)

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens[role]
        return {"Authorization": f"Bearer {token}"} if token else {}

    def send(self, role: str, body: Any, **kwargs: Any) -> tuple[httpx.Response, str]:
        """POSTs a JSON body to /graphql as `role`; returns the answer and the request text."""
        text = json.dumps(body)
        self.requests += 1
        response = self.http.post(
            f"{self.base_url}/graphql",
            content=text.encode(),
            headers={"Content-Type": "application/json", **self.headers(role)},
            **kwargs,
        )
        self.remember_ids(response.text)
        return response, text

    def check(self, role: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends an operation and fails on any property violation; returns the parsed answer."""
        return self.exchange(role, {"query": query, "variables": variables or {}})

    def exchange(self, role: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sends a request body and fails on any property violation; returns the parsed answer."""
        response, text = self.send(role, body)
        found = oracle.problems(response, text)
        try:
            result: dict[str, Any] = response.json()
        except ValueError:  # only reached in survey mode
            self.judge(role, text, found)
            return {}
        if role in self.customers and isinstance(result, dict):
            found += self.customers[role].problems(body.get("query"), result, text)
        self.judge(role, text, found)
        self.outcomes.update(oracle.outcomes(result))
        return result

    def judge(self, role: str, request: str, found: list[str]) -> None:
        """Fails with the request and every problem of its answer; in survey mode
        (HELPDESK_FUZZ_SURVEY=<file>) notes them in the file and goes on, to see every kind of
        defect in one run."""
        if found and SURVEY:
            with open(SURVEY, "a") as log:
                log.write(json.dumps({"role": role, "request": request[:4000], "problems": found}) + "\n")
            return
        assert not found, f"{role} sent {request[:3000]}\n-> " + "\n-> ".join(found)

    def mutate(self, role: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Runs a frontend_examples mutation that must succeed; returns its payload."""
        result = self.check(role, load_document(document), variables)
        assert not result.get("errors"), result
        (payload,) = result["data"].values()
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload  # type: ignore[no-any-return]

    def upload(
        self, role: str, document: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]]
    ) -> dict[str, Any]:
        """Runs a frontend_examples mutation with files (variable path -> (name, bytes, type)) as a
        GraphQL multipart request; it must succeed. Returns its payload."""
        operations = {"query": load_document(document), "variables": variables}
        response = self.http.post(
            f"{self.base_url}/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({str(i): [p] for i, p in enumerate(files)})},
            files={str(i): file for i, file in enumerate(files.values())},
            headers=self.headers(role),
        )
        self.requests += 1
        self.remember_ids(response.text)
        (payload,) = response.json()["data"].values()
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload  # type: ignore[no-any-return]


def _ticket(subject: str, description: str, customer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"subject": subject, "description": description, "channel": "EMAIL", "customer": customer, **extra}


def seed(world: World, group_ids: dict[str, str], *, short_sla: bool = True) -> None:
    """Fills the helpdesk through the API as the admin (and the agents, who go ONLINE). With
    `short_sla`, urgent tickets get an SLA of seconds, so the scheduler changes them mid-run."""
    m = world.mutate
    for role in ("agent", "agent2", "supervisor"):
        m(role, "console/SetPresence.graphql", {"presence": "ONLINE"})
    cal = m(
        "admin",
        "console/admin/CreateBusinessCalendar.graphql",
        {
            "input": {
                "name": "Berlin office",
                "timezone": "Europe/Berlin",
                "hours": [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)],
                "holidays": ["2026-12-25"],
            }
        },
    )["calendar"]
    if short_sla:
        m(
            "admin",
            "console/admin/CreateSlaPolicy.graphql",
            {
                "input": {
                    "name": "urgent answers",
                    "matchPriorities": ["URGENT", "HIGH"],
                    # Short enough that the scheduler warns and breaches during the run.
                    "firstResponseSeconds": 2,
                    "resolutionSeconds": 4,
                }
            },
        )
    m(
        "admin",
        "console/admin/CreateSlaPolicy.graphql",
        {"input": {"name": "office hours", "firstResponseSeconds": 3600, "calendarId": cal["id"]}},
    )
    m(
        "admin",
        "console/admin/CreateRoutingRule.graphql",
        {
            "input": {
                "name": "refunds",
                "matchKeywords": ["refund", "退款"],
                "routeToGroupId": group_ids["skills"],
                "requireSkills": ["billing"],
                "setCategory": "billing",
            }
        },
    )
    vip = m("admin", "console/CreateCustomer.graphql", {"input": {"name": "Vera VIP", "tier": "VIP", "language": "en"}})
    customer = {"email": "carl@example.com", "name": "Carl Customer"}
    created = [
        m("admin", "console/CreateTicket.graphql", {"input": _ticket(*args, **extra)})["ticket"]
        for args, extra in [
            (("Printer on fire", f"It smokes ({CARL_WORD}).", customer), {"priority": "URGENT"}),
            (("I want a refund", "Order 42 arrived broken.", customer), {}),
            (("我的订单没有到", f"请帮我查一下 ({VERA_WORD})", {"id": vip["customer"]["id"]}), {}),
            (("Password reset", "Cannot log in.", customer), {"priority": "LOW", "tags": ["login"]}),
            (("Question", "How do I export?", customer), {"customFields": {"plan": "pro"}}),
        ]
    ]
    first, refund, chinese, password, question = (t["id"] for t in created)
    world.upload(
        "admin",
        "console/AddComment.graphql",
        {"ticketId": first, "body": "Looking into it", "visibility": "PUBLIC", "attachments": [None]},
        {"variables.attachments.0": ("receipt.txt", b"paid", "text/plain")},
    )
    world.upload(
        "admin",
        "console/AddComment.graphql",
        {"ticketId": refund, "body": f"internal: {INTERNAL_WORD}", "visibility": "INTERNAL", "attachments": [None]},
        {"variables.attachments.0": (f"{INTERNAL_WORD}.txt", b"card looks stolen", "text/plain")},
    )
    m(
        "admin",
        "console/CreateSubTicket.graphql",
        {"parentId": first, "input": _ticket("Replace toner", "Part of the fire", customer)},
    )
    m("admin", "console/StartTicket.graphql", {"id": password})
    m("admin", "console/ResolveTicket.graphql", {"id": password, "resolution": "Reset the password"})
    m("admin", "console/StartTicket.graphql", {"id": question})
    m("admin", "console/ResolveTicket.graphql", {"id": question, "resolution": "Use the export menu"})
    m("admin", "console/CloseTicket.graphql", {"id": question})
    m("admin", "console/LinkTickets.graphql", {"id": refund, "otherId": chinese, "kind": "RELATED"})
    article = m(
        "admin",
        "console/knowledge/CreateArticle.graphql",
        {
            "input": {
                "title": "How to get a refund",
                "body": "Open a ticket with your order number.",
                "tags": ["refund"],
            }
        },
    )["article"]
    m("admin", "console/knowledge/PublishArticle.graphql", {"id": article["id"]})
    m(
        "admin",
        "console/knowledge/CreateArticle.graphql",
        {"input": {"title": "退款流程", "body": "请提供订单号。", "language": "zh"}},
    )
    m("admin", "console/admin/CreateApiToken.graphql", {"name": "partner portal"})
