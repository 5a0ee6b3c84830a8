#!/usr/bin/env python3
"""A partner integration (shop, CRM) for the helpdesk, written to be copied.

Needs Python 3.11+, `httpx` and `websockets` (`pip install httpx websockets`; both are in the
helpdesk's dev extra) and the .graphql documents beside this file. An admin creates the API
token for a dedicated agent of the integration (mutation createApiToken, see the README).

    export HELPDESK_URL=https://helpdesk.example.com HELPDESK_TOKEN=<api token>
    partner_client.py create --email li.lei@example.cn --name 李雷 --subject "Refund for SO-1001" \\
        --description "The parcel never arrived." --external-ref SO-1001 --idempotency-key order-SO-1001
    partner_client.py reply <ticket id> "Any news?" --idempotency-key <the email's Message-ID>
    partner_client.py follow <ticket id> --state so-1001.cursor

Every command prints JSON lines on stdout: `create` and `reply` the result, `follow` one line
per ticket event, oldest first. `follow` saves each event's cursor to the state file after
printing the event; killed and started again with the same file, it goes on after that event.
(A kill between printing an event and saving its cursor prints that one event again: handle
events idempotently, by their `id`.) Errors go to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

DOCUMENTS = Path(__file__).resolve().parent
RETRIES = 5  # attempts for a request whose answer got lost (timeout, connection reset)
# graphql-transport-ws closes that trying again will not fix: bad message, bad or revoked token.
REFUSED = {4400, 4401, 4403}


class HelpdeskError(Exception):
    """The helpdesk refused: GraphQL errors or userErrors. Not worth retrying."""


def document(name: str) -> str:
    return (DOCUMENTS / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- GraphQL over HTTP


def graphql(
    url: str, token: str, query: str, variables: dict[str, Any], operation: str | None = None
) -> dict[str, Any]:
    """Runs one operation and returns its data. Lost answers are retried: with an idempotency
    key in `variables`, a retry gets the first attempt's result instead of doing it twice."""
    body = {"query": query, "variables": variables, "operationName": operation}
    headers = {"Authorization": f"Bearer {token}"}
    for attempt in range(1, RETRIES + 1):
        try:
            response = httpx.post(f"{url}/graphql", json=body, headers=headers, timeout=30)
            break
        except httpx.TransportError:
            if attempt == RETRIES:
                raise
            print(f"helpdesk unreachable, retrying in {attempt}s", file=sys.stderr)
            time.sleep(attempt)
    if response.status_code not in (200, 400):
        raise HelpdeskError(f"HTTP {response.status_code}: {response.text[:200]}")
    result = response.json()
    if result.get("errors"):
        raise HelpdeskError("; ".join(e["message"] for e in result["errors"]))
    data: dict[str, Any] = result["data"]
    return data


def mutate(url: str, token: str, file: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A mutation document's single payload; its userErrors become a HelpdeskError."""
    (payload,) = graphql(url, token, document(file), variables).values()
    if payload["userErrors"]:
        raise HelpdeskError("; ".join(f"{'.'.join(e['field'] or [])}: {e['message']}" for e in payload["userErrors"]))
    return dict(payload)


def emit(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False), flush=True)


# ---------------------------------------------------------------- create and reply


def create(args: argparse.Namespace) -> None:
    ticket_input = {
        "subject": args.subject,
        "description": args.description,
        "channel": args.channel,
        "customer": {"email": args.email, "name": args.name},
        "externalRef": args.external_ref,
        "category": args.category,
    }
    # Use a key from your own records (order number, form submission id) so that a retry after
    # a crash, even from another process, finds the ticket instead of opening a second one.
    key = args.idempotency_key or str(uuid.uuid4())
    variables = {"input": {k: v for k, v in ticket_input.items() if v is not None}, "idempotencyKey": key}
    emit(mutate(args.url, args.token, "CreateTicket.graphql", variables)["ticket"])


def reply(args: argparse.Namespace) -> None:
    # Without a key of yours (an email's Message-ID), a random one still makes our own retries safe.
    key = args.idempotency_key or str(uuid.uuid4())
    variables = {"ticketId": args.ticket_id, "body": args.body, "idempotencyKey": key}
    payload = mutate(args.url, args.token, "AddCustomerReply.graphql", variables)
    emit({"comment": payload["comment"], "ticket": payload["ticket"]})


# ---------------------------------------------------------------- follow


def read_cursor(state: Path, ticket_id: str) -> str | None:
    if not state.exists():
        return None
    saved = json.loads(state.read_text(encoding="utf-8"))
    if saved["ticketId"] != ticket_id:
        raise HelpdeskError(f"{state} follows ticket {saved['ticketId']}, not {ticket_id}")
    return str(saved["cursor"])


def save_cursor(state: Path, ticket_id: str, cursor: str) -> None:
    # Write a new file and rename it over the old one: a crash leaves the old or the new cursor,
    # never half a file.
    partial = state.with_name(state.name + ".partial")
    partial.write_text(json.dumps({"ticketId": ticket_id, "cursor": cursor}), encoding="utf-8")
    os.replace(partial, state)


def handle(event: dict[str, Any], state: Path, ticket_id: str) -> str:
    """Your integration's work goes here; this one prints the event. Then the cursor is saved."""
    emit(event)
    save_cursor(state, ticket_id, event["cursor"])
    return str(event["cursor"])


async def follow_events(args: argparse.Namespace) -> None:
    state = Path(args.state or f"ticket-{args.ticket_id}.cursor")
    cursor = read_cursor(state, args.ticket_id)
    events = document("TicketEvents.graphql")
    if cursor is None:
        # No cursor yet: the ticket's first event starts the stream. The subscription replays
        # everything after a cursor, so it needs one to start from.
        data = graphql(args.url, args.token, events, {"ticketId": args.ticket_id}, "FirstTicketEvent")
        if data["ticket"] is None:
            raise HelpdeskError(f"no ticket {args.ticket_id} (or this token may not see it)")
        edges = data["ticket"]["history"]["edges"]
        if edges:
            cursor = handle(edges[0]["node"], state, args.ticket_id)
    ws_url = args.url.replace("http", "ws", 1) + "/graphql"
    delay = 1.0
    while True:
        try:
            async with websockets.connect(ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
                await ws.send(
                    json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {args.token}"}})
                )
                async for raw in ws:
                    message = json.loads(raw)
                    kind = message["type"]
                    if kind == "connection_ack":
                        # Each (re)subscription resumes after the last handled event: nothing missed, nothing twice.
                        variables = {"ticketId": args.ticket_id, "after": cursor}
                        payload = {"query": events, "variables": variables, "operationName": "FollowTicket"}
                        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
                        delay = 1.0
                    elif kind == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    elif kind == "next" and message["payload"].get("data"):
                        cursor = handle(message["payload"]["data"]["ticketEvents"], state, args.ticket_id)
                    elif kind in ("next", "error"):
                        errors = message["payload"] if kind == "error" else message["payload"]["errors"]
                        if all(e.get("extensions", {}).get("code") == "SUBSCRIBER_TOO_SLOW" for e in errors):
                            break  # we fell behind: subscribe again from the cursor
                        raise HelpdeskError("; ".join(e["message"] for e in errors))
                    elif kind == "complete":
                        return
        except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake) as exc:
            refusal = exc.rcvd if isinstance(exc, websockets.ConnectionClosed) else None
            if refusal is not None and refusal.code in REFUSED:
                raise HelpdeskError(f"the helpdesk closed the connection: {refusal.code} {refusal.reason}") from exc
            print(f"connection lost ({exc}); resuming in {delay:.0f}s", file=sys.stderr)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


# ---------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    main.add_argument("--url", default=os.environ.get("HELPDESK_URL", "http://127.0.0.1:8000"))
    main.add_argument("--token", default=os.environ.get("HELPDESK_TOKEN"), help="default: $HELPDESK_TOKEN")
    commands = main.add_subparsers(dest="command", required=True)

    opened = commands.add_parser("create", help="open a ticket for a customer")
    opened.add_argument("--email", required=True)
    opened.add_argument("--name")
    opened.add_argument("--subject", required=True)
    opened.add_argument("--description", required=True)
    opened.add_argument("--channel", default="API")
    opened.add_argument("--category")
    opened.add_argument("--external-ref", help="your order or case number")
    opened.add_argument("--idempotency-key", help="same key, same ticket (default: a new random key)")
    opened.set_defaults(run=create)

    answered = commands.add_parser("reply", help="relay a customer's message to a ticket")
    answered.add_argument("ticket_id")
    answered.add_argument("body")
    answered.add_argument("--idempotency-key", help="e.g. the email's Message-ID: relayed once")
    answered.set_defaults(run=reply)

    followed = commands.add_parser("follow", help="print a ticket's events as they happen, resumable")
    followed.add_argument("ticket_id")
    followed.add_argument("--state", help="cursor file (default: ticket-<id>.cursor)")
    followed.set_defaults(run=lambda args: asyncio.run(follow_events(args)))
    return main


def main() -> int:
    args = parser().parse_args()
    if not args.token:
        print("no API token: pass --token or set HELPDESK_TOKEN", file=sys.stderr)
        return 1
    args.url = args.url.rstrip("/")
    try:
        args.run(args)
    except HelpdeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
