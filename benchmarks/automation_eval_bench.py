"""Evaluating automations per event, the pure part (no database): which trigger the event is,
the loop guard, and the conditions of 100 enabled automations against the ticket. Each automation
has three conditions of different kinds (an IN on priority, a CONTAINS on the subject, a custom
field comparison); half of the tickets match. Prints JSON with the CPU time per event.

    .venv/bin/python benchmarks/automation_eval_bench.py --automations 100 --events 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain import validation as v
from app.domain.automation_conditions import ConditionInput, TicketFacts, all_hold, clean_conditions
from app.domain.automations import cause_of, may_fire, trigger_of
from app.domain.enums import ConditionOperator as Op
from app.domain.records import TicketEventRecord, TicketRecord


def _ticket(n: int) -> TicketRecord:
    now = datetime.now(UTC)
    return TicketRecord(
        n, 1000 + n, f"订单 SO-{n} 退款 refund" if n % 2 else f"order {n} question", "text", "NEW",
        "URGENT" if n % 2 else "LOW", "EMAIL", "refund", ["vip"], {"orderTotal": n % 500}, None, "zh",
        "NEUTRAL", 0, 1, None, 1, None, None, [], None, 1, now, now, None, None, None, None,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--automations", type=int, default=100)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    rules = []
    for i in range(args.automations):
        problems = v.Problems()
        conditions = clean_conditions(
            problems,
            [
                ConditionInput("priority", Op.IN, ["URGENT", "HIGH"]),
                ConditionInput("subject", Op.CONTAINS, "refund"),
                ConditionInput("customFields.orderTotal", Op.GREATER_THAN, i),
            ],
            ["conditions"],
        )
        assert not problems.items
        rules.append((i + 1, conditions))
    tickets = [_ticket(n) for n in range(100)]
    events = [
        TicketEventRecord(n, n, n % 100, 1, "UPDATED", 1, None, {"version": 2}, datetime.now(UTC))
        for n in range(args.events)
    ]
    fired = 0
    started = time.process_time()
    for event in events:
        trigger = trigger_of(event)
        cause = cause_of(event.data)
        facts = TicketFacts(tickets[event.ticket_id], "STANDARD")
        if trigger is None:
            continue
        for automation_id, conditions in rules:
            if may_fire(automation_id, cause) and all_hold(conditions, facts):
                fired += 1
    cpu = time.process_time() - started
    print(
        json.dumps(
            {
                "automations": args.automations,
                "events": args.events,
                "fired": fired,
                "cpu_ms_per_event": round(cpu * 1000 / args.events, 4),
                "target_ms_per_event": 5,
            }
        )
    )


if __name__ == "__main__":
    main()
